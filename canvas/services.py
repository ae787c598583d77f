"""Writes for Canvases: basics, entry, target audience, the step tree, Audience Sync settings
and draft audiences. Launching and the other state changes are in canvas/launch.py.

Every service takes the acting membership and checks MANAGE_CANVASES itself, and refuses
objects of another app group. TikTok is reached only through partners.tiktok.audiences.

Editing after launch (docs/ARCHITECTURE.md B5): an Active or Stopped Canvas keeps every edit
this builder offers (basics, entry schedule, target audience, adding, inserting, editing and
deleting steps). Two things follow from users possibly reaching a step at once:
an Audience Sync step of a launched Canvas is saved only complete, and a new audience made
in its editor is created on TikTok right away (the Canvas is past its launch). Archived
Canvases are read only.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from appgroups.models import Membership, Permission
from appgroups.services import membership_require
from canvas.audience import audience_filter_clean, audience_filters_clean
from canvas.models import (
    AudienceSyncSettings,
    Branch,
    Canvas,
    CanvasState,
    EntryType,
    MatchField,
    Step,
    StepType,
    SyncAction,
)
from canvas.selectors import (
    audience_sync_settings_of,
    canvas_audience_choices,
    canvas_pending_drafts,
)
from core.ids import parse_id
from partners.models import AudienceStatus, TikTokAdAccount, TikTokAudience
from partners.selectors import tiktok_connection_get
from partners.tiktok.audiences import (
    AudienceCreateError,
    audience_create_on_tiktok,
    existing_audience_register,
    tiktok_audiences_of,
)
from partners.tiktok.client import (
    MAX_AUDIENCE_NAME_LENGTH,
    MAX_AUDIENCES_PER_ADVERTISER,
    TikTokError,
)
from partners.tiktok.health import ad_account_health, connection_health, tiktok_error_sentence

logger = logging.getLogger(__name__)

_TIKTOK_ID = re.compile(r"[0-9]{1,32}")

MAX_NAME_LENGTH = Canvas._meta.get_field("name").max_length
MAX_TAGS = 20
MAX_TAG_LENGTH = 50
# Braze allows up to 200 steps per Canvas (docs/ARCHITECTURE.md B4).
MAX_STEPS = 200
# Delays: Braze's extended delays go up to two years.
MAX_DELAY_SECONDS = 730 * 24 * 60 * 60
DEFAULT_DELAY_SECONDS = 24 * 60 * 60
MESSAGE_CHANNELS = [
    ("email", gettext_lazy("Email")),
    ("push", gettext_lazy("Push")),
    ("sms", gettext_lazy("SMS")),
    ("webhook", gettext_lazy("Webhook")),
    ("in_app", gettext_lazy("In-App Message")),
]
MAX_MESSAGE_LENGTH = 5000


def canvas_manage_require(actor: Membership, canvas: Canvas) -> None:
    """The actor may build, launch and stop Canvases, and this one is of their app group."""
    membership_require(actor, Permission.MANAGE_CANVASES)
    if canvas.app_group_id != actor.app_group_id:
        raise PermissionDenied(_("This Canvas belongs to another app group."))


def _require_editable(actor: Membership, canvas: Canvas) -> None:
    canvas_manage_require(actor, canvas)
    if canvas.state == CanvasState.ARCHIVED:
        raise ValidationError(_("Archived Canvases cannot be changed."))


def _touch(canvas: Canvas) -> None:
    # "Last edited" on the Canvas list; update() so counters bumped by journeys/ are not
    # overwritten with a stale value.
    now = timezone.now()
    Canvas.objects.filter(pk=canvas.pk).update(updated_at=now)
    canvas.updated_at = now


def _name_step(step: Step, name: str) -> None:
    """The name typed in an editor, whitespace collapsed, cut to the column's 200 characters."""
    step.name = " ".join(name.split())[:200]
    step.save(update_fields=["name", "updated_at"])


def _is_launched(canvas: Canvas) -> bool:
    return canvas.state in (CanvasState.ACTIVE, CanvasState.STOPPED)


# Basics, entry, target audience


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    # Zero-width and other format characters alone would make an invisible name.
    if not any(unicodedata.category(c)[0] not in "CZ" for c in name):
        name = ""
    if not name:
        raise ValidationError({"name": _("A Canvas needs a name.")})
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(
            {"name": _("Canvas names have at most %(max)s characters.") % {"max": MAX_NAME_LENGTH}}
        )
    return name


def clean_tags(tags: list[str] | str) -> list[str]:
    if isinstance(tags, str):
        tags = tags.split(",")
    cleaned = list(dict.fromkeys(" ".join(t.split()) for t in tags if t and t.strip()))
    if len(cleaned) > MAX_TAGS:
        raise ValidationError({"tags": _("Use at most %(max)s tags.") % {"max": MAX_TAGS}})
    for tag in cleaned:
        if len(tag) > MAX_TAG_LENGTH:
            raise ValidationError(
                {"tags": _("Tags have at most %(max)s characters.") % {"max": MAX_TAG_LENGTH}}
            )
    return cleaned


def canvas_create(
    *, actor: Membership, name: str, description: str = "", tags: list[str] | str = ()
) -> Canvas:
    membership_require(actor, Permission.MANAGE_CANVASES)
    return Canvas.objects.create(
        app_group=actor.app_group,
        name=_clean_name(name),
        description=(description or "").strip(),
        tags=clean_tags(list(tags) if not isinstance(tags, str) else tags),
        created_by=actor.user,
    )


def canvas_basics_update(
    *, actor: Membership, canvas: Canvas, name: str, description: str, tags: list[str] | str
) -> Canvas:
    _require_editable(actor, canvas)
    canvas.name = _clean_name(name)
    canvas.description = (description or "").strip()
    canvas.tags = clean_tags(tags)
    canvas.save(update_fields=["name", "description", "tags", "updated_at"])
    return canvas


def canvas_entry_update(
    *, actor: Membership, canvas: Canvas, entry_type: str, schedule_at: datetime | None
) -> Canvas:
    """API-Triggered, or Scheduled at launch (schedule_at None) or at a set time."""
    _require_editable(actor, canvas)
    if entry_type not in EntryType.values:
        raise ValidationError({"entry_type": _("Choose how users enter the Canvas.")})
    if entry_type == EntryType.API_TRIGGERED:
        schedule_at = None
    elif schedule_at is not None and schedule_at <= timezone.now():
        if canvas.state == CanvasState.DRAFT or schedule_at != canvas.schedule_at:
            raise ValidationError({"schedule_at": _("Choose a time in the future.")})
    canvas.entry_type = entry_type
    canvas.schedule_at = schedule_at
    canvas.save(update_fields=["entry_type", "schedule_at", "updated_at"])
    return canvas


def canvas_audience_update(
    *, actor: Membership, canvas: Canvas, filters: list[dict], allow_reentry: bool
) -> Canvas:
    _require_editable(actor, canvas)
    canvas.audience_filters = audience_filters_clean(filters)
    canvas.allow_reentry = bool(allow_reentry)
    canvas.save(update_fields=["audience_filters", "allow_reentry", "updated_at"])
    return canvas


def filters_with(filters: list[dict], new_filter: dict) -> list[dict]:
    """The list with one more filter (validated; ValidationError keyed by form field)."""
    return audience_filters_clean([*(filters or []), audience_filter_clean(new_filter)])


def filters_without(filters: list[dict], index: int) -> list[dict]:
    filters = list(filters or [])
    if 0 <= index < len(filters):
        del filters[index]
    return filters


# The step tree
#
# Each live step hangs from its parent on one branch (`next`, or `yes` / `no` under a
# Decision Split), at most one child per branch (a partial unique constraint). Inserting and
# deleting move whole subtrees by changing one parent pointer. The database checks the
# constraint per statement, so a step being placed is first written hidden (deleted_at set)
# and revealed once the slot it takes is free.


def _default_config(step_type: str) -> dict:
    if step_type == StepType.DELAY:
        return {"seconds": DEFAULT_DELAY_SECONDS}
    if step_type == StepType.DECISION_SPLIT:
        return {"filters": []}
    if step_type == StepType.MESSAGE:
        return {"channel": "email", "body": ""}
    return {}


def _first_branch(step_type: str) -> str:
    # Steps below an inserted Decision Split continue on its Yes branch.
    return Branch.YES if step_type == StepType.DECISION_SPLIT else Branch.NEXT


def _live_steps(canvas: Canvas):
    return Step.objects.filter(canvas=canvas, deleted_at__isnull=True)


def step_add(
    *,
    actor: Membership,
    canvas: Canvas,
    step_type: str,
    parent_id: int | None = None,
    branch: str = Branch.NEXT,
    name: str = "",
) -> Step:
    """Add a step under `parent_id` on `branch` (None: at the top of the flow).

    Whatever hung there before now hangs from the new step (on `next`, or on `yes` for a
    Decision Split), so adding between two steps inserts.
    """
    _require_editable(actor, canvas)
    if step_type not in StepType.values:
        raise ValidationError({"step_type": _("Choose a component to add.")})
    with transaction.atomic():
        # Serializes tree edits of one Canvas (two tabs adding at the same place).
        Canvas.objects.select_for_update().filter(pk=canvas.pk).first()
        if _live_steps(canvas).count() >= MAX_STEPS:
            raise ValidationError(_("A Canvas has at most %(max)s steps.") % {"max": MAX_STEPS})
        parent = None
        if parent_id is not None:
            parent = _live_steps(canvas).filter(pk=parent_id).first()
            if parent is None:
                raise ValidationError(_("That step no longer exists: reload the Canvas."))
            allowed = (
                (Branch.YES, Branch.NO)
                if parent.step_type == StepType.DECISION_SPLIT
                else (Branch.NEXT,)
            )
            if branch not in allowed:
                raise ValidationError(_("A step cannot be added on that branch."))
        else:
            branch = Branch.NEXT
        if parent is None:
            displaced = _live_steps(canvas).filter(parent__isnull=True).first()
        else:
            displaced = _live_steps(canvas).filter(parent=parent, branch=branch).first()
        now = timezone.now()
        step = Step.objects.create(
            canvas=canvas,
            step_type=step_type,
            name=" ".join((name or "").split())[:200],
            parent=parent,
            branch=branch,
            config=_default_config(step_type),
            deleted_at=now,
        )
        if displaced is not None:
            displaced.parent = step
            displaced.branch = _first_branch(step_type)
            displaced.save(update_fields=["parent", "branch", "updated_at"])
        Step.objects.filter(pk=step.pk).update(deleted_at=None)
        step.deleted_at = None
        if step_type == StepType.AUDIENCE_SYNC:
            AudienceSyncSettings.objects.create(step=step)
        _touch(canvas)
    return step


def _descendants(step: Step) -> list[Step]:
    found = []
    frontier = [step.pk]
    while frontier:
        children = list(
            Step.objects.filter(parent_id__in=frontier, deleted_at__isnull=True, canvas=step.canvas)
        )
        found.extend(children)
        frontier = [c.pk for c in children]
    return found


def step_delete(*, actor: Membership, step: Step, keep_branch: str = Branch.YES) -> list[Step]:
    """Delete a step; the step below it takes its place.

    Deleting a Decision Split keeps one of its branches (`keep_branch`, Yes by default): that
    branch's first step takes the split's place, and every step of the other branch is
    deleted with the split. Deleted steps are kept with `deleted_at` so analytics survive;
    users waiting in a deleted step continue at the step now in its place. Returns the
    deleted steps.
    """
    canvas = step.canvas
    _require_editable(actor, canvas)
    if keep_branch not in (Branch.YES, Branch.NO):
        raise ValidationError(_("Choose which branch of the Decision Split to keep."))
    with transaction.atomic():
        Canvas.objects.select_for_update().filter(pk=canvas.pk).first()
        step = _live_steps(canvas).filter(pk=step.pk).first()
        if step is None:
            return []
        now = timezone.now()
        deleted = [step]
        if step.step_type == StepType.DECISION_SPLIT:
            dropped_branch = Branch.NO if keep_branch == Branch.YES else Branch.YES
            dropped = _live_steps(canvas).filter(parent=step, branch=dropped_branch).first()
            if dropped is not None:
                doomed = [dropped, *_descendants(dropped)]
                Step.objects.filter(pk__in=[s.pk for s in doomed]).update(deleted_at=now)
                deleted.extend(doomed)
            successor = _live_steps(canvas).filter(parent=step, branch=keep_branch).first()
        else:
            successor = _live_steps(canvas).filter(parent=step, branch=Branch.NEXT).first()
        Step.objects.filter(pk=step.pk).update(deleted_at=now)
        if successor is not None:
            successor.parent_id = step.parent_id
            successor.branch = step.branch
            successor.save(update_fields=["parent", "branch", "updated_at"])
        _touch(canvas)
    # Drafts nobody uses any more would only clutter the type-ahead.
    _drop_unused_drafts(canvas=canvas)
    return deleted


def step_rename(*, actor: Membership, step: Step, name: str) -> Step:
    _require_editable(actor, step.canvas)
    name = " ".join((name or "").split())
    if len(name) > 200:
        raise ValidationError(
            {"name": _("Step names have at most %(max)s characters.") % {"max": 200}}
        )
    step.name = name
    step.save(update_fields=["name", "updated_at"])
    _touch(step.canvas)
    return step


def step_delay_update(*, actor: Membership, step: Step, name: str, seconds: int) -> Step:
    if step.step_type != StepType.DELAY:
        raise ValidationError(_("This step is not a Delay."))
    _require_editable(actor, step.canvas)
    if not isinstance(seconds, int) or seconds < 1:
        raise ValidationError({"amount": _("A Delay waits at least one second.")})
    if seconds > MAX_DELAY_SECONDS:
        raise ValidationError({"amount": _("A Delay waits at most two years.")})
    step.config = {**(step.config or {}), "seconds": seconds}
    step.save(update_fields=["config", "updated_at"])
    return step_rename(actor=actor, step=step, name=name)


def step_message_update(
    *, actor: Membership, step: Step, name: str, channel: str, body: str
) -> Step:
    if step.step_type != StepType.MESSAGE:
        raise ValidationError(_("This step is not a Message."))
    _require_editable(actor, step.canvas)
    if channel not in dict(MESSAGE_CHANNELS):
        raise ValidationError({"channel": _("Choose a channel.")})
    body = (body or "").strip()
    if len(body) > MAX_MESSAGE_LENGTH:
        raise ValidationError(
            {"body": _("Messages have at most %(max)s characters.") % {"max": MAX_MESSAGE_LENGTH}}
        )
    step.config = {"channel": channel, "body": body}
    step.save(update_fields=["config", "updated_at"])
    return step_rename(actor=actor, step=step, name=name)


def step_split_update(*, actor: Membership, step: Step, name: str, filters: list[dict]) -> Step:
    if step.step_type != StepType.DECISION_SPLIT:
        raise ValidationError(_("This step is not a Decision Split."))
    _require_editable(actor, step.canvas)
    step.config = {**(step.config or {}), "filters": audience_filters_clean(filters)}
    step.save(update_fields=["config", "updated_at"])
    return step_rename(actor=actor, step=step, name=name)


# Audience Sync settings and draft audiences


def _clean_match_fields(match_fields: list[str]) -> list[str]:
    chosen = set(match_fields or [])
    unknown = chosen - set(MatchField.values)
    if unknown:
        raise ValidationError(
            {
                "match_fields": _("Choose among %(fields)s.")
                % {"fields": ", ".join(str(f.label) for f in MatchField)}
            }
        )
    # Kept in TikTok's id_schema order (docs/ARCHITECTURE.md D10).
    return [f for f in MatchField.values if f in chosen]


def _usable_ad_account(actor: Membership, ad_account_id: int | None) -> TikTokAdAccount:
    if not ad_account_id:
        raise ValidationError({"ad_account": _("Choose an ad account.")})
    account = (
        TikTokAdAccount.objects.filter(pk=ad_account_id, app_group=actor.app_group)
        .select_related("connection")
        .first()
    )
    if account is None:
        raise ValidationError({"ad_account": _("Choose one of the ad accounts listed.")})
    health = ad_account_health(account)
    if not health.ok:
        raise ValidationError({"ad_account": health.sentence()})
    return account


def _require_tiktok(actor: Membership) -> None:
    health = connection_health(tiktok_connection_get(app_group=actor.app_group))
    if not health.ok:
        raise ValidationError({"partner": health.sentence()})


def _sync_settings(step: Step) -> AudienceSyncSettings:
    if step.step_type != StepType.AUDIENCE_SYNC:
        raise ValidationError(_("This step is not an Audience Sync step."))
    sync = audience_sync_settings_of(step)
    if sync is None:
        sync = AudienceSyncSettings.objects.create(step=step)
        step.audience_sync = sync
    return sync


def _drop_unused_drafts(*, canvas: Canvas) -> None:
    """Delete draft audiences of this app group that no step (live or deleted) points at and
    that never reached TikTok."""
    TikTokAudience.objects.filter(
        app_group_id=canvas.app_group_id,
        status=AudienceStatus.DRAFT,
        tiktok_audience_id="",
        steps__isnull=True,
    ).delete()


@dataclass(frozen=True)
class DraftResult:
    audience: TikTokAudience
    notice: str


def audience_draft_create(
    *,
    actor: Membership,
    step: Step,
    ad_account_id: int | None,
    name: str,
    match_fields: list[str],
    step_name: str | None = None,
) -> DraftResult:
    """ "Create Audience" in the step editor: check the name and the 400-audience cap against
    TikTok, save a draft audience, and make this step add users to it.

    The TikTok audience itself is created at launch (docs/ARCHITECTURE.md D8), or at once when the
    Canvas has already launched. Raises ValidationError keyed by form field.
    """
    canvas = step.canvas
    _require_editable(actor, canvas)
    sync = _sync_settings(step)
    _require_tiktok(actor)
    account = _usable_ad_account(actor, ad_account_id)
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"audience_query": _("Enter a name for the new audience.")})
    if len(name) > MAX_AUDIENCE_NAME_LENGTH:
        raise ValidationError(
            {
                "audience_query": _(
                    "TikTok audience names have at most %(max)s characters; this one has "
                    "%(length)s."
                )
                % {"max": MAX_AUDIENCE_NAME_LENGTH, "length": len(name)}
            }
        )
    fields = _clean_match_fields(match_fields)
    if not fields:
        raise ValidationError({"match_fields": _("Tick at least one field to match.")})

    own_draft = sync.audience if sync.creates_audience else None
    for audience in canvas_audience_choices(canvas=canvas, ad_account=account):
        if audience.name.casefold() == name.casefold() and audience != own_draft:
            raise ValidationError(
                {
                    "audience_query": _(
                        "This Canvas already has an audience named “%(name)s”: choose it under "
                        "Choose a New or Existing Audience."
                    )
                    % {"name": name}
                }
            )
    try:
        on_tiktok = tiktok_audiences_of(ad_account=account)
    except TikTokError as exc:
        raise ValidationError(
            # Translators: completes "TikTok refused to …" / "TikTok could not be reached to …".
            tiktok_error_sentence(exc, _("list the ad account's audiences"))
        ) from exc
    # A retry after an uncertain failure may find its own audience there: creation looks it
    # up by name instead of making a second one.
    retrying = (
        own_draft is not None
        and own_draft.name == name
        and own_draft.status in (AudienceStatus.FAILED, AudienceStatus.CREATING)
    )
    if not retrying and any(a.name.casefold() == name.casefold() for a in on_tiktok):
        raise ValidationError(
            {
                "audience_query": _(
                    "The ad account already has an audience named “%(name)s” on TikTok: choose "
                    "it as an existing audience, or pick another name."
                )
                % {"name": name}
            }
        )
    pending = [
        a
        for a in canvas_pending_drafts(canvas=canvas)
        if a.ad_account_id == account.pk and a != own_draft
    ]
    if len(on_tiktok) + len(pending) + 1 > MAX_AUDIENCES_PER_ADVERTISER:
        numbers = {
            "account": account.name or account.advertiser_id,
            "count": len(on_tiktok),
            "pending": len(pending),
            "max": MAX_AUDIENCES_PER_ADVERTISER,
        }
        if pending:
            message = _(
                "Audience limit: the ad account %(account)s has %(count)s audiences on TikTok "
                "and this Canvas will create %(pending)s more; TikTok allows at most %(max)s per "
                "ad account. Delete audiences on TikTok or use an existing audience."
            )
        else:
            message = _(
                "Audience limit: the ad account %(account)s has %(count)s audiences on TikTok; "
                "TikTok allows at most %(max)s per ad account. Delete audiences on TikTok or use "
                "an existing audience."
            )
        raise ValidationError(message % numbers)

    with transaction.atomic():
        reuse = (
            own_draft is not None
            and own_draft.status != AudienceStatus.CREATED
            and own_draft.ad_account_id == account.pk
        )
        if reuse:
            draft = own_draft
            draft.name = name
            draft.save(update_fields=["name"])
        else:
            draft = TikTokAudience.objects.create(
                app_group=actor.app_group, ad_account=account, name=name, created_by=actor.user
            )
        sync.ad_account = account
        sync.audience = draft
        sync.creates_audience = True
        sync.action = SyncAction.ADD
        sync.match_fields = fields
        sync.partner = "tiktok"
        sync.save()
        if step_name is not None:
            _name_step(step, step_name)
        _touch(canvas)
    _drop_unused_drafts(canvas=canvas)

    if _is_launched(canvas):
        # Past launch, "at launch" is now: users may reach this step at once.
        try:
            draft = audience_create_on_tiktok(audience_id=draft.pk)
        except AudienceCreateError as exc:
            raise ValidationError(
                _(
                    "The audience “%(name)s” was saved, but TikTok did not create it: "
                    "%(problem)s Click Create Audience again to retry."
                )
                % {"name": name, "problem": " ".join(exc.messages)}
            ) from exc
        return DraftResult(draft, _("Audience “%(name)s” was created on TikTok.") % {"name": name})
    return DraftResult(
        draft,
        _(
            "Audience “%(name)s” was saved as a draft. It will be created on TikTok when the "
            "Canvas launches."
        )
        % {"name": name},
    )


def _audience_for_choice(
    *, actor: Membership, canvas: Canvas, account: TikTokAdAccount, choice: str
) -> TikTokAudience | None:
    """Resolve the editor's audience choice: "local:<pk>" (an audience of this Canvas) or
    "tiktok:<id>" (an existing TikTok audience, checked with TikTok)."""
    kind, _sep, value = (choice or "").partition(":")
    if kind == "local" and parse_id(value) is not None:
        audience = canvas_audience_choices(canvas=canvas, ad_account=account).filter(
            pk=parse_id(value)
        )
        found = audience.first()
        if found is None:
            raise ValidationError({"audience": _("That draft audience is not in this Canvas.")})
        return found
    # TikTok ids are strings of digits, longer than a database id (never parsed as one).
    if kind == "tiktok" and _TIKTOK_ID.fullmatch(value):
        try:
            audience = existing_audience_register(
                ad_account=account, tiktok_audience_id=value, by=actor.user
            )
        except TikTokError as exc:
            raise ValidationError(
                # Translators: completes "TikTok refused to …" / "TikTok could not be reached
                # to …".
                tiktok_error_sentence(exc, _("look the audience up"))
            ) from exc
        if audience is None:
            raise ValidationError({"audience": _("That audience no longer exists on TikTok.")})
        return audience
    if choice in ("", None):
        return None
    raise ValidationError({"audience": _("Choose an audience from the list.")})


def audience_sync_step_save(
    *,
    actor: Membership,
    step: Step,
    ad_account_id: int | None,
    audience_choice: str,
    action: str,
    match_fields: list[str],
    step_name: str | None = None,
) -> AudienceSyncSettings:
    """ "Done" in the step editor: ad account, audience (existing, or a draft of this Canvas),
    Add or Remove, fields to match.

    A draft Canvas may keep an incomplete step (the launch check lists what is missing); a
    launched Canvas's step is saved only complete, since users may reach it at once.
    """
    canvas = step.canvas
    _require_editable(actor, canvas)
    sync = _sync_settings(step)
    _require_tiktok(actor)
    account = _usable_ad_account(actor, ad_account_id) if ad_account_id else None
    if account is None and (audience_choice or _is_launched(canvas)):
        raise ValidationError({"ad_account": _("Choose an ad account.")})
    audience = (
        _audience_for_choice(actor=actor, canvas=canvas, account=account, choice=audience_choice)
        if account is not None
        else None
    )
    if action not in SyncAction.values:
        raise ValidationError(
            {"action": _("Choose Add to the Audience or Remove from the Audience.")}
        )
    fields = _clean_match_fields(match_fields)
    own_draft = sync.audience if sync.creates_audience else None
    keeps_own_draft = audience is not None and audience == own_draft
    if keeps_own_draft and action == SyncAction.REMOVE:
        raise ValidationError(
            {
                "action": _(
                    "This step creates the audience, so it adds users to it "
                    "(Add Users to Audience)."
                )
            }
        )
    if _is_launched(canvas):
        if audience is None:
            raise ValidationError({"audience": _("Choose the audience (the Canvas is live).")})
        if not fields:
            raise ValidationError({"match_fields": _("Tick at least one field to match.")})

    with transaction.atomic():
        sync.partner = "tiktok"
        sync.ad_account = account
        sync.audience = audience
        sync.creates_audience = keeps_own_draft
        sync.action = action
        sync.match_fields = fields
        sync.save()
        if step_name is not None:
            _name_step(step, step_name)
        _touch(canvas)
    _drop_unused_drafts(canvas=canvas)
    return sync


# Creating draft audiences on TikTok, exactly once


# Lost the race for the claim: look again.


# State changes (gear actions)
