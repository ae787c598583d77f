"""The Audience Sync flush: queued users to TikTok's /segment/mapping/, batched, rate-limited,
retried (docs/ARCHITECTURE.md D1, D2, D3, D6).

Rows batch by (audience, action, schema) up to TIKTOK_MAX_USERS_PER_REQUEST. A group sends a
full batch at once and a partial one when its oldest user has waited
AUDIENCE_SYNC_BATCH_WAIT_SECONDS; ready groups take turns, one request each. A batch is
claimed so that no two workers send the same rows at once:

* PostgreSQL: `DELETE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING …` inside a
  transaction that stays open while TikTok answers. Success commits (the rows are gone and the
  counters bumped in the same commit); a failure puts the rows back with their next attempt;
  a worker that dies mid-request rolls back and the rows return untouched.
* SQLite (one writer at a time): the rows are stamped with a claim that expires after
  CLAIM_SECONDS, the request goes out with no transaction open, and the outcome is written in a
  second transaction. A dead worker's claim simply expires.

Either way TikTok may see a batch twice (adds and deletes are idempotent there) but a user is
counted once. The 13 h retry window runs from the moment a user is queued (within one flush
tick of the first attempt) and keeps running while a connection is paused; at the deadline
the user counts as Users Errored with the last error.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection as db
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation

from analytics.models import AudienceSyncBatch, BatchOutcome, StepStats
from analytics.services import step_error_record, step_stats_bump
from analytics.wording import AUDIENCE_NEVER_CREATED, NOT_SENT_IN_RETRY_WINDOW
from audience_sync.erasure import (
    SCHEMA_BITS,
    audience_members_forget,
    erasure_lock_shared,
    removals_queue,
)
from audience_sync.models import AudienceSyncItem
from canvas.models import SyncAction
from core import rawsql
from core.rawsql import fetchall, new_claim_token, skip_locked, table
from notifications.models import ProblemKind
from notifications.services import step_problems_open, step_problems_resolve
from partners.models import ConnectionStatus, TikTokAudience
from partners.tiktok.access import tiktok_auth_errors_recorded, tiktok_client
from partners.tiktok.client import (
    ID_SCHEMAS,
    TikTokClient,
    TikTokError,
    TikTokNotFoundError,
    TikTokRateLimitError,
    TikTokTransientError,
    encode_mapping_rows,
    mapping_action,
)
from partners.tiktok.health import ad_account_health
from partners.tiktok.ratelimit import tiktok_rate_limiter
from telemetry.inflight import request_in_flight
from telemetry.worker import shutdown_requested

logger = logging.getLogger(__name__)

# SQLite claims outlive the longest request (connect + read timeouts) before another flush
# may take the rows.
CLAIM_SECONDS = 120
# How long a flush waits for the shared limiter before leaving the batch for later.
LIMITER_TIMEOUT_SECONDS = 10.0
# Retry delays: (first delay, cap) in seconds, doubled per attempt, with jitter so that
# workers do not retry in lockstep.
RETRY_RATE_LIMITED = (1, 300)
RETRY_TRANSIENT = (5, 600)
RETRY_OTHER = (60, 1800)


class QueuedUser(NamedTuple):
    """One claimed queue row, as the claim statement returns it (columns in this order)."""

    id: int
    step_id: int | None  # None: a removal queued because the user was deleted
    profile_id: int | None  # None: that removal (the profile is gone)
    email_sha256: str | None
    phone_sha256: str | None
    idfa_sha256: str | None
    gaid_sha256: str | None
    attempts: int
    # A datetime (SQLite) or epoch seconds (PostgreSQL): read with rawsql.aware.
    enqueued_at: Any
    first_attempt_at: Any = None
    deadline_at: Any = None

    @property
    def hashes(self) -> tuple[str | None, ...]:
        """The four hash cells in TikTok's id_schema order (NULL: no value for that field)."""
        return self[HASH_CELLS]


# Where the hash cells sit in a QueuedUser: a slice is what a batch of 10,000 rows can afford
# (building each tuple attribute by attribute cost a tenth of the flush's own time).
HASH_CELLS = slice(
    QueuedUser._fields.index("email_sha256"), QueuedUser._fields.index("gaid_sha256") + 1
)


# SQLite reads the times as they are stored. PostgreSQL returns them as epoch seconds: turning
# 10,000 timestamps into datetimes was a third of a batch's claim time
# (bench/sync_throughput.py --workers 0).
SQLITE_CLAIM_COLUMNS = (*QueuedUser._fields[:8], "enqueued_at")
POSTGRES_CLAIM_COLUMNS = (
    *QueuedUser._fields[:8], "extract(epoch FROM enqueued_at)",
    "extract(epoch FROM first_attempt_at)", "extract(epoch FROM deadline_at)",
)  # fmt: skip


@dataclass
class FlushReport:
    requests: int = 0
    synced: int = 0
    failed_requests: int = 0
    errored: int = 0
    users_per_request: list[int] = field(default_factory=list)
    on_backlog: Callable[[], None] | None = field(default=None, repr=False)

    def full_batch_claimed(self) -> None:
        if self.on_backlog is not None:
            callback, self.on_backlog = self.on_backlog, None
            callback()


@dataclass(frozen=True)
class _Group:
    audience_id: int
    action: str
    schema: int


class _LimiterBusy(Exception):
    """No request slot came free in time: leave the batch untouched for the next flush."""


def retry_delay(attempts: int, error: TikTokError) -> float:
    if isinstance(error, TikTokRateLimitError):
        first, cap = RETRY_RATE_LIMITED
    elif isinstance(error, TikTokTransientError):
        first, cap = RETRY_TRANSIENT
    else:
        first, cap = RETRY_OTHER
    delay = min(cap, first * 2 ** max(attempts - 1, 0))
    return delay * random.uniform(0.5, 1.0)


def id_schema(schema: int) -> list[str]:
    return [name for bit, name in zip(SCHEMA_BITS, ID_SCHEMAS, strict=True) if schema & bit]


def audience_sync_flush(
    *,
    now: datetime | None = None,
    max_seconds: float = 50.0,
    client: TikTokClient | None = None,
    on_backlog: Callable[[], None] | None = None,
    on_waiting: Callable[[datetime], None] | None = None,
) -> FlushReport:
    """Send every ready group (a full batch waiting, or a partial one whose oldest user has
    waited AUDIENCE_SYNC_BATCH_WAIT_SECONDS), one request per group in turn, batch after batch
    while the limiter allows (it does not wait for the next beat tick), until nothing is
    ready or `max_seconds` have passed (docs/ARCHITECTURE.md D1).

    `on_backlog` is called once, after the first full batch: the task uses it to wake one
    more flush, so a backlog is drained by every free worker, not one. `on_waiting` is called
    at the end with the moment the next waiting partial batch becomes ready, if any.
    """
    fixed_now = now
    client = client or tiktok_client()
    report = FlushReport(on_backlog=on_backlog)
    report.errored = audience_sync_deadlines_expire(now=fixed_now or timezone.now())
    started = time.monotonic()
    batch_size = settings.TIKTOK_MAX_USERS_PER_REQUEST
    # A group whose request failed waits for its backoff: not retried within this flush.
    failed: set[_Group] = set()

    def stopping() -> bool:
        return time.monotonic() - started >= max_seconds or shutdown_requested()

    while not stopping():
        at = fixed_now or timezone.now()
        waiting = [w for w in _waiting_groups(now=at) if w.group not in failed]
        turn, next_ready_at = _ready_groups(waiting, now=at)
        listed = time.monotonic()
        sent = 0
        # Round robin: one request per ready group per turn, so that one app group's backlog
        # shares the request budget with every other group's users instead of holding them up.
        # The groups are listed again every RELIST_SECONDS, so that newly ready ones join.
        while turn and time.monotonic() - listed < RELIST_SECONDS and not stopping():
            for group in list(turn):
                failed_before = report.failed_requests
                count = _flush_batch(group, now=fixed_now, client=client, report=report)
                sent += count or 0
                if report.failed_requests > failed_before:
                    # A failed request ends the group's turns in this flush: its rows wait for
                    # their backoff, and an invalid token must not be tried batch after batch.
                    failed.add(group)
                if count == batch_size and group not in failed:
                    report.full_batch_claimed()
                else:
                    turn.remove(group)  # nothing more to send at once, no slot, or failed
                if stopping():
                    break
        if not sent:  # nothing ready (or another worker holds it): done until a wake-up
            if on_waiting is not None and next_ready_at is not None:
                on_waiting(next_ready_at)
            break
    return report


# How often a flush that is draining lists the waiting groups again (a skip scan of the
# queue's due index, _waiting_groups), so that a group that becomes ready joins the turns.
RELIST_SECONDS = 1.0


@dataclass(frozen=True)
class _Waiting:
    """A group with due users at one look: when the oldest became due, and how many are due,
    counted up to a full batch (not counted, and taken as full, when the oldest has waited
    long enough: the group is ready either way)."""

    group: _Group
    oldest: datetime
    count: int

    @property
    def ready_at(self) -> datetime:
        return self.oldest + _batch_wait()


def _batch_wait() -> timedelta:
    """How long a partial batch waits for more users (from its oldest one)."""
    return timedelta(seconds=settings.AUDIENCE_SYNC_BATCH_WAIT_SECONDS)


def _sending_paused() -> Q:
    """Rows wait without sending while their connection is invalid or disconnected."""
    return ~Q(ad_account__connection__status=ConnectionStatus.CONNECTED)


def _waiting_groups(*, now: datetime) -> list[_Waiting]:
    """Every (audience, action, schema) with due users whose connection may send.

    The groups are found by skipping through the due index (sync_item_due_idx) one group at
    a time: a GROUP BY reads every queued row, and a backlog of millions is listed again
    every RELIST_SECONDS. On SQLite, claimed rows still count: a batch in flight holds back
    the other action's users of its audience (see _claimable)."""
    queue = table(AudienceSyncItem)
    order = "ORDER BY audience_id, action, schema LIMIT 1"
    groups: list[_Group] = []
    rows = fetchall(f"SELECT audience_id, action, schema FROM {queue} {order}", [])
    while rows:
        groups.append(_Group(*rows[0]))
        rows = fetchall(
            f"SELECT audience_id, action, schema FROM {queue} "
            f"WHERE (audience_id, action, schema) > (%s, %s, %s) {order}",
            list(rows[0]),
        )
    paused = set(
        TikTokAudience.objects.filter(pk__in={g.audience_id for g in groups})
        .filter(_sending_paused())
        .values_list("pk", flat=True)
    )
    batch_size = settings.TIKTOK_MAX_USERS_PER_REQUEST
    aged = now - _batch_wait()
    waiting = []
    for group in groups:
        if group.audience_id in paused:
            continue
        due = AudienceSyncItem.objects.filter(
            audience_id=group.audience_id, action=group.action, schema=group.schema,
            next_attempt_at__lte=now,
        )  # fmt: skip
        oldest = due.order_by("next_attempt_at").values_list("next_attempt_at", flat=True)[:1]
        if not oldest:
            continue
        count = batch_size if oldest[0] <= aged else due[:batch_size].count()
        waiting.append(_Waiting(group, oldest[0], count))
    return waiting


def _ready_groups(
    waiting: list[_Waiting], *, now: datetime
) -> tuple[list[_Group], datetime | None]:
    """The groups that may send now, oldest first, and when the next of the others becomes
    ready (None: none will become ready by waiting alone). Ready: a full batch, or a partial one whose
    oldest user has waited AUDIENCE_SYNC_BATCH_WAIT_SECONDS. A group whose audience has older
    users of the other action waits for them to go first (an add before its remove, and a
    re-add after), whatever it holds; the claim checks this exactly (_claimable)."""
    aged = now - _batch_wait()
    first: dict[tuple[int, str], datetime] = {}
    for w in waiting:
        key = (w.group.audience_id, w.group.action)
        first[key] = min(first.get(key, w.oldest), w.oldest)
    ready, later = [], []
    for w in sorted(waiting, key=lambda w: w.oldest):
        other = first.get((w.group.audience_id, _other_action(w.group.action)))
        if other is not None and other < w.oldest:
            continue
        if w.count >= settings.TIKTOK_MAX_USERS_PER_REQUEST or w.oldest <= aged:
            ready.append(w.group)
        else:
            later.append(w.ready_at)
    return ready, min(later, default=None)


def _other_action(action: str) -> str:
    return SyncAction.REMOVE if action == SyncAction.ADD else SyncAction.ADD


def _flush_batch(
    group: _Group, *, now: datetime | None, client: TikTokClient, report: FlushReport
) -> int | None:
    """Claim and send one batch of `group`, if it is still ready. Returns users claimed (0:
    nothing was ready after all), or None when it could not try (no limiter slot in time, or
    its connection was paused since the groups were listed)."""
    audience = (
        TikTokAudience.objects.select_related("ad_account__connection")
        .filter(pk=group.audience_id)
        .first()
    )
    if audience is None or audience.ad_account.connection.status != ConnectionStatus.CONNECTED:
        return None  # paused since the groups were listed (an invalid token): send nothing
    limiter = tiktok_rate_limiter(client.app_id)
    try:
        if db.vendor == "postgresql":
            count = _flush_batch_postgres(group, audience, now, client, limiter, report)
        else:
            count = _flush_batch_sqlite(group, audience, now, client, limiter, report)
    except _LimiterBusy:
        return None
    return count


# Claiming, per database


def _claimable(
    group: _Group, now: datetime, limit: int, *, unclaimed: str = ""
) -> tuple[str, list, str, list]:
    """The `claimable` CTE (id, next_attempt_at) of a claim, with its parameters, and the
    condition (and its parameters) that they make a batch ready to go.

    Claimable: up to `limit` due rows of the group, oldest first, in index order
    (sync_item_due_idx, so LIMIT stops early however long the queue is), and only those
    queued before every row of the other action in the same audience (queue ids follow the
    order users reached the steps): an add queued before a remove reaches TikTok first, and a
    re-add after it. The bound is read in the claim's own statement, so a row queued since
    the groups were listed counts, and a batch in flight still holds its rows back
    (uncommitted deletes on PostgreSQL, claims on SQLite). When the audience has rows of one
    action only, the due index answers that at once.

    Ready: a full batch, or the oldest has waited AUDIENCE_SYNC_BATCH_WAIT_SECONDS."""
    queue = table(AudienceSyncItem)
    aged = now - _batch_wait()
    sql = (
        f"WITH claimable AS (SELECT id, next_attempt_at FROM {queue} "
        "WHERE audience_id = %s AND action = %s AND schema = %s AND next_attempt_at <= %s "
        f"AND id < COALESCE((SELECT MIN(id) FROM {queue} "
        f"WHERE audience_id = %s AND action = %s), %s){unclaimed} "
        f"ORDER BY next_attempt_at LIMIT %s{skip_locked()}) "
    )
    params = [
        group.audience_id, group.action, group.schema, now,
        group.audience_id, _other_action(group.action), _NO_ID,
    ]  # fmt: skip
    ready = (
        "id IN (SELECT id FROM claimable) AND ((SELECT COUNT(*) FROM claimable) >= %s "
        "OR (SELECT MIN(next_attempt_at) FROM claimable) <= %s)"
    )
    return sql, params, ready, [limit, aged]


# Above every queue id (a bigint): the bound when the other action has no row queued.
_NO_ID = 2**63 - 1


def _claim_postgres(group: _Group, now: datetime, limit: int) -> list[QueuedUser]:
    cte, cte_params, ready, ready_params = _claimable(group, now, limit)
    columns = ", ".join(POSTGRES_CLAIM_COLUMNS)
    rows = fetchall(
        f"{cte}DELETE FROM {table(AudienceSyncItem)} WHERE {ready} RETURNING {columns}",
        [*cte_params, limit, *ready_params],
    )
    return list(map(QueuedUser._make, rows))


def _flush_batch_postgres(group, audience, now, client, limiter, report) -> int:
    # The slot is taken before the claim's transaction opens: the database limiter's row lock
    # must not be held while TikTok answers, and a crash must not roll back a sent request's
    # slot. A slot taken for a group that turns out empty is simply unused.
    if not limiter.acquire(timeout=LIMITER_TIMEOUT_SECONDS):
        raise _LimiterBusy
    with transaction.atomic():
        # Deleting users of this app group waits for this transaction (audience_sync/erasure.py).
        erasure_lock_shared(audience.app_group_id)
        rows = _claim_postgres(group, now or timezone.now(), settings.TIKTOK_MAX_USERS_PER_REQUEST)
        if not rows:
            return 0
        error = _send(rows, group, audience, client, report)
        if error is None:
            _record_success(rows, audience, group, now)
        else:
            _put_back_postgres(rows, group, audience, error, now or timezone.now())
    return len(rows)


def _put_back_postgres(rows, group, audience, error, now) -> None:
    """Re-insert the batch's rows (same ids) with their next attempt, in the claim's
    transaction: to every other worker they never left.

    The batch retries together (one jittered delay per attempt count, not per row): rows
    spread over the delay window would come back as many tiny requests."""
    next_attempt: dict[int, datetime] = {}
    items = []
    for row in rows:
        attempts = row.attempts + 1
        if attempts not in next_attempt:
            next_attempt[attempts] = now + timedelta(seconds=retry_delay(attempts, error))
        items.append(
            AudienceSyncItem(
                id=row.id,
                step_id=row.step_id,
                profile_id=row.profile_id,
                audience_id=group.audience_id,
                connection_id=audience.ad_account.connection_id,
                action=group.action,
                schema=group.schema,
                email_sha256=row.email_sha256,
                phone_sha256=row.phone_sha256,
                idfa_sha256=row.idfa_sha256,
                gaid_sha256=row.gaid_sha256,
                enqueued_at=rawsql.aware(row.enqueued_at),
                attempts=attempts,
                first_attempt_at=(
                    rawsql.aware(row.first_attempt_at) if row.first_attempt_at is not None else now
                ),
                deadline_at=rawsql.aware(row.deadline_at),
                next_attempt_at=next_attempt[attempts],
                last_error_code=error.code,
                last_error_message=error.message[:1000],
            )  # fmt: skip
        )
    AudienceSyncItem.objects.bulk_create(items, batch_size=5000)
    _record_failure(rows, audience, group, error, now)


def _claim_sqlite(group: _Group, now: datetime, limit: int, token: int) -> list[QueuedUser]:
    cte, cte_params, ready, ready_params = _claimable(
        group, now, limit, unclaimed=" AND (claim IS NULL OR claim_expires_at < %s)"
    )
    columns = ", ".join(SQLITE_CLAIM_COLUMNS)
    with transaction.atomic():
        rows = fetchall(
            f"{cte}UPDATE {table(AudienceSyncItem)} SET claim = %s, claim_expires_at = %s "
            f"WHERE {ready} RETURNING {columns}",
            [
                *cte_params, now, limit, token, now + timedelta(seconds=CLAIM_SECONDS),
                *ready_params,
            ],
        )  # fmt: skip
    return sorted(QueuedUser(*row) for row in rows)


def _flush_batch_sqlite(group, audience, now, client, limiter, report) -> int:
    token = new_claim_token()
    claimed_at = now or timezone.now()
    rows = _claim_sqlite(group, claimed_at, settings.TIKTOK_MAX_USERS_PER_REQUEST, token)
    if not rows:
        return 0
    if not limiter.acquire(timeout=LIMITER_TIMEOUT_SECONDS):
        AudienceSyncItem.objects.filter(claim=token).update(claim=None, claim_expires_at=None)
        raise _LimiterBusy
    error = _send(rows, group, audience, client, report)
    finished_at = now or timezone.now()
    with transaction.atomic():
        # Users deleted while the request was out took their rows with them (one writer at a
        # time on SQLite: the deletion ran between the claim and now).
        present = set(AudienceSyncItem.objects.filter(claim=token).values_list("id", flat=True))
        if error is None:
            AudienceSyncItem.objects.filter(claim=token).delete()
            _record_success([row for row in rows if row.id in present], audience, group, now)
            if group.action == SyncAction.ADD:
                # They reached TikTok after their deletion: take them back at once.
                removals_queue(
                    [row for row in rows if row.id not in present], audience, group.schema, now
                )
        else:
            for attempts in {row.attempts for row in rows}:
                AudienceSyncItem.objects.filter(claim=token, attempts=attempts).update(
                    claim=None,
                    claim_expires_at=None,
                    attempts=attempts + 1,
                    next_attempt_at=finished_at
                    + timedelta(seconds=retry_delay(attempts + 1, error)),
                    last_error_code=error.code,
                    last_error_message=error.message[:1000],
                )
            AudienceSyncItem.objects.filter(
                pk__in=[row.id for row in rows], first_attempt_at__isnull=True
            ).update(first_attempt_at=finished_at)
            _record_failure(rows, audience, group, error, finished_at)
    return len(rows)


# Sending and recording


def _send(rows, group, audience, client, report) -> TikTokError | None:
    """One /segment/mapping/ request. Returns None on success, else the error."""
    ad_account = audience.ad_account
    if not audience.tiktok_audience_id:
        return TikTokError(AUDIENCE_NEVER_CREATED)
    health = ad_account_health(ad_account)
    if not health.ok:
        # Stored for every reader of the analytics page and the sync log: in English, like
        # TikTok's own messages, whatever language is active here.
        with translation.override(None):
            return TikTokError(health.sentence())
    token = ad_account.connection.access_token
    body = encode_mapping_rows(
        [row[HASH_CELLS] for row in rows],
        positions=[i for i, bit in enumerate(SCHEMA_BITS) if group.schema & bit],
        audience_id=audience.tiktok_audience_id,
    )
    report.requests += 1
    started = time.monotonic()
    try:
        with (
            request_in_flight(audience_id=audience.pk, users=len(rows)),
            tiktok_auth_errors_recorded(ad_account.connection, ad_account.advertiser_id),
        ):
            result = client.map_users(
                access_token=token, advertiser_ids=[ad_account.advertiser_id],
                action=mapping_action(group.action), id_schema=id_schema(group.schema),
                batch_data=body,
                slot_taken=True,
            )  # fmt: skip
    except TikTokError as exc:
        report.failed_requests += 1
        _log_batch(audience, group, rows, BatchOutcome.RETRY, started, exc)
        logger.warning(
            "audience sync batch failed audience=%s size=%d code=%s request_id=%s",
            audience.pk, len(rows), exc.code, exc.request_id,
            extra=_batch_fields(audience, group, rows, "retry", exc.code, exc.request_id),
        )  # fmt: skip
        return exc
    report.synced += len(rows)
    report.users_per_request.append(len(rows))
    _log_batch(audience, group, rows, BatchOutcome.SYNCED, started, None, result.request_id)
    logger.info(
        "audience sync batch sent audience=%s size=%d request_id=%s",
        audience.pk, len(rows), result.request_id,
        extra=_batch_fields(audience, group, rows, "synced", result.code, result.request_id),
    )  # fmt: skip
    return None


def _batch_fields(audience, group, rows, outcome, code, request_id) -> dict:
    """A batch's JSON log fields: ids and sizes only, never the hashes."""
    return {
        "audience_id": audience.pk,
        "tiktok_audience_id": audience.tiktok_audience_id,
        "action": group.action,
        "batch_size": len(rows),
        "outcome": outcome,
        "tiktok_code": code,
        "tiktok_request_id": request_id,
    }


def _log_batch(audience, group, rows, outcome, started, error, request_id="") -> None:
    AudienceSyncBatch.objects.create(
        audience=audience,
        action=group.action,
        size=len(rows),
        oldest_enqueued_at=rawsql.aware(min(row.enqueued_at for row in rows)),
        outcome=outcome,
        code=error.code if error else 0,
        message=error.message[:1000] if error else "",
        request_id=(error.request_id if error else request_id)[:64],
        milliseconds=int((time.monotonic() - started) * 1000),
    )


def _record_success(rows, audience, group, now) -> None:
    if group.action == SyncAction.REMOVE:
        audience_members_forget(rows, audience_id=audience.pk)
    per_step = Counter(row.step_id for row in rows if row.step_id is not None)
    at = now or timezone.now()
    for step_id, count in per_step.items():
        step_stats_bump(step_id, synced=count, at=at)
    StepStats.objects.filter(step_id__in=per_step).update(
        last_synced_at=at, last_error_code=None, last_error_message="", last_error_at=None
    )
    step_problems_resolve(step_ids=per_step)


def _record_failure(rows, audience, group, error, now) -> None:
    step_ids = {row.step_id for row in rows if row.step_id is not None}
    step_error_record(step_ids, code=error.code, message=error.message, at=now)
    if isinstance(error, TikTokNotFoundError):
        step_problems_open(
            kind=ProblemKind.AUDIENCE_DOES_NOT_EXIST, step_ids=step_ids, code=error.code
        )


def audience_sync_deadlines_expire(*, now: datetime) -> int:
    """Users still queued at their deadline become Users Errored, with their last error."""
    expired = 0
    while True:
        with transaction.atomic():
            sqlite = db.vendor != "postgresql"
            unclaimed = " AND (claim IS NULL OR claim_expires_at < %s)" if sqlite else ""
            rows = fetchall(
                f"DELETE FROM {table(AudienceSyncItem)} WHERE id IN ("
                f"SELECT id FROM {table(AudienceSyncItem)} WHERE deadline_at <= %s{unclaimed} "
                f"LIMIT 50000{skip_locked()}) "
                "RETURNING step_id, last_error_code, last_error_message",
                [now, now] if sqlite else [now],
            )
            # A removal queued by a deletion (no step) errors out without counting anywhere.
            per_step = Counter(step_id for step_id, _, _ in rows if step_id is not None)
            last_error = {step_id: (code, message) for step_id, code, message in rows}
            for step_id, count in per_step.items():
                step_stats_bump(step_id, errored=count, at=now)
                code, message = last_error[step_id]
                step_error_record(
                    [step_id],
                    code=code,
                    message=message or NOT_SENT_IN_RETRY_WINDOW,
                    at=now,
                )
            step_problems_open(kind=ProblemKind.USERS_ERRORING, step_ids=per_step)
        expired += len(rows)
        if len(rows) < 50000:
            return expired
