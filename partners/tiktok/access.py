"""Calling TikTok with a connection's token: the process's client (pooled connections, every
call counted by the TikTok app's shared rate limiter, within the interactive share), and what
happens when TikTok refuses the token (the connection, or one ad account, is marked invalid at
once and its queue pauses)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import requests
from django.conf import settings
from django.utils import timezone

from partners.models import AdAccountStatus, ConnectionStatus, TikTokAdAccount, TikTokConnection
from partners.signals import tiktok_connection_changed
from partners.tiktok.client import (
    TikTokAdAccountAccessError,
    TikTokAuthError,
    TikTokClient,
    TikTokError,
)
from partners.tiktok.ratelimit import tiktok_interactive_limiter

logger = logging.getLogger(__name__)


@cache
def _session() -> requests.Session:
    # One pooled HTTP session per process: TikTok calls reuse connections.
    return requests.Session()


def tiktok_client() -> TikTokClient:
    """The TikTok client of this process: pooled connections, and every call counted by the
    shared limiter of the TikTok app (docs/ARCHITECTURE.md D3), within the app's interactive
    share (TIKTOK_INTERACTIVE_REQUESTS_PER_SECOND): page views, look-ups, launches, OAuth and
    token checks never take the slots the flush keeps. The flush takes its own slots from the
    app's window (`tiktok_rate_limiter`) and sends with `slot_taken=True`."""
    return TikTokClient.from_settings(
        session=_session(), limiter=tiktok_interactive_limiter(settings.TIKTOK_APP_ID)
    )


def tiktok_connection_mark_invalid(
    *, connection: TikTokConnection, error: TikTokError, advertiser_id: str | None = None
) -> None:
    """Record an auth failure at once: the token (or one ad account's access) is gone.

    40001 on a known advertiser marks that ad account; anything else marks the connection.
    Queues pause while the connection is invalid; reconnecting clears it.
    """
    now = timezone.now()
    if isinstance(error, TikTokAdAccountAccessError) and advertiser_id:
        changed = TikTokAdAccount.objects.filter(
            connection=connection, advertiser_id=advertiser_id, status=AdAccountStatus.CONNECTED
        ).update(
            status=AdAccountStatus.NO_ACCESS,
            invalid_code=error.code,
            invalid_message=error.message,
        )
    else:
        changed = TikTokConnection.objects.filter(
            pk=connection.pk, status=ConnectionStatus.CONNECTED
        ).update(
            status=ConnectionStatus.INVALID,
            invalid_code=error.code,
            invalid_message=error.message,
            invalid_at=now,
        )
    logger.warning(
        "tiktok access lost app_group=%s advertiser=%s code=%s",
        connection.app_group_id, advertiser_id or "-", error.code,
    )  # fmt: skip
    if changed:
        # Only the request that changed the status tells anyone: one notification per problem.
        tiktok_connection_changed.send(sender=TikTokConnection, connection=connection)


@contextmanager
def tiktok_auth_errors_recorded(
    connection: TikTokConnection, advertiser_id: str | None = None
) -> Iterator[None]:
    """Wrap any TikTok call made with the connection's token: an auth failure marks the
    connection (or ad account) invalid immediately, then propagates."""
    try:
        yield
    except TikTokAuthError as exc:
        tiktok_connection_mark_invalid(
            connection=connection, error=exc, advertiser_id=advertiser_id
        )
        raise
