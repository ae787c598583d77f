"""Reads for Canvases: the list, the flow as a tree, launch problems, and the audiences the
Audience Sync editor offers. Every read is scoped to an app group by its caller's argument."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

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
    TikTokAdAccount,
    TikTokAudience,
)
from partners.selectors import tiktok_connection_get
from partners.tiktok.health import ad_account_health, connection_health
from users.models import Profile

# Canvas list filters, in the order the tabs show them. "" is every Canvas but archived ones,
# as Braze hides archived Canvases unless asked.
STATE_FILTERS = [("", pgettext_lazy("Canvas states", "All"))] + [
    (s.value, s.label) for s in CanvasState
]


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


def launch_problem(message: str, step: Step | None = None) -> LaunchProblem:
    if step is None:
        return LaunchProblem(message=message)
    return LaunchProblem(message=message, step_id=step.pk, step_label=_step_label(step))


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
        problems.append(_("No ad account: choose the TikTok ad account to sync to."))
    else:
        account_health = ad_account_health(sync.ad_account)
        if not account_health.ok:
            problems.append(account_health.sentence())
    audience = sync.audience if sync else None
    if audience is None:
        problems.append(
            _(
                "No audience name: type the name of a new audience and click Create Audience, "
                "or choose an existing audience."
            )
        )
    else:
        if audience.status != AudienceStatus.CREATED and audience.pk not in canvas_drafts:
            if sync.action == "remove":
                message = _(
                    "This step removes users from “%(name)s”, a draft audience that no step of "
                    "this Canvas creates any more: choose an existing audience or a draft of "
                    "this Canvas."
                )
            else:
                message = _(
                    "This step adds users to “%(name)s”, a draft audience that no step of this "
                    "Canvas creates any more: choose an existing audience or a draft of this "
                    "Canvas."
                )
            problems.append(message % {"name": audience.name})
        if sync.ad_account_id and audience.ad_account_id != sync.ad_account_id:
            problems.append(
                _("The audience “%(name)s” belongs to another ad account: choose it again.")
                % {"name": audience.name}
            )
    if sync is None or not sync.match_fields:
        labels = ", ".join(str(f.label) for f in MatchField)
        problems.append(
            _("No field to match: tick at least one of %(fields)s.") % {"fields": labels}
        )
    return problems


def canvas_setup_problems(*, canvas: Canvas) -> list[LaunchProblem]:
    """Every reason the Canvas cannot launch (or resume) that this database knows; TikTok is
    not asked (canvas.launch adds what only TikTok can tell)."""
    problems: list[LaunchProblem] = []
    steps = step_list(canvas=canvas)
    if not steps:
        problems.append(launch_problem(_("The Canvas has no step: add one in Build Canvas.")))
    if (
        canvas.state == CanvasState.DRAFT
        and canvas.entry_type == EntryType.SCHEDULED
        and canvas.schedule_at is not None
        and canvas.schedule_at <= timezone.now()
    ):
        problems.append(
            launch_problem(
                _(
                    "The scheduled entry time has passed: choose a later time, or enter users at "
                    "launch, in Entry Schedule."
                )
            )
        )
    for step in steps:
        if step.step_type == StepType.DECISION_SPLIT and not (step.config or {}).get("filters"):
            problems.append(
                launch_problem(_("Decision Split without a filter: add at least one filter."), step)
            )

    sync_steps = [s for s in steps if s.step_type == StepType.AUDIENCE_SYNC]
    if not sync_steps:
        return problems
    health = connection_health(tiktok_connection_get(app_group=canvas.app_group))
    if not health.ok:
        problems.append(launch_problem(health.sentence()))
    drafts = canvas_draft_audience_ids(canvas=canvas)
    for step in sync_steps:
        sync = audience_sync_settings_of(step)
        for message in audience_sync_settings_problems(step=step, sync=sync, canvas_drafts=drafts):
            problems.append(launch_problem(message, step))
    return problems


# The Audience Sync editor's type-ahead


def canvas_audience_choices(*, canvas: Canvas, ad_account: TikTokAdAccount) -> QuerySet:
    """This Canvas's own audiences on the ad account (drafts, and drafts since created), which
    any step of the Canvas may add to or remove from."""
    return TikTokAudience.objects.filter(
        pk__in=canvas_draft_audience_ids(canvas=canvas), ad_account=ad_account
    ).order_by("name", "pk")


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
