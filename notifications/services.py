"""Writes for notifications: open and end problems, tell the right people (in the app and by
email, as Braze routes error emails: docs/ARCHITECTURE.md B2), mark notifications read.

Routing: integration-level problems go to the user who connected TikTok (or the ad account),
step-level problems to the Canvas's creator; when that user is gone (deleted, deactivated or no
longer a member of the app group) they go to the app group's Admins. A resolved problem is
told to the people who were told it opened.

Nothing here names a token or an end user's email, phone or ad id: the words are built from
our own names (app group, ad account, Canvas, step) and TikTok's error code.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from appgroups.models import AppGroup, Membership, Role, User
from canvas.models import Step
from core.durations import duration_words
from core.i18n import language_for
from notifications.models import Notification, Problem, ProblemKind, ProblemStatus
from partners.models import AdAccountStatus, ConnectionStatus, TikTokAdAccount, TikTokConnection
from partners.tiktok.health import Problem as HealthProblem
from partners.tiktok.health import TikTokHealth

logger = logging.getLogger(__name__)

# An SMTP server that hangs must not hold a worker (the flush sends these after its commit)
# for long; used when EMAIL_TIMEOUT is not set.
EMAIL_TIMEOUT_SECONDS = 10
TIKTOK_PAGE = gettext_lazy("Open the TikTok partner page")
ANALYTICS_PAGE = gettext_lazy("Open the Canvas analytics")


@dataclass(frozen=True)
class _Words:
    title: str
    body: str
    advice: str
    link: str
    link_label: str


# Integration level (partners/services.py signals every change of state: notifications/apps.py)


def tiktok_problems_sync(*, connection: TikTokConnection) -> None:
    """Bring the connection's problems in line with its state, as stored now.

    Invalid token: open while the connection is invalid, resolved once it is connected again.
    A disconnect keeps it open: the fix is disconnect and reconnect, and the reconnect says it
    is resolved. Ad account access: open while the account has no access, resolved when it is
    reachable again, closed without a word when the account is disconnected.
    """
    connection = TikTokConnection.objects.select_related("app_group", "connected_by").get(
        pk=connection.pk
    )
    open_problems = {
        problem.key: problem
        for problem in Problem.objects.filter(connection=connection, status=ProblemStatus.OPEN)
    }
    token_key = f"connection:{connection.pk}"
    token_problem = open_problems.get(token_key)
    if connection.status == ConnectionStatus.INVALID and token_problem is None:
        _problem_open(
            kind=ProblemKind.INVALID_TOKEN,
            key=token_key,
            app_group=connection.app_group,
            connection=connection,
            code=connection.invalid_code,
        )
    elif connection.status == ConnectionStatus.CONNECTED and token_problem is not None:
        _problem_end(token_problem, status=ProblemStatus.RESOLVED)

    accounts = TikTokAdAccount.objects.filter(connection=connection).select_related("connected_by")
    for account in accounts.order_by("pk"):
        key = f"ad_account:{account.pk}"
        problem = open_problems.get(key)
        if account.status == AdAccountStatus.NO_ACCESS and problem is None:
            _problem_open(
                kind=ProblemKind.AD_ACCOUNT_ACCESS,
                key=key,
                app_group=connection.app_group,
                connection=connection,
                ad_account=account,
                code=account.invalid_code,
            )
        elif account.status == AdAccountStatus.CONNECTED and problem is not None:
            _problem_end(problem, status=ProblemStatus.RESOLVED)
        elif account.status == AdAccountStatus.DISCONNECTED and problem is not None:
            _problem_end(problem, status=ProblemStatus.CLOSED)


# Step level (audience_sync/flush.py calls these)


def step_problems_open(
    *, kind: ProblemKind, step_ids: Iterable[int], code: int | None = None
) -> None:
    """Open `kind` on each step that does not have it open yet (a repeat costs one query)."""
    step_ids = set(step_ids)
    if not step_ids:
        return
    already = Problem.objects.filter(kind=kind, status=ProblemStatus.OPEN, step_id__in=step_ids)
    new_ids = step_ids - set(already.values_list("step_id", flat=True))
    if not new_ids:
        return
    steps = Step.objects.filter(pk__in=new_ids).select_related(
        "canvas__app_group", "canvas__created_by"
    )
    for step in steps.order_by("pk"):
        _problem_open(
            kind=kind,
            key=f"step:{step.pk}",
            app_group=step.canvas.app_group,
            step=step,
            code=code,
        )


def step_problems_resolve(*, step_ids: Iterable[int]) -> None:
    """Users of these steps reached TikTok: their open problems are resolved.

    Runs after every successful batch, so the common case (nothing open) is one query on the
    partial index of open problems.
    """
    problems = list(
        Problem.objects.filter(status=ProblemStatus.OPEN, step_id__in=list(step_ids))
        .select_related("app_group", "step__canvas")
        .order_by("pk")
    )
    for problem in problems:
        _problem_end(problem, status=ProblemStatus.RESOLVED)


# Opening and ending


def _problem_open(*, kind: ProblemKind, key: str, app_group: AppGroup, **fields) -> None:
    """Callers open only what they found not open; the constraint settles a race."""
    try:
        # A savepoint: losing the race below must not break the caller's transaction.
        with transaction.atomic():
            problem = Problem.objects.create(kind=kind, key=key, app_group=app_group, **fields)
            recipients = _routing(problem)
            _notify(problem, recipients, resolved=False)
    except IntegrityError:
        # Another worker opened the same problem a moment ago; it told the recipients.
        return
    logger.info(
        "problem opened kind=%s key=%s app_group=%s recipients=%d",
        kind, key, app_group.pk, len(recipients),
    )  # fmt: skip


def _problem_end(problem: Problem, *, status: ProblemStatus) -> None:
    with transaction.atomic():
        # The conditional UPDATE is the claim: of two workers ending it, one tells.
        ended = Problem.objects.filter(pk=problem.pk, status=ProblemStatus.OPEN).update(
            status=status, ended_at=timezone.now()
        )
        if ended != 1 or status != ProblemStatus.RESOLVED:
            return
        problem.status = status
        recipients = _told_when_opened(problem) or _routing(problem)
        _notify(problem, recipients, resolved=True)
    logger.info(
        "problem resolved kind=%s key=%s app_group=%s recipients=%d",
        problem.kind, problem.key, problem.app_group_id, len(recipients),
    )  # fmt: skip


# Who is told


def _is_member(user: User | None, app_group_id: int) -> bool:
    return (
        user is not None
        and user.is_active
        and Membership.objects.filter(user=user, app_group_id=app_group_id).exists()
    )


def _admins(app_group_id: int) -> list[User]:
    return list(
        User.objects.filter(
            is_active=True, memberships__app_group_id=app_group_id, memberships__role=Role.ADMIN
        ).order_by("pk")
    )


def _routing(problem: Problem) -> list[User]:
    """The responsible user when still a member of the app group, else its Admins."""
    if problem.step_id is not None:
        candidates = [problem.step.canvas.created_by]
    elif problem.ad_account_id is not None:
        candidates = [problem.ad_account.connected_by, problem.connection.connected_by]
    else:
        candidates = [problem.connection.connected_by]
    for user in candidates:
        if _is_member(user, problem.app_group_id):
            return [user]
    return _admins(problem.app_group_id)


def _told_when_opened(problem: Problem) -> list[User]:
    """Those told the problem opened, if they can still see the app group."""
    return list(
        User.objects.filter(
            is_active=True,
            notifications__problem=problem,
            notifications__resolved=False,
            memberships__app_group_id=problem.app_group_id,
        )
        .distinct()
        .order_by("pk")
    )


# What they are told (in each recipient's language: core.i18n.language_for)


def _words(problem: Problem, *, resolved: bool) -> _Words:
    """The notification's words in the active language (callers override it per recipient)."""
    if problem.step_id is not None:
        return _step_words(problem, resolved=resolved)
    partner_page = reverse("partners:tiktok")
    tiktok_page = str(TIKTOK_PAGE)
    if problem.kind == ProblemKind.AD_ACCOUNT_ACCESS:
        account = problem.ad_account
        label = (
            f"{account.name} ({account.advertiser_id})" if account.name else account.advertiser_id
        )
        health = TikTokHealth(HealthProblem.AD_ACCOUNT_ACCESS, accounts=(label,))
        values = {"problem": health.title, "account": label, "code": problem.code}
        if resolved:
            return _Words(
                # Translators: %(problem)s is Braze's name for the error ("Ad Account Access
                # Attempt"), %(account)s the ad account.
                title=_("Resolved: %(problem)s on %(account)s") % values,
                body=_(
                    "TikTok grants access to the ad account %(account)s again: its Audience Sync "
                    "steps sync users again."
                )
                % values,
                advice="",
                link=partner_page,
                link_label=tiktok_page,
            )
        if problem.code is not None:
            body = _(
                "TikTok no longer gives the connection access to the ad account %(account)s "
                "(TikTok code %(code)s). Audience Sync steps that use it cannot sync users."
            )
        else:
            body = _(
                "TikTok no longer gives the connection access to the ad account %(account)s. "
                "Audience Sync steps that use it cannot sync users."
            )
        return _Words(
            # Translators: %(problem)s is Braze's name for the error ("Ad Account Access
            # Attempt"), %(account)s the ad account.
            title=_("%(problem)s on %(account)s") % values,
            body=body % values,
            advice=health.advice,
            link=partner_page,
            link_label=tiktok_page,
        )
    health = TikTokHealth(HealthProblem.INVALID_TOKEN, code=problem.code)
    values = {"problem": health.title, "app_group": problem.app_group.name, "code": problem.code}
    if resolved:
        return _Words(
            # Translators: %(problem)s is Braze's name for the error ("Invalid Token").
            title=_("Resolved: %(problem)s for TikTok") % values,
            body=_(
                "The TikTok connection of %(app_group)s works again: users are synced to TikTok "
                "again."
            )
            % values,
            advice="",
            link=partner_page,
            link_label=tiktok_page,
        )
    if problem.code is not None:
        body = _(
            "TikTok refused the access token of %(app_group)s's TikTok connection (TikTok code "
            "%(code)s): the password changed, the credentials expired, or access was removed on "
            "TikTok. Active Canvases that use TikTok show errors, and users cannot be synced "
            "until it is fixed."
        )
    else:
        body = _(
            "TikTok refused the access token of %(app_group)s's TikTok connection: the password "
            "changed, the credentials expired, or access was removed on TikTok. Active Canvases "
            "that use TikTok show errors, and users cannot be synced until it is fixed."
        )
    return _Words(
        # Translators: %(problem)s is Braze's name for the error ("Invalid Token").
        title=_("%(problem)s for TikTok") % values,
        body=body % values,
        advice=health.advice,
        link=partner_page,
        link_label=tiktok_page,
    )


def _step_words(problem: Problem, *, resolved: bool) -> _Words:
    step = problem.step
    canvas = step.canvas
    analytics = reverse("analytics:canvas-analytics", args=[canvas.pk])
    analytics_page = str(ANALYTICS_PAGE)
    values = {"problem": problem.get_kind_display(), "step": str(step), "canvas": canvas.name}
    if resolved:
        return _Words(
            # Translators: Braze's title for the error, with the Canvas ("Audience Does Not
            # Exist For Canvas …"); keep its capitals if your language writes titles so.
            title=_("Resolved: %(problem)s For Canvas %(canvas)s") % values,
            body=_("Users of the step %(step)s of the Canvas %(canvas)s reach TikTok again.")
            % values,
            advice="",
            link=analytics,
            link_label=analytics_page,
        )
    # Translators: Braze's title for the error, with the Canvas ("Audience Does Not Exist For
    # Canvas …"); keep its capitals if your language writes titles so.
    title = _("%(problem)s For Canvas %(canvas)s") % values
    if problem.kind == ProblemKind.AUDIENCE_DOES_NOT_EXIST:
        return _Words(
            title=title,
            body=_(
                "TikTok says the audience of the step %(step)s of the Canvas %(canvas)s does not "
                "exist: it was deleted, the connected user lost access to it, or it is not a "
                "streaming audience (for example a lookalike or customer-file audience). Users "
                "who reach the step are retried and count as Users Errored when the retry window "
                "ends."
            )
            % values,
            advice=_(
                "Check the audience on TikTok, then pick or create another audience in the step."
            ),
            link=analytics,
            link_label=analytics_page,
        )
    values["window"] = duration_words(settings.AUDIENCE_SYNC_RETRY_WINDOW_SECONDS)
    return _Words(
        title=title,
        body=_(
            "Users of the step %(step)s of the Canvas %(canvas)s were not synced to TikTok "
            "within the retry window (%(window)s) and count as Users Errored. This points to a "
            "problem with the TikTok account."
        )
        % values,
        advice=_(
            "Audit the TikTok partner account (connection, ad account and audience); the "
            "Canvas analytics page shows the step's last error."
        ),
        link=analytics,
        link_label=analytics_page,
    )


def _notify(problem: Problem, recipients: list[User], *, resolved: bool) -> None:
    """One notification per recipient, worded in the recipient's language."""
    words_in: dict[str, _Words] = {}
    rows = []
    for user in recipients:
        language = language_for(user)
        if language not in words_in:
            with translation.override(language):
                words_in[language] = _words(problem, resolved=resolved)
        words = words_in[language]
        rows.append(
            Notification(
                app_group_id=problem.app_group_id,
                user=user,
                problem=problem,
                resolved=resolved,
                title=words.title[:200],
                body=words.body,
                advice=words.advice,
                link=words.link,
                link_label=words.link_label,
            )
        )
    notifications = Notification.objects.bulk_create(rows)
    if not notifications:
        logger.warning(
            "problem has nobody to tell kind=%s app_group=%s", problem.kind, problem.app_group_id
        )
        return
    ids = [n.pk for n in notifications]
    # After the commit: a rolled-back problem sends nothing, and no SMTP wait holds locks.
    transaction.on_commit(partial(notification_emails_send, notification_ids=ids), robust=True)


def notification_emails_send(*, notification_ids: list[int]) -> int:
    """Email each notification to its user, one message each (recipients never see each
    other), in the user's language. Failures are logged, not raised: the in-app notification
    is already there."""
    notifications = Notification.objects.filter(pk__in=notification_ids).select_related(
        "user", "app_group"
    )
    messages = []
    for n in notifications.order_by("pk"):
        with translation.override(language_for(n.user)):
            messages.append(
                EmailMessage(
                    # The title was worded in the user's language when the notification was made.
                    subject=f"[{n.app_group.name}] {n.title}",
                    body=render_to_string(
                        "notifications/notification_email.txt",
                        {"notification": n, "url": settings.DASHBOARD_URL + n.link},
                    ),
                    to=[n.user.email],
                )
            )
    try:
        timeout = getattr(settings, "EMAIL_TIMEOUT", None) or EMAIL_TIMEOUT_SECONDS
        sent = get_connection(timeout=timeout).send_messages(messages) or 0
    except Exception as exc:
        # SMTP and socket errors alike: the in-app notifications stay, the emails are lost.
        logger.warning(
            "notification emails failed count=%d error=%s", len(messages), type(exc).__name__
        )
        return 0
    return sent


# Reading (the list page)


def notification_mark_read(*, actor: Membership, notification: Notification) -> None:
    if notification.user_id != actor.user_id or notification.app_group_id != actor.app_group_id:
        raise PermissionDenied(_("This notification belongs to someone else."))
    Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def notifications_mark_all_read(*, actor: Membership) -> int:
    return Notification.objects.filter(
        user=actor.user, app_group=actor.app_group, read_at__isnull=True
    ).update(read_at=timezone.now())
