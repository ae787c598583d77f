"""Launching a Canvas: the checks that ask TikTok, and the state changes (launch, resume, stop,
archive). Launch refuses with every reason at once, creates each draft audience on TikTok exactly
once (partners.tiktok.audiences), and only then makes the Canvas Active."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.utils import timezone

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
from partners.tiktok.audiences import audience_create_on_tiktok, tiktok_audiences_by_account
from partners.tiktok.client import MAX_AUDIENCES_PER_ADVERTISER, TikTokAuthError, TikTokError
from partners.tiktok.health import INVALID_TOKEN_ADVICE, ad_account_health, connection_health

logger = logging.getLogger(__name__)


def canvas_launch_problems(*, canvas: Canvas, check_tiktok: bool = True) -> list[LaunchProblem]:
    """Every reason the Canvas cannot launch (or resume) now; empty when it can.

    Without `check_tiktok` only what this database knows is checked (cheap, for the builder).
    With it, TikTok is asked, per ad account used, for its audiences: the 400-audience cap
    and whether the existing audiences chosen still exist.
    """
    problems = canvas_setup_problems(canvas=canvas)
    if not check_tiktok:
        return problems
    sync_steps = [s for s in step_list(canvas=canvas) if s.step_type == StepType.AUDIENCE_SYNC]
    connection = tiktok_connection_get(app_group=canvas.app_group)
    if sync_steps and connection_health(connection).ok:
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
        on_tiktok = tiktok_audiences_by_account(
            connection=connection, ad_accounts=list(accounts.values())
        )
    except TikTokAuthError:
        connection.refresh_from_db()
        health = connection_health(connection)
        message = (
            health.sentence()
            if not health.ok
            else (
                f"Invalid Token: TikTok refused the connection's access token. {INVALID_TOKEN_ADVICE}"
            )
        )
        for account in accounts.values():
            account.refresh_from_db()
            account_health = ad_account_health(account)
            message = account_health.sentence() if not account_health.ok else message
        return [launch_problem(message)]
    except TikTokError as exc:
        return [
            launch_problem(
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
                    problems.append(launch_problem(message, step))
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
                launch_problem(
                    f"Audience Does Not Exist: “{audience.name}” is no longer on TikTok "
                    "(deleted there, or access to it was removed). Choose or create another "
                    "audience.",
                    step,
                )
            )
    return problems


# State changes (gear actions)


class LaunchRefused(ValidationError):
    """The Canvas cannot launch (or resume); `problems` lists every reason."""

    def __init__(self, problems: list[LaunchProblem]):
        self.problems = problems
        count = len(problems)
        super().__init__(
            f"The Canvas was not launched: {count} problem{'s' if count != 1 else ''} to fix."
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
        raise ValidationError(
            f"Only a {CanvasState(frm).label} Canvas can be {verb}; this one is "
            f"{canvas.get_state_display()}."
        )
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
            f"Only an Active Canvas can be stopped; this one is {canvas.get_state_display()}."
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
