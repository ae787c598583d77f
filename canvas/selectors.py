"""Reads for Canvases: the list, the flow as a tree, launch problems, and the audiences the
Audience Sync editor offers. Every read is scoped to an app group by its caller's argument."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from appgroups.models import AppGroup
from canvas.audience import audience_filter_q
from canvas.models import (
    AudienceSyncSettings,
    Branch,
    Canvas,
    CanvasState,
    EntryType,
    MatchField,
    Step,
    StepType,
)
from partners.models import (
    AdAccountStatus,
    AudienceStatus,
    ConnectionStatus,
    TikTokAdAccount,
    TikTokAudience,
    TikTokConnection,
)
from partners.selectors import INVALID_TOKEN_ADVICE, tiktok_connection_get
from partners.services import tiktok_auth_errors_recorded, tiktok_client
from partners.tiktok.client import (
    MAX_AUDIENCES_PER_ADVERTISER,
    Audience,
    TikTokAuthError,
    TikTokError,
)
from users.models import Profile

# How many matches the type-ahead shows per kind; typing more narrows the list.
MAX_AUDIENCE_OPTIONS = 25

# Canvas list filters, in the order the tabs show them. "" is every Canvas but archived ones,
# as Braze hides archived Canvases unless asked.
STATE_FILTERS = [("", "All")] + [(s.value, s.label) for s in CanvasState]


def canvas_list(*, app_group: AppGroup, state: str = "") -> QuerySet[Canvas]:
    canvases = Canvas.objects.filter(app_group=app_group)
    if state in CanvasState.values:
        return canvases.filter(state=state).order_by("-updated_at", "-id")
    return canvases.exclude(state=CanvasState.ARCHIVED).order_by("-updated_at", "-id")


def canvas_get(*, app_group: AppGroup, canvas_id: int) -> Canvas:
    """Raises Canvas.DoesNotExist for a Canvas of another app group (views answer 404)."""
    return Canvas.objects.get(pk=canvas_id, app_group=app_group)


def step_get(*, canvas: Canvas, step_id: int) -> Step:
    """A live step of the Canvas; Step.DoesNotExist otherwise (deleted or another Canvas)."""
    return Step.objects.select_related("audience_sync__ad_account", "audience_sync__audience").get(
        pk=step_id, canvas=canvas, deleted_at__isnull=True
    )


def step_list(*, canvas: Canvas) -> list[Step]:
    return list(
        Step.objects.filter(canvas=canvas, deleted_at__isnull=True)
        .select_related("audience_sync__ad_account", "audience_sync__audience")
        .order_by("id")
    )


def audience_sync_settings_of(step: Step) -> AudienceSyncSettings | None:
    try:
        return step.audience_sync
    except AudienceSyncSettings.DoesNotExist:
        return None


def canvas_uses_tiktok(*, canvas: Canvas) -> bool:
    return Step.objects.filter(
        canvas=canvas, deleted_at__isnull=True, step_type=StepType.AUDIENCE_SYNC
    ).exists()


# The flow


@dataclass
class FlowNode:
    """A step with the steps hanging from it; `metrics` and `problems` are for its card."""

    step: Step
    next: FlowNode | None = None
    yes: FlowNode | None = None
    no: FlowNode | None = None
    metrics: Any = None
    problems: list[str] = field(default_factory=list)

    @property
    def is_split(self) -> bool:
        return self.step.step_type == StepType.DECISION_SPLIT

    @property
    def sync(self) -> AudienceSyncSettings | None:
        return audience_sync_settings_of(self.step)

    @property
    def label(self) -> str:
        return _step_label(self.step)

    @property
    def is_configured(self) -> bool:
        sync = self.sync
        return bool(sync and (sync.ad_account_id or sync.audience_id or sync.match_fields))

    @property
    def chain(self) -> list[FlowNode]:
        """This step and the steps after it on `next`, through the first Decision Split."""
        nodes = []
        node: FlowNode | None = self
        while node is not None:
            nodes.append(node)
            node = node.next
        return nodes


@dataclass
class Flow:
    canvas: Canvas
    root: FlowNode | None
    # Live steps that hang from nothing reachable (should not happen; shown, never lost).
    detached: list[FlowNode]
    step_count: int


def canvas_flow(
    *,
    canvas: Canvas,
    step_metrics: dict | None = None,
    problems: list[LaunchProblem] | None = None,
) -> Flow:
    """The Canvas's live steps as a tree, ready for templates/canvas/_flow.html.

    `step_metrics` maps step id → an object with entered, proceeded, exited, synced,
    not_synced, pending, errored (and yes/no, sends where they apply); `problems` are launch
    problems to show next to their steps.
    """
    steps = step_list(canvas=canvas)
    nodes = {s.pk: FlowNode(step=s) for s in steps}
    for problem in problems or []:
        if problem.step_id in nodes:
            nodes[problem.step_id].problems.append(problem.message)
    if step_metrics:
        for step_id, node in nodes.items():
            node.metrics = step_metrics.get(step_id)
    root = None
    for node in nodes.values():
        step = node.step
        parent = nodes.get(step.parent_id) if step.parent_id else None
        if step.parent_id is None:
            root = node
        elif parent is not None:
            slot = step.branch if parent.is_split else Branch.NEXT
            if getattr(parent, slot) is None:
                setattr(parent, slot, node)
    reachable: set[int] = set()
    stack = [root] if root else []
    while stack:
        node = stack.pop()
        reachable.add(node.step.pk)
        stack.extend(n for n in (node.next, node.yes, node.no) if n is not None)
    detached = [n for pk, n in nodes.items() if pk not in reachable]
    return Flow(canvas=canvas, root=root, detached=detached, step_count=len(steps))


# Launch problems


@dataclass(frozen=True)
class LaunchProblem:
    """A reason the Canvas cannot launch (or resume); `step_id` None means the whole Canvas."""

    message: str
    step_id: int | None = None
    step_label: str = ""


def _step_label(step: Step) -> str:
    return step.name or step.get_step_type_display()


def _problem(message: str, step: Step | None = None) -> LaunchProblem:
    if step is None:
        return LaunchProblem(message=message)
    return LaunchProblem(message=message, step_id=step.pk, step_label=_step_label(step))


def tiktok_connection_problem(connection: TikTokConnection | None) -> str | None:
    """Why the app group's TikTok connection cannot be used, in Braze's words; None if it can."""
    if (
        connection is None
        or connection.status == ConnectionStatus.DISCONNECTED
        or not connection.access_token_ciphertext
    ):
        return (
            "TikTok is not connected. An Admin must connect TikTok on the Technology Partners "
            "page (Partner Integrations > Technology Partners > TikTok)."
        )
    if connection.status == ConnectionStatus.INVALID:
        return (
            f"Invalid Token: TikTok rejected the connection's access token "
            f"(code {connection.invalid_code}: {connection.invalid_message}). "
            f"{INVALID_TOKEN_ADVICE}"
        )
    return None


def ad_account_problem(ad_account: TikTokAdAccount) -> str | None:
    if ad_account.status == AdAccountStatus.DISCONNECTED:
        return (
            f"The ad account {ad_account.name or ad_account.advertiser_id} is no longer "
            "connected: choose another, or reconnect it on the TikTok page."
        )
    if ad_account.status == AdAccountStatus.NO_ACCESS:
        return (
            f"Ad Account Access: TikTok no longer grants access to "
            f"{ad_account.name or ad_account.advertiser_id}. Ask its admins for access, "
            "then reconnect TikTok."
        )
    return None


def canvas_draft_audience_ids(*, canvas: Canvas) -> set[int]:
    """Audiences that a live step of this Canvas creates (its drafts, created on TikTok or not)."""
    return set(
        AudienceSyncSettings.objects.filter(
            step__canvas=canvas,
            step__deleted_at__isnull=True,
            creates_audience=True,
            audience__isnull=False,
        ).values_list("audience_id", flat=True)
    )


def canvas_pending_drafts(*, canvas: Canvas) -> QuerySet[TikTokAudience]:
    """This Canvas's draft audiences that do not exist on TikTok yet (created at launch)."""
    return (
        TikTokAudience.objects.filter(pk__in=canvas_draft_audience_ids(canvas=canvas))
        .exclude(status=AudienceStatus.CREATED)
        .select_related("ad_account__connection")
        .order_by("pk")
    )


def audience_sync_settings_problems(
    *, step: Step, sync: AudienceSyncSettings | None, canvas_drafts: set[int]
) -> list[str]:
    """What is missing or wrong on one Audience Sync step, without asking TikTok.

    The journey engine may use this too: a live step with problems cannot sync ("Invalid
    Settings").
    """
    problems = []
    if sync is None or sync.ad_account_id is None:
        problems.append("No ad account: choose the TikTok ad account to sync to.")
    else:
        account_problem = ad_account_problem(sync.ad_account)
        if account_problem:
            problems.append(account_problem)
    audience = sync.audience if sync else None
    if audience is None:
        problems.append(
            "No audience name: type the name of a new audience and click Create Audience, "
            "or choose an existing audience."
        )
    else:
        if audience.status != AudienceStatus.CREATED and audience.pk not in canvas_drafts:
            verb = "removes users from" if sync.action == "remove" else "adds users to"
            problems.append(
                f"This step {verb} “{audience.name}”, a draft audience that no step of this "
                "Canvas creates any more: choose an existing audience or a draft of this Canvas."
            )
        if sync.ad_account_id and audience.ad_account_id != sync.ad_account_id:
            problems.append(
                f"The audience “{audience.name}” belongs to another ad account: choose it again."
            )
    if sync is None or not sync.match_fields:
        labels = ", ".join(str(f.label) for f in MatchField)
        problems.append(f"No field to match: tick at least one of {labels}.")
    return problems


def _tiktok_audiences_by_account(
    *, connection: TikTokConnection, ad_accounts: list[TikTokAdAccount]
) -> dict[int, list[Audience]]:
    client = tiktok_client()
    token = connection.access_token
    result = {}
    for account in ad_accounts:
        with tiktok_auth_errors_recorded(connection, account.advertiser_id):
            result[account.pk] = client.list_audiences(
                access_token=token, advertiser_id=account.advertiser_id
            )
    return result


def canvas_launch_problems(*, canvas: Canvas, check_tiktok: bool = True) -> list[LaunchProblem]:
    """Every reason the Canvas cannot launch (or resume) now; empty when it can.

    Without `check_tiktok` only what this database knows is checked (cheap, for the builder).
    With it, TikTok is asked, per ad account used, for its audiences: the 400-audience cap
    and whether the existing audiences chosen still exist.
    """
    problems: list[LaunchProblem] = []
    steps = step_list(canvas=canvas)
    if not steps:
        problems.append(_problem("The Canvas has no step: add one in Build Canvas."))
    if (
        canvas.state == CanvasState.DRAFT
        and canvas.entry_type == EntryType.SCHEDULED
        and canvas.schedule_at is not None
        and canvas.schedule_at <= timezone.now()
    ):
        problems.append(
            _problem(
                "The scheduled entry time has passed: choose a later time, or enter users at "
                "launch, in Entry Schedule."
            )
        )
    for step in steps:
        if step.step_type == StepType.DECISION_SPLIT and not (step.config or {}).get("filters"):
            problems.append(
                _problem("Decision Split without a filter: add at least one filter.", step)
            )

    sync_steps = [s for s in steps if s.step_type == StepType.AUDIENCE_SYNC]
    if not sync_steps:
        return problems
    connection = tiktok_connection_get(app_group=canvas.app_group)
    connection_problem = tiktok_connection_problem(connection)
    if connection_problem:
        problems.append(_problem(connection_problem))
    drafts = canvas_draft_audience_ids(canvas=canvas)
    for step in sync_steps:
        sync = audience_sync_settings_of(step)
        for message in audience_sync_settings_problems(step=step, sync=sync, canvas_drafts=drafts):
            problems.append(_problem(message, step))
    if check_tiktok and connection_problem is None:
        problems.extend(_tiktok_problems(canvas=canvas, connection=connection, steps=sync_steps))
    return problems


def _tiktok_problems(
    *, canvas: Canvas, connection: TikTokConnection, steps: list[Step]
) -> list[LaunchProblem]:
    settings_by_step = {s.pk: audience_sync_settings_of(s) for s in steps}
    accounts = {
        sync.ad_account_id: sync.ad_account
        for sync in settings_by_step.values()
        if sync is not None
        and sync.ad_account_id is not None
        and sync.ad_account.status == AdAccountStatus.CONNECTED
    }
    if not accounts:
        return []
    try:
        on_tiktok = _tiktok_audiences_by_account(
            connection=connection, ad_accounts=list(accounts.values())
        )
    except TikTokAuthError:
        connection.refresh_from_db()
        message = tiktok_connection_problem(connection) or (
            f"Invalid Token: TikTok refused the connection's access token. {INVALID_TOKEN_ADVICE}"
        )
        for account in accounts.values():
            account.refresh_from_db()
            message = ad_account_problem(account) or message
        return [_problem(message)]
    except TikTokError as exc:
        return [
            _problem(
                f"TikTok could not be reached to check the audiences ({exc}). "
                "Try again in a moment."
            )
        ]

    problems = []
    pending = list(canvas_pending_drafts(canvas=canvas))
    for account_id, audiences in on_tiktok.items():
        account = accounts[account_id]
        creating = [a for a in pending if a.ad_account_id == account_id]
        if creating and len(audiences) + len(creating) > MAX_AUDIENCES_PER_ADVERTISER:
            message = (
                f"Audience limit: the ad account {account.name or account.advertiser_id} has "
                f"{len(audiences)} audiences on TikTok and launching would create "
                f"{len(creating)} more, past TikTok's limit of {MAX_AUDIENCES_PER_ADVERTISER} "
                "per ad account. Delete audiences on TikTok or use an existing audience."
            )
            creating_ids = {a.pk for a in creating}
            for step in steps:
                sync = settings_by_step[step.pk]
                if sync and sync.creates_audience and sync.audience_id in creating_ids:
                    problems.append(_problem(message, step))
    existing_ids = {
        account_id: {a.audience_id for a in audiences}
        for account_id, audiences in on_tiktok.items()
    }
    for step in steps:
        sync = settings_by_step[step.pk]
        audience = sync.audience if sync else None
        if (
            audience is None
            or audience.status != AudienceStatus.CREATED
            or audience.ad_account_id not in existing_ids
        ):
            continue
        if audience.tiktok_audience_id not in existing_ids[audience.ad_account_id]:
            problems.append(
                _problem(
                    f"Audience Does Not Exist: “{audience.name}” is no longer on TikTok "
                    "(deleted there, or access to it was removed). Choose or create another "
                    "audience.",
                    step,
                )
            )
    return problems


# The Audience Sync editor's type-ahead


@dataclass(frozen=True)
class AudienceOption:
    value: str  # "tiktok:<TikTok audience id>", "local:<TikTokAudience pk>" or "new"
    name: str
    detail: str


@dataclass
class AudienceOptions:
    query: str
    existing: list[AudienceOption] = field(default_factory=list)
    drafts: list[AudienceOption] = field(default_factory=list)
    # The typed name, offered as a new audience when it matches no audience exactly.
    new_name: str = ""
    error: str = ""
    searched: bool = False
    # The new name is the saved draft of the step being edited.
    is_own_draft: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.existing or self.drafts or self.new_name)


def _matches(name: str, query: str) -> bool:
    return not query or query.casefold() in name.casefold()


def canvas_audience_choices(*, canvas: Canvas, ad_account: TikTokAdAccount) -> QuerySet:
    """This Canvas's own audiences on the ad account (drafts, and drafts since created), which
    any step of the Canvas may add to or remove from."""
    return TikTokAudience.objects.filter(
        pk__in=canvas_draft_audience_ids(canvas=canvas), ad_account=ad_account
    ).order_by("name", "pk")


def audience_options(
    *,
    canvas: Canvas,
    ad_account: TikTokAdAccount | None,
    query: str,
    own_draft: TikTokAudience | None = None,
) -> AudienceOptions:
    """What "Choose a New or Existing Audience" offers for the typed text: the ad account's
    audiences on TikTok (every page), this Canvas's drafts, and the text as a new audience
    when no audience has exactly that name.

    `own_draft` is the not-yet-created draft of the step being edited: it is that step's new
    audience, so its name is offered as "new" (to change its fields) rather than as a draft.
    """
    query = " ".join((query or "").split())
    options = AudienceOptions(query=query)
    if ad_account is None:
        return options
    options.searched = True
    ours = [
        a
        for a in canvas_audience_choices(canvas=canvas, ad_account=ad_account)
        if own_draft is None or a.pk != own_draft.pk
    ]
    our_tiktok_ids = {a.tiktok_audience_id for a in ours if a.tiktok_audience_id}
    names = {a.name.casefold() for a in ours}
    for audience in ours:
        if _matches(audience.name, query):
            status = (
                "Draft in this Canvas"
                if audience.status != AudienceStatus.CREATED
                else ("Created by this Canvas")
            )
            options.drafts.append(AudienceOption(f"local:{audience.pk}", audience.name, status))
    connection = ad_account.connection
    try:
        with tiktok_auth_errors_recorded(connection, ad_account.advertiser_id):
            on_tiktok = tiktok_client().list_audiences(
                access_token=connection.access_token, advertiser_id=ad_account.advertiser_id
            )
    except TikTokAuthError as exc:
        options.error = f"TikTok refused the connection's token ({exc.message}). " + (
            INVALID_TOKEN_ADVICE
        )
        on_tiktok = []
    except TikTokError as exc:
        options.error = f"TikTok could not be reached to list the audiences ({exc})."
        on_tiktok = []
    for audience in on_tiktok:
        names.add(audience.name.casefold())
        if audience.audience_id in our_tiktok_ids or not _matches(audience.name, query):
            continue
        detail = audience.audience_type or "TikTok audience"
        if audience.cover_num:
            detail += f" · about {audience.cover_num:,} users"
        options.existing.append(
            AudienceOption(f"tiktok:{audience.audience_id}", audience.name, detail)
        )
    options.existing.sort(key=lambda o: o.name.casefold())
    options.existing = options.existing[:MAX_AUDIENCE_OPTIONS]
    options.drafts = options.drafts[:MAX_AUDIENCE_OPTIONS]
    if query and query.casefold() not in names:
        options.new_name = query
        options.is_own_draft = own_draft is not None and own_draft.name == query
    return options


def tiktok_audiences_of(*, ad_account: TikTokAdAccount) -> list[Audience]:
    """The ad account's audiences on TikTok (raises TikTokError; auth errors are recorded)."""
    connection = ad_account.connection
    with tiktok_auth_errors_recorded(connection, ad_account.advertiser_id):
        return tiktok_client().list_audiences(
            access_token=connection.access_token, advertiser_id=ad_account.advertiser_id
        )


def usable_ad_accounts(*, app_group: AppGroup) -> QuerySet[TikTokAdAccount]:
    """Ad accounts a step may choose: the ones connected on the partner page."""
    return TikTokAdAccount.objects.filter(
        app_group=app_group, status=AdAccountStatus.CONNECTED
    ).select_related("connection")


def canvas_filter_population(*, canvas: Canvas) -> int:
    """How many profiles of the app group match the Target Audience now (one COUNT query)."""
    return (
        Profile.objects.filter(app_group=canvas.app_group)
        .filter(audience_filter_q(canvas.audience_filters))
        .count()
    )


def canvas_state_counts(*, app_group: AppGroup) -> dict[str, int]:
    rows = Canvas.objects.filter(app_group=app_group).values("state").annotate(n=Count("id"))
    counts = {row["state"]: row["n"] for row in rows}
    counts[""] = sum(n for state, n in counts.items() if state != CanvasState.ARCHIVED)
    return counts


def parse_tiktok_time(value: str) -> datetime | None:
    """TikTok's "YYYY-MM-DD HH:MM:SS" (UTC), or None when it is not in that shape."""
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None
