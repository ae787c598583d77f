"""TikTok custom audiences: listing an ad account's audiences, and creating a draft audience on
TikTok exactly once (at launch, or at once for a Canvas already live; docs/ARCHITECTURE.md D8).

Every call goes through the shared client (partners.tiktok.access.tiktok_client: pooled, counted by
the app's rate limiter within its interactive share) and records auth failures on the
connection at once (`tiktok_auth_errors_recorded`).

Page views must not spend the sync's TikTok budget, so an ad account's audience list is
remembered in Django's cache (shared by every process: settings.CACHES) and reused by the
Summary's launch check and the Audience Sync editor for TIKTOK_AUDIENCE_CACHE_SECONDS
(`tiktok_audience_list`); Viewers only ever read it. Launch, Create Audience and the look-ups
of a creation always ask TikTok. Creating an audience here forgets the ad account's list.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone
from django.utils.translation import gettext as _

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


# How long a remembered audience list stays readable for Viewers (with its age shown); Marketers'
# page views reuse it only for TIKTOK_AUDIENCE_CACHE_SECONDS.
AUDIENCE_LIST_KEPT_SECONDS = 60 * 60


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
                    _(
                        "The audience “%(name)s” is being created by another launch of this "
                        "Canvas. Try again in a moment."
                    )
                    % {"name": audience.name}
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
        raise AudienceCreateError(
            _("The audience “%(name)s” was not created: %(problem)s")
            % {"name": audience.name, "problem": problem}
        )
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
        # A failure may still have created it (a timeout): the remembered list is stale too.
        tiktok_audiences_forget(ad_account=account)
        # Translators: follows "TikTok refused to" or "TikTok could not be reached to".
        doing = _("create the audience “%(name)s”") % {"name": audience.name}
        message = tiktok_error_sentence(exc, doing)
        mine.update(status=AudienceStatus.FAILED, error_message=message)
        logger.warning("tiktok audience create failed audience=%s code=%s", audience.pk, exc.code)
        raise AudienceCreateError(message) from exc
    tiktok_audiences_forget(ad_account=account)
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


@dataclass(frozen=True)
class AudienceList:
    """An ad account's audiences on TikTok, and when TikTok was asked for them."""

    audiences: list[Audience]
    checked_at: datetime

    @property
    def age(self) -> timedelta:
        return timezone.now() - self.checked_at


# Audience's fields kept in the cache (not `raw`, TikTok's whole answer: nothing reads it).
_CACHED_FIELDS = tuple(f.name for f in fields(Audience) if f.name != "raw")


def _list_keys(ad_account: TikTokAdAccount) -> tuple[str, str]:
    """(the list's key, the key of when it was last forgotten). Per ad account row, advertiser
    and time of (re)connection: reconnecting starts afresh, and a database rebuilt with the
    same ids (a restore, a test run) never reads another's list."""
    connected = ad_account.connected_at.timestamp() if ad_account.connected_at else 0.0
    key = f"tiktok:audiences:v1:{ad_account.pk}:{ad_account.advertiser_id}:{connected:.6f}"
    return key, f"{key}:forgotten"


def _remembered(ad_account: TikTokAdAccount) -> AudienceList | None:
    """The list remembered for the ad account, unless it was asked for before the last time
    the list was forgotten (a slow look-up racing a creation). The cache failing is a miss."""
    key, forgotten_key = _list_keys(ad_account)
    try:
        found = cache.get_many([key, forgotten_key])
        value = found.get(key)
        if value is None or value["checked_at"] < found.get(forgotten_key, 0.0):
            return None
        return AudienceList(
            audiences=[
                Audience(**{k: v for k, v in item.items() if k in _CACHED_FIELDS})
                for item in value["audiences"]
            ],
            checked_at=datetime.fromtimestamp(value["checked_at"], tz=UTC),
        )
    except Exception:  # a cache that fails or holds another shape is a miss, never an error
        logger.warning(
            "tiktok audience list unreadable ad_account=%s", ad_account.pk, exc_info=True
        )
        return None


def _remember(ad_account: TikTokAdAccount, listed: AudienceList) -> None:
    key, _ = _list_keys(ad_account)
    value = {
        "checked_at": listed.checked_at.timestamp(),
        "audiences": [{f: getattr(a, f) for f in _CACHED_FIELDS} for a in listed.audiences],
    }
    timeout = max(AUDIENCE_LIST_KEPT_SECONDS, settings.TIKTOK_AUDIENCE_CACHE_SECONDS)
    try:
        cache.set(key, value, timeout=timeout)
    except Exception:  # the cache is an optimisation: TikTok answered, the page goes on
        logger.warning(
            "tiktok audience list not cached ad_account=%s", ad_account.pk, exc_info=True
        )


def tiktok_audiences_forget(*, ad_account: TikTokAdAccount) -> None:
    """Drop the ad account's remembered list: this product created (or may have created) an
    audience there. A look-up already under way when this runs is not remembered either."""
    key, forgotten_key = _list_keys(ad_account)
    timeout = max(AUDIENCE_LIST_KEPT_SECONDS, settings.TIKTOK_AUDIENCE_CACHE_SECONDS) + 60
    try:
        cache.set(forgotten_key, timezone.now().timestamp(), timeout=timeout)
        cache.delete(key)
    except Exception:
        logger.warning(
            "tiktok audience list not forgotten ad_account=%s", ad_account.pk, exc_info=True
        )


def tiktok_audience_list(
    *, ad_account: TikTokAdAccount, max_age: float | None = None, ask_tiktok: bool = True
) -> AudienceList | None:
    """The ad account's audiences on TikTok, for a page: the remembered list when it is at
    most `max_age` seconds old (TIKTOK_AUDIENCE_CACHE_SECONDS by default; 0 always asks),
    else TikTok's answer now, remembered for the next page views.

    `ask_tiktok=False` (a Viewer's page) never calls TikTok: the remembered list whatever its
    age, or None when there is none. Raises TikTokError when TikTok is asked and fails (auth
    errors are recorded on the connection).
    """
    if max_age is None:
        max_age = settings.TIKTOK_AUDIENCE_CACHE_SECONDS
    known = _remembered(ad_account) if max_age > 0 or not ask_tiktok else None
    if not ask_tiktok or (known is not None and known.age <= timedelta(seconds=max_age)):
        return known
    connection = ad_account.connection
    asked_at = timezone.now()
    with tiktok_auth_errors_recorded(connection, ad_account.advertiser_id):
        audiences = tiktok_client().list_audiences(
            access_token=connection.access_token, advertiser_id=ad_account.advertiser_id
        )
    listed = AudienceList(audiences=audiences, checked_at=asked_at)
    _remember(ad_account, listed)
    return listed


def tiktok_audiences_by_account(
    *, connection: TikTokConnection, ad_accounts: list[TikTokAdAccount]
) -> dict[int, list[Audience]]:
    """Each ad account's audiences, asked of TikTok now (and remembered)."""
    return {
        account.pk: tiktok_audience_list(ad_account=account, max_age=0).audiences
        for account in ad_accounts
    }


def tiktok_audiences_of(*, ad_account: TikTokAdAccount) -> list[Audience]:
    """The ad account's audiences on TikTok, asked now (raises TikTokError; auth errors are
    recorded), and remembered for the next page views."""
    return tiktok_audience_list(ad_account=ad_account, max_age=0).audiences


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
