"""Launching a Canvas: the checks that ask TikTok, and the state changes (launch, resume, stop,
archive). Launch refuses with every reason at once, creates each draft audience on TikTok exactly
once (partners.tiktok.audiences), and only then makes the Canvas Active."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from appgroups.models import Membership
from canvas.models import Canvas, CanvasState, Step, StepType
from canvas.selectors import (
    LaunchProblem,
    audience_sync_settings_of,
    canvas_pending_drafts,
    canvas_setup_problems,
    launch_problem,
    step_list,
)
from canvas.services import canvas_manage_require
from partners.models import AdAccountStatus, AudienceStatus, TikTokAudience, TikTokConnection
from partners.selectors import tiktok_connection_get
from partners.tiktok.audiences import AudienceList, audience_create_on_tiktok, tiktok_audience_list
from partners.tiktok.client import MAX_AUDIENCES_PER_ADVERTISER, TikTokAuthError, TikTokError
from partners.tiktok.health import INVALID_TOKEN_ADVICE, ad_account_health, connection_health

logger = logging.getLogger(__name__)


@dataclass
class LaunchCheck:
    """The launch check as a page shows it: the problems, and how TikTok's part was done."""

    problems: list[LaunchProblem] = field(default_factory=list)
    # When TikTok listed the audiences used (the oldest list, when some were remembered).
    tiktok_checked_at: datetime | None = None
    # A Viewer's page with no list remembered: TikTok's audiences were not checked at all.
    tiktok_not_checked: bool = False


def canvas_launch_problems(*, canvas: Canvas, check_tiktok: bool = True) -> list[LaunchProblem]:
    """Every reason the Canvas cannot launch (or resume) now; empty when it can.

    Without `check_tiktok` only what this database knows is checked (cheap, for the builder).
    With it, TikTok is asked now, per ad account used, for its audiences: the 400-audience cap
    and whether the existing audiences chosen still exist (Launch and Resume use this).
    """
    if not check_tiktok:
        return canvas_setup_problems(canvas=canvas)
    return canvas_launch_check(canvas=canvas, max_age=0).problems


def canvas_launch_check(
    *, canvas: Canvas, max_age: float | None = None, ask_tiktok: bool = True
) -> LaunchCheck:
    """The launch check of the Summary tab. TikTok's audience lists are reused while at most
    `max_age` seconds old (TIKTOK_AUDIENCE_CACHE_SECONDS by default), so page views do not
    spend the sync's TikTok budget; `ask_tiktok=False` (a Viewer's visit) never calls TikTok
    and checks only what was remembered (partners.tiktok.audiences.tiktok_audience_list)."""
    check = LaunchCheck(problems=canvas_setup_problems(canvas=canvas))
    sync_steps = [s for s in step_list(canvas=canvas) if s.step_type == StepType.AUDIENCE_SYNC]
    connection = tiktok_connection_get(app_group=canvas.app_group)
    if sync_steps and connection_health(connection).ok:
        _tiktok_check(
            check, canvas=canvas, connection=connection, steps=sync_steps,
            max_age=max_age, ask_tiktok=ask_tiktok,
        )  # fmt: skip
    return check


def _tiktok_check(
    check: LaunchCheck,
    *,
    canvas: Canvas,
    connection: TikTokConnection,
    steps: list[Step],
    max_age: float | None,
    ask_tiktok: bool,
) -> None:
    settings_by_step = {s.pk: audience_sync_settings_of(s) for s in steps}
    accounts = {
        sync.ad_account_id: sync.ad_account
        for sync in settings_by_step.values()
        if sync is not None
        and sync.ad_account_id is not None
        and sync.ad_account.status == AdAccountStatus.CONNECTED
    }
    if not accounts:
        return
    lists: dict[int, AudienceList] = {}
    try:
        for account_id, account in accounts.items():
            listed = tiktok_audience_list(
                ad_account=account, max_age=max_age, ask_tiktok=ask_tiktok
            )
            if listed is None:
                check.tiktok_not_checked = True
            else:
                lists[account_id] = listed
    except TikTokAuthError:
        connection.refresh_from_db()
        health = connection_health(connection)
        message = (
            health.sentence()
            if not health.ok
            else (
                _("Invalid Token: TikTok refused the connection's access token. %(advice)s")
                % {"advice": INVALID_TOKEN_ADVICE}
            )
        )
        for account in accounts.values():
            account.refresh_from_db()
            account_health = ad_account_health(account)
            message = account_health.sentence() if not account_health.ok else message
        check.problems.append(launch_problem(message))
        return
    except TikTokError as exc:
        check.problems.append(
            launch_problem(
                # Translators: TikTok's (or the network's) own error message in parentheses.
                _(
                    "TikTok could not be reached to check the audiences (%(error)s). "
                    "Try again in a moment."
                )
                % {"error": exc}
            )
        )
        return
    if lists:
        check.tiktok_checked_at = min(listed.checked_at for listed in lists.values())

    pending = list(canvas_pending_drafts(canvas=canvas))
    for account_id, listed in lists.items():
        account = accounts[account_id]
        audiences = listed.audiences
        creating = [a for a in pending if a.ad_account_id == account_id]
        if creating and len(audiences) + len(creating) > MAX_AUDIENCES_PER_ADVERTISER:
            message = _(
                "Audience limit: the ad account %(account)s has %(count)s audiences on TikTok "
                "and launching would create %(creating)s more, past TikTok's limit of %(max)s "
                "per ad account. Delete audiences on TikTok or use an existing audience."
            ) % {
                "account": account.name or account.advertiser_id,
                "count": len(audiences),
                "creating": len(creating),
                "max": MAX_AUDIENCES_PER_ADVERTISER,
            }
            creating_ids = {a.pk for a in creating}
            for step in steps:
                sync = settings_by_step[step.pk]
                if sync and sync.creates_audience and sync.audience_id in creating_ids:
                    check.problems.append(launch_problem(message, step))
    for step in steps:
        sync = settings_by_step[step.pk]
        audience = sync.audience if sync else None
        if (
            audience is None
            or audience.status != AudienceStatus.CREATED
            or audience.ad_account_id not in lists
        ):
            continue
        listed = lists[audience.ad_account_id]
        # A list older than the audience (remembered elsewhere before it was created or
        # registered) cannot tell whether it still exists.
        known_since = audience.created_on_tiktok_at or audience.created_at
        if known_since is not None and known_since > listed.checked_at:
            continue
        if audience.tiktok_audience_id not in {a.audience_id for a in listed.audiences}:
            check.problems.append(
                launch_problem(
                    _(
                        "Audience Does Not Exist: “%(name)s” is no longer on TikTok (deleted "
                        "there, or access to it was removed). Choose or create another audience."
                    )
                    % {"name": audience.name},
                    step,
                )
            )


# State changes (gear actions)


class LaunchRefused(ValidationError):
    """The Canvas cannot launch (or resume); `problems` lists every reason."""

    def __init__(self, problems: list[LaunchProblem]):
        self.problems = problems
        count = len(problems)
        super().__init__(
            ngettext(
                "The Canvas was not launched: %(count)s problem to fix.",
                "The Canvas was not launched: %(count)s problems to fix.",
                count,
            )
            % {"count": count}
        )


def _state_change(canvas: Canvas, *, frm: tuple[str, ...], to: str, **fields) -> bool:
    changed = Canvas.objects.filter(pk=canvas.pk, state__in=frm).update(
        state=to, updated_at=timezone.now(), **fields
    )
    canvas.refresh_from_db()
    return bool(changed)


def _go_live(actor: Membership, canvas: Canvas, *, frm: str, verb: str) -> Canvas:
    canvas.refresh_from_db()
    if canvas.state == CanvasState.ACTIVE:
        # A double click or a retried request: the first one did it.
        return canvas
    if canvas.state != frm:
        if frm == CanvasState.DRAFT:
            message = _("Only a Draft Canvas can be launched; this one is %(state)s.")
        else:
            message = _("Only a Stopped Canvas can be resumed; this one is %(state)s.")
        raise ValidationError(message % {"state": canvas.get_state_display()})
    problems = canvas_launch_problems(canvas=canvas, check_tiktok=True)
    if problems:
        raise LaunchRefused(problems)
    # The Canvas stays as it is until every audience exists on TikTok.
    canvas_audiences_create(canvas=canvas)
    now = timezone.now()
    extra = {"launched_at": now} if frm == CanvasState.DRAFT else {}
    _state_change(canvas, frm=(frm,), to=CanvasState.ACTIVE, stopped_at=None, **extra)
    logger.info("canvas %s canvas=%s by=%s", verb, canvas.pk, actor.user_id)
    return canvas


def canvas_launch(*, actor: Membership, canvas: Canvas) -> Canvas:
    """Launch Canvas: refuse with every problem, create the draft audiences, go Active."""
    canvas_manage_require(actor, canvas)
    return _go_live(actor, canvas, frm=CanvasState.DRAFT, verb="launched")


def canvas_resume(*, actor: Membership, canvas: Canvas) -> Canvas:
    """Resume a Stopped Canvas, with the launch checks (the flow may have changed)."""
    canvas_manage_require(actor, canvas)
    return _go_live(actor, canvas, frm=CanvasState.STOPPED, verb="resumed")


def canvas_stop(*, actor: Membership, canvas: Canvas) -> Canvas:
    """Stop: no new entries, no further sends; users in Delays stay until their delay ends."""
    canvas_manage_require(actor, canvas)
    canvas.refresh_from_db()
    if canvas.state == CanvasState.STOPPED:
        return canvas
    if not _state_change(
        canvas, frm=(CanvasState.ACTIVE,), to=CanvasState.STOPPED, stopped_at=timezone.now()
    ):
        raise ValidationError(
            _("Only an Active Canvas can be stopped; this one is %(state)s.")
            % {"state": canvas.get_state_display()}
        )
    return canvas


def canvas_archive(*, actor: Membership, canvas: Canvas) -> Canvas:
    """Archive (from any state): the Canvas leaves the default list and stops for good."""
    canvas_manage_require(actor, canvas)
    now = timezone.now()
    live = (CanvasState.DRAFT, CanvasState.ACTIVE, CanvasState.STOPPED)
    if _state_change(canvas, frm=live, to=CanvasState.ARCHIVED, archived_at=now):
        Canvas.objects.filter(
            pk=canvas.pk, stopped_at__isnull=True, launched_at__isnull=False
        ).update(stopped_at=now)
    return canvas


def canvas_audiences_create(*, canvas: Canvas) -> list[TikTokAudience]:
    """Create every draft of the Canvas that is not on TikTok yet; stops at the first error."""
    return [
        audience_create_on_tiktok(audience_id=a.pk) for a in canvas_pending_drafts(canvas=canvas)
    ]
