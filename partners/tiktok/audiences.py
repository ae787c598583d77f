"""TikTok custom audiences: listing an ad account's audiences, and creating a draft audience on
TikTok exactly once (at launch, or at once for a Canvas already live; docs/ARCHITECTURE.md D8).

Every call goes through the shared client (partners.tiktok.access.tiktok_client: pooled, counted by
the app's rate limiter) and records auth failures on the connection at once
(`tiktok_auth_errors_recorded`).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from appgroups.models import User
from partners.models import AudienceStatus, TikTokAdAccount, TikTokAudience, TikTokConnection
from partners.tiktok.access import tiktok_auth_errors_recorded, tiktok_client
from partners.tiktok.client import Audience, TikTokError, TikTokNotFoundError
from partners.tiktok.health import sending_health, tiktok_error_sentence

logger = logging.getLogger(__name__)


# A "creating" claim on a draft audience older than this is presumed dead (its process died
# between the claim and recording TikTok's answer). Well above one TikTok request
# (TIKTOK_CONNECT_TIMEOUT + TIKTOK_READ_TIMEOUT = 35 s by default), so a live claim is never
# taken over while its request may still land.
AUDIENCE_CLAIM_TTL = timedelta(minutes=2)


# How long a launch waits for another process that holds a fresh claim on the same draft.
AUDIENCE_CLAIM_WAIT_SECONDS = 10.0


AUDIENCE_CLAIM_POLL_SECONDS = 0.2


# TikTok's create_time is matched against the draft's creation with this much slack, as its
# clock and time zone are TikTok's.
TIKTOK_CLOCK_SLACK = timedelta(days=1)


class AudienceCreateError(ValidationError):
    """TikTok did not create a draft audience; the message says why, in plain words."""


def _find_on_tiktok(client, token: str, audience: TikTokAudience) -> str | None:
    """The id of the TikTok audience an earlier, unrecorded attempt created for this draft.

    Matched by exact name, created after the draft was saved (with slack for TikTok's clock),
    and not already known here under another row; the oldest wins.
    """
    known = set(
        TikTokAudience.objects.filter(ad_account=audience.ad_account)
        .exclude(tiktok_audience_id="")
        .exclude(pk=audience.pk)
        .values_list("tiktok_audience_id", flat=True)
    )
    since = audience.created_at - TIKTOK_CLOCK_SLACK
    candidates = []
    for found in client.list_audiences(
        access_token=token, advertiser_id=audience.ad_account.advertiser_id
    ):
        if found.name != audience.name or found.audience_id in known:
            continue
        created = parse_tiktok_time(found.create_time)
        if created is not None and created < since:
            continue
        candidates.append((created or since, found.audience_id))
    return min(candidates)[1] if candidates else None


def audience_create_on_tiktok(*, audience_id: int) -> TikTokAudience:
    """Create a draft audience on TikTok (`/segment/audience/`), exactly once.

    The claim is a conditional UPDATE draft/failed → creating, committed before TikTok is
    called, so of any number of racing launches (threads, processes, machines) one calls
    TikTok and the others wait for its answer. A claim whose process died is stale after
    AUDIENCE_CLAIM_TTL; whoever takes it over, and whoever retries after a failure (a timeout
    may still have created the audience), first looks for the audience by name on TikTok.
    Raises AudienceCreateError with words for the person launching.
    """
    deadline = time.monotonic() + AUDIENCE_CLAIM_WAIT_SECONDS
    while True:
        audience = TikTokAudience.objects.select_related("ad_account__connection").get(
            pk=audience_id
        )
        if audience.status == AudienceStatus.CREATED:
            return audience
        now = timezone.now()
        current = TikTokAudience.objects.filter(
            pk=audience.pk, status=audience.status, creating_since=audience.creating_since
        )
        if audience.status in (AudienceStatus.DRAFT, AudienceStatus.FAILED):
            look_first = audience.status == AudienceStatus.FAILED
            claimed = current.update(
                status=AudienceStatus.CREATING, creating_since=now, error_message=""
            )
        elif audience.creating_since is None or audience.creating_since < now - AUDIENCE_CLAIM_TTL:
            look_first = True
            claimed = current.update(creating_since=now)
        else:
            # Another launch is creating it right now: wait for its answer.
            if time.monotonic() > deadline:
                raise AudienceCreateError(
                    f"The audience “{audience.name}” is being created by another launch of this "
                    "Canvas. Try again in a moment."
                )
            time.sleep(AUDIENCE_CLAIM_POLL_SECONDS)
            continue
        if claimed:
            return _create_claimed(audience, claim=now, look_first=look_first)


def _create_claimed(audience: TikTokAudience, *, claim: datetime, look_first: bool):
    mine = TikTokAudience.objects.filter(
        pk=audience.pk, status=AudienceStatus.CREATING, creating_since=claim
    )
    account = audience.ad_account
    connection = account.connection
    health = sending_health(account)
    problem = health.sentence()
    if not health.ok:
        mine.update(status=AudienceStatus.FAILED, error_message=problem)
        raise AudienceCreateError(f"The audience “{audience.name}” was not created: {problem}")
    client = tiktok_client()
    token = connection.access_token
    try:
        with tiktok_auth_errors_recorded(connection, account.advertiser_id):
            tiktok_id = _find_on_tiktok(client, token, audience) if look_first else None
            if tiktok_id is None:
                tiktok_id = client.create_audience(
                    access_token=token, advertiser_id=account.advertiser_id, name=audience.name
                )
    except TikTokError as exc:
        message = tiktok_error_sentence(exc, f"create the audience “{audience.name}”")
        mine.update(status=AudienceStatus.FAILED, error_message=message)
        logger.warning("tiktok audience create failed audience=%s code=%s", audience.pk, exc.code)
        raise AudienceCreateError(message) from exc
    recorded = mine.update(
        status=AudienceStatus.CREATED,
        tiktok_audience_id=tiktok_id,
        created_on_tiktok_at=timezone.now(),
        error_message="",
    )
    if not recorded:
        # Our claim was taken over as stale while TikTok answered; the taker looks the name
        # up first, so it records this same audience rather than a second one.
        logger.warning("tiktok audience claim lost audience=%s", audience.pk)
    audience.refresh_from_db()
    logger.info("tiktok audience created audience=%s", audience.pk)
    return audience


# Reading


def tiktok_audiences_by_account(
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


def tiktok_audiences_of(*, ad_account: TikTokAdAccount) -> list[Audience]:
    """The ad account's audiences on TikTok (raises TikTokError; auth errors are recorded)."""
    connection = ad_account.connection
    with tiktok_auth_errors_recorded(connection, ad_account.advertiser_id):
        return tiktok_client().list_audiences(
            access_token=connection.access_token, advertiser_id=ad_account.advertiser_id
        )


def parse_tiktok_time(value: str) -> datetime | None:
    """TikTok's "YYYY-MM-DD HH:MM:SS" (UTC), or None when it is not in that shape."""
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def existing_audience_register(
    *, ad_account: TikTokAdAccount, tiktok_audience_id: str, by: User
) -> TikTokAudience | None:
    """An audience that already exists on TikTok, as a row steps can point at: the known row,
    or a new one once TikTok confirms the audience exists. None when TikTok says it does not
    (raises TikTokError when TikTok cannot tell)."""
    known = TikTokAudience.objects.filter(
        ad_account=ad_account, tiktok_audience_id=tiktok_audience_id
    ).first()
    if known is not None:
        return known
    connection = ad_account.connection
    try:
        with tiktok_auth_errors_recorded(connection, ad_account.advertiser_id):
            found = tiktok_client().get_audiences(
                access_token=connection.access_token,
                advertiser_id=ad_account.advertiser_id,
                audience_ids=[tiktok_audience_id],
            )
    except TikTokNotFoundError:
        return None
    match = next((a for a in found if a.audience_id == tiktok_audience_id), None)
    if match is None:
        return None
    try:
        audience, _ = TikTokAudience.objects.get_or_create(
            ad_account=ad_account,
            tiktok_audience_id=tiktok_audience_id,
            defaults={
                "app_group_id": ad_account.app_group_id,
                "name": match.name[: TikTokAudience._meta.get_field("name").max_length],
                "status": AudienceStatus.CREATED,
                "created_by": by,
            },
        )
    except IntegrityError:
        # Another request registered the same TikTok audience a moment ago.
        audience = TikTokAudience.objects.get(
            ad_account=ad_account, tiktok_audience_id=tiktok_audience_id
        )
    return audience
