"""Reads for the status page and /metrics. Every figure comes from counters, small tables or
bounded index lookups, so the page stays fast with millions of queued users:

* pending: the per-step counters (entered − not synced − synced − errored − deleted,
  docs/ARCHITECTURE.md D11);
* oldest pending: the first row of the deadline index (deadlines are set when users are
  queued, so the earliest deadline is the earliest queued user);
* due now: counted up to DUE_COUNT_CAP through the due index;
* in flight: the InFlightRequest rows of live requests;
* last hour / last minute: minute buckets and the sync log.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import connection as db
from django.db.models import F, Q, Sum
from django.utils import timezone

from analytics.models import AudienceSyncBatch, BatchOutcome, Period, StepActivity, StepStats
from appgroups.models import AppGroup
from audience_sync.models import AudienceSyncItem
from canvas.models import StepType
from core.rawsql import fetchall, table
from partners.models import AdAccountStatus, ConnectionStatus, TikTokAdAccount, TikTokConnection
from partners.selectors import tiktok_connection_get
from partners.tiktok.health import ad_account_health, connection_health
from telemetry.models import InFlightRequest, TaskRun, WorkerHeartbeat

logger = logging.getLogger(__name__)

# "Due now" is counted up to this many rows; beyond, the page says "100,000+".
DUE_COUNT_CAP = 100_000
# A worker whose last heartbeat is older than this is shown as not answering.
WORKER_ALIVE_SECONDS = 60
# Stopped or silent workers stay listed this long, then the list forgets them.
WORKER_LISTED_SECONDS = 24 * 60 * 60
FLUSH_TASK = "audience_sync_flush"


@dataclass
class SyncFigures:
    """The queue of one ad account, one connection, or the whole deployment."""

    pending: int = 0
    oldest_enqueued_at: datetime | None = None
    due_now: int = 0
    in_flight: int = 0
    synced_last_hour: int = 0
    errored_last_hour: int = 0
    requests_last_minute: int = 0
    peak_requests_in_a_second: int = 0
    last_error_code: int | None = None
    last_error_message: str = ""
    last_error_at: datetime | None = None
    now: datetime | None = None

    @property
    def due_now_capped(self) -> bool:
        return self.due_now > DUE_COUNT_CAP

    @property
    def oldest_age_seconds(self) -> float | None:
        if self.oldest_enqueued_at is None or self.now is None:
            return None
        return max((self.now - self.oldest_enqueued_at).total_seconds(), 0.0)

    @property
    def requests_per_second(self) -> float:
        return self.requests_last_minute / 60


@dataclass
class AdAccountStatusRow:
    ad_account: TikTokAdAccount
    figures: SyncFigures
    paused_reason: str = ""


@dataclass
class ConnectionStatusRow:
    connection: TikTokConnection
    figures: SyncFigures
    ad_accounts: list[AdAccountStatusRow] = field(default_factory=list)
    paused_reason: str = ""


def _pending(audience_filter: Q) -> dict[int | None, int]:
    """Pending users per ad account (None: the whole selection), from the step counters."""
    rows = (
        StepStats.objects.filter(step__step_type=StepType.AUDIENCE_SYNC)
        .filter(audience_filter)
        .values(ad_account_id=F("step__audience_sync__audience__ad_account_id"))
        .annotate(
            entered=Sum("entered"),
            done=Sum(F("not_synced") + F("synced") + F("errored") + F("deleted")),
        )
        .order_by()
    )
    return {
        row["ad_account_id"]: max((row["entered"] or 0) - (row["done"] or 0), 0) for row in rows
    }


def _oldest_enqueued_at(audience_ids: list[int] | None) -> datetime | None:
    items = AudienceSyncItem.objects.filter(deadline_at__isnull=False)
    if audience_ids is not None:
        items = items.filter(audience_id__in=audience_ids)
    return items.order_by("deadline_at").values_list("enqueued_at", flat=True).first()


def _in_flight(audience_ids: list[int] | None, now: datetime) -> int:
    markers = InFlightRequest.objects.filter(expires_at__gt=now)
    if audience_ids is not None:
        markers = markers.filter(audience_id__in=audience_ids)
    return markers.aggregate(n=Sum("users"))["n"] or 0


def _request_rate(audience_ids: list[int] | None, now: datetime) -> tuple[int, int]:
    """Requests sent in the last minute, and the most in any one second of it."""
    batches = AudienceSyncBatch.objects.filter(sent_at__gt=now - timedelta(minutes=1))
    if audience_ids is not None:
        batches = batches.filter(audience_id__in=audience_ids)
    seconds = Counter(
        sent_at.replace(microsecond=0) for sent_at in batches.values_list("sent_at", flat=True)
    )
    return sum(seconds.values()), max(seconds.values(), default=0)


def _due_now(audience_ids: list[int] | None, now: datetime) -> int:
    where, params = "next_attempt_at <= %s", [now]
    if audience_ids is not None:
        if not audience_ids:
            return 0
        where += f" AND audience_id IN ({', '.join(['%s'] * len(audience_ids))})"
        params += audience_ids
    if db.vendor != "postgresql":
        # SQLite claims are rows in flight: they are not waiting.
        where += " AND (claim IS NULL OR claim_expires_at < %s)"
        params.append(now)
    sql = (
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {table(AudienceSyncItem)} WHERE {where} "
        f"LIMIT {DUE_COUNT_CAP + 1}) due"
    )
    return fetchall(sql, params)[0][0]


def _figures(audience_ids: list[int] | None, pending: int, now: datetime) -> SyncFigures:
    """Figures for a set of audiences (None: every audience)."""
    figures = SyncFigures(pending=pending, now=now)
    figures.oldest_enqueued_at = _oldest_enqueued_at(audience_ids)
    figures.due_now = _due_now(audience_ids, now)

    figures.in_flight = _in_flight(audience_ids, now)
    figures.requests_last_minute, figures.peak_requests_in_a_second = _request_rate(
        audience_ids, now
    )
    activity = StepActivity.objects.filter(period=Period.MINUTE, start__gt=now - timedelta(hours=1))
    failures = AudienceSyncBatch.objects.filter(outcome=BatchOutcome.RETRY)
    if audience_ids is not None:
        activity = activity.filter(step__audience_sync__audience_id__in=audience_ids)
        failures = failures.filter(audience_id__in=audience_ids)
    totals = activity.aggregate(synced=Sum("synced"), errored=Sum("errored"))
    figures.synced_last_hour = totals["synced"] or 0
    figures.errored_last_hour = totals["errored"] or 0
    last_failure = failures.order_by("-sent_at").values("code", "message", "sent_at").first()
    if last_failure:
        figures.last_error_code = last_failure["code"]
        figures.last_error_message = last_failure["message"]
        figures.last_error_at = last_failure["sent_at"]
    return figures


def sync_status(*, app_group: AppGroup, now: datetime | None = None) -> list[ConnectionStatusRow]:
    """The status page's figures for the app group's TikTok connection and ad accounts."""
    now = now or timezone.now()
    connection = tiktok_connection_get(app_group=app_group)
    if connection is None:
        return []
    accounts = list(
        TikTokAdAccount.objects.filter(connection=connection).prefetch_related("audiences")
    )
    pending = _pending(Q(step__canvas__app_group=app_group))
    health = connection_health(connection)
    rows = []
    all_audiences: list[int] = []
    for account in accounts:
        audience_ids = [audience.pk for audience in account.audiences.all()]
        all_audiences += audience_ids
        if account.status == AdAccountStatus.DISCONNECTED and not pending.get(account.pk):
            continue
        rows.append(
            AdAccountStatusRow(
                ad_account=account,
                figures=_figures(audience_ids, pending.get(account.pk, 0), now),
                paused_reason=(
                    health if not health.ok else ad_account_health(account)
                ).paused_reason(),
            )
        )
    if len(accounts) == 1 and rows:
        # One ad account (the usual case): its figures are the connection's; read them once.
        figures = replace(rows[0].figures)
    else:
        figures = _figures(all_audiences, sum(pending.values()), now)
    if connection.status == ConnectionStatus.INVALID and connection.invalid_at:
        if figures.last_error_at is None or connection.invalid_at >= figures.last_error_at:
            figures.last_error_code = connection.invalid_code
            figures.last_error_message = connection.invalid_message
            figures.last_error_at = connection.invalid_at
    return [
        ConnectionStatusRow(
            connection=connection,
            figures=figures,
            ad_accounts=rows,
            paused_reason=health.paused_reason(),
        )
    ]


@dataclass
class RequestRate:
    """Requests to TikTok in the last minute, every app group (the limit is per TikTok app)."""

    requests_last_minute: int
    peak_requests_in_a_second: int

    @property
    def requests_per_second(self) -> float:
        return self.requests_last_minute / 60


def deployment_request_rate(*, now: datetime | None = None) -> RequestRate:
    return RequestRate(*_request_rate(None, now or timezone.now()))


@dataclass
class Backlog:
    """The whole deployment's queue (every app group), for /metrics."""

    pending: int
    oldest_age_seconds: float
    in_flight: int


def deployment_backlog(*, now: datetime | None = None) -> Backlog:
    now = now or timezone.now()
    oldest = _oldest_enqueued_at(None)
    return Backlog(
        pending=sum(_pending(Q()).values()),
        oldest_age_seconds=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        in_flight=_in_flight(None, now),
    )


@dataclass
class WorkerRow:
    heartbeat: WorkerHeartbeat
    alive: bool


def workers_status(*, now: datetime | None = None) -> list[WorkerRow]:
    now = now or timezone.now()
    recent = WorkerHeartbeat.objects.filter(
        last_seen_at__gt=now - timedelta(seconds=WORKER_LISTED_SECONDS)
    )
    rows = []
    for heartbeat in recent:
        age = (now - heartbeat.last_seen_at).total_seconds()
        alive = heartbeat.stopped_at is None and age <= WORKER_ALIVE_SECONDS
        rows.append(WorkerRow(heartbeat=heartbeat, alive=alive))
    rows.sort(key=lambda row: (not row.alive, row.heartbeat.hostname))
    return rows


def workers_alive(*, now: datetime | None = None) -> list[WorkerRow]:
    return [row for row in workers_status(now=now) if row.alive]


def flush_last_run() -> TaskRun | None:
    return TaskRun.objects.filter(name=FLUSH_TASK).first()


def broker_queue_length() -> int | None:
    """Messages waiting on the broker's default queue (wake-ups, not users), or None when the
    broker cannot be asked."""
    try:
        with current_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            declared = conn.default_channel.queue_declare(
                queue=current_app.conf.task_default_queue, passive=True
            )
            return int(declared.message_count)
    except Exception as exc:  # any transport error: the page says "unknown"
        logger.info("broker queue length unavailable: %s", type(exc).__name__)
        return None


def rate_limit() -> int:
    return settings.TIKTOK_MAX_REQUESTS_PER_SECOND
