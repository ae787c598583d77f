"""Reads for the TikTok partner pages and for Canvases that use TikTok."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from appgroups.models import AppGroup, User
from partners.models import (
    AdAccountStatus,
    ConnectionStatus,
    TikTokAdAccount,
    TikTokConnection,
    TikTokOAuthAttempt,
)
from partners.tiktok.health import Problem, connection_health, lost_access_health


@dataclass(frozen=True)
class PartnerProblem:
    """What a banner says about a broken TikTok connection (Braze's error wording)."""

    title: str
    detail: str
    advice: str


def tiktok_connection_get(*, app_group: AppGroup) -> TikTokConnection | None:
    return (
        TikTokConnection.objects.filter(app_group=app_group).select_related("connected_by").first()
    )


def tiktok_ad_account_list(*, app_group: AppGroup, active_only: bool = False) -> QuerySet:
    accounts = TikTokAdAccount.objects.filter(app_group=app_group).select_related("connected_by")
    if active_only:
        accounts = accounts.exclude(status=AdAccountStatus.DISCONNECTED)
    return accounts


def tiktok_problems(*, app_group: AppGroup) -> list[PartnerProblem]:
    """Problems to show on the TikTok page and on every active Canvas that uses TikTok."""
    connection = tiktok_connection_get(app_group=app_group)
    if connection is None or connection.status == ConnectionStatus.DISCONNECTED:
        return []
    health = connection_health(connection)
    if health.ok:
        health = lost_access_health(connection)
    if health.ok:
        return []
    detail = health.detail
    if health.problem is Problem.INVALID_TOKEN:
        detail += " " + _("Users cannot be synced to TikTok until it is fixed.")
    return [PartnerProblem(title=health.title, detail=detail, advice=health.advice)]


def tiktok_attempt_for_picker(
    *, user: User, app_group: AppGroup, attempt_id: int | None
) -> TikTokOAuthAttempt | None:
    """The user's own finished OAuth attempt awaiting the ad-account picker, if still fresh."""
    if attempt_id is None:
        return None
    return (
        TikTokOAuthAttempt.objects.filter(
            pk=attempt_id,
            user=user,
            app_group=app_group,
            state_used_at__isnull=False,
            created_at__gte=timezone.now() - TikTokOAuthAttempt.PICKER_TTL,
        )
        .exclude(access_token_ciphertext="")
        .first()
    )
