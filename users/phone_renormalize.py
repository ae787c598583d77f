"""Re-reading stored phone numbers when an app group's default country changes (docs/ARCHITECTURE.md D5).

A number typed without a country code is read in the app group's default country when its
profile is written (users.identifiers.normalize_phone); the profile keeps the raw value beside the
E.164, the hash and the reason it has none (users.profile_fields.phone_columns, the CSV reader).
When the country changes, appgroups sends `default_country_changed` inside the settings
transaction; users.tasks receives it, `phone_renormalization_start` records a job, and the task
`users.tasks.phone_renormalization_run` calls `phone_renormalization_run` until it is done.

- **Which numbers**: a raw value starting with "+" carries its country code and reads the same in
  every country, so it is not read again. Every other stored value (a national number, "00 49 …"
  whose international prefix is the country's own, a value that is already a hash) is normalized
  again, and a profile is written only when its E.164, hash or reason changes.
- **Chunks**: CHUNK_PROFILES profile ids of the group at a time, in id order. A chunk is one
  transaction: one SELECT of the candidates, the numbers normalized in Python, one UPDATE of the
  changed rows (guarded by the raw value read, so a number written meanwhile wins) and the job's
  cursor and counters. A worker that dies loses its chunk in progress and nothing else: the next
  delivery, or whoever takes over a claim left STALE_SECONDS without a heartbeat, carries on from
  the cursor. Running a chunk or a whole job twice writes nothing more.
- **Superseded**: each chunk reads the app group's country again (in PostgreSQL holding its row
  FOR SHARE, so that a change of the country waits for the chunk in progress); a job whose country
  is no longer the group's stops without writing. A new change of the country also marks the
  older jobs superseded in its own transaction; the new job starts from the first profile.
- **Writes in flight**: a /users/track request or a CSV import that read the previous country
  before the change may write its numbers after the sweep passed them. So after the sweep the job
  waits until SETTLE_SECONDS after the change and until every import begun before it has ended,
  then reads once more the profiles written since shortly before the change (`updated_at`).
- **What is written**: only `phone_e164`, `phone_sha256` and `phone_invalid_reason`. Not the raw
  number, not `updated_at` (re-reading is not a change by the customer; `updated_at` picks the
  "most recently updated" profile when /users/track or /users/delete names one by email or phone,
  users.services.profiles), not devices nor their mirrors on the profile (D13).

TikTok keeps what it was sent: users already synced keep their old hash in its audiences, and
rows already queued for an Audience Sync step keep the hash they were queued with.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from enum import StrEnum

import orjson
from django.db import OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from appgroups.models import AppGroup, User
from core import rawsql
from telemetry.worker import shutdown_requested
from users import identifiers
from users.csv_import.lifecycle import STALE_AFTER_SECONDS as IMPORT_STALE_AFTER_SECONDS
from users.models import PhoneRenormalization, Profile, UserImport
from users.signals import profile_hashes_changing

logger = logging.getLogger(__name__)

# Profile ids per chunk (one transaction each).
CHUNK_PROFILES = 10_000
# One task delivery works this long, then queues the next one (a task's soft limit is 120 s).
RUN_SECONDS = 50
# Longer than any request that may have read the previous country (gunicorn's timeout is 30 s).
SETTLE_SECONDS = 60
# The catch-up reads profiles written since this long before the change: a request stamps
# `updated_at` when it starts, a CSV import batch just before it is written.
WRITE_MARGIN_SECONDS = 5 * 60
# A claim whose heartbeat is older than this was lost with its worker and may be taken over.
STALE_SECONDS = 120
# A chunk waits at most this long for a row another writer holds, then is tried again later.
LOCK_TIMEOUT = "5s"

Status = PhoneRenormalization.Status
Phase = PhoneRenormalization.Phase
_UNFINISHED = (Status.QUEUED, Status.RUNNING)
# A raw value starting with this carries its country code (LIKE pattern, passed as a parameter).
_INTERNATIONAL = "+%"


class Outcome(StrEnum):
    DONE = "done"  # every number is read in the job's country
    SUPERSEDED = "superseded"  # the country changed again; a newer job does the work
    MORE = "more"  # stopped for now (time, shutdown): queue the next delivery at once
    WAIT = "wait"  # waiting for writes begun before the change, or for a lock: queue it later
    TAKEN = "taken"  # another worker has it, or it is finished: nothing to do


# --- starting ------------------------------------------------------------------------------------


def phone_renormalization_start(
    *,
    app_group: AppGroup,
    previous_country: str,
    changed_by: User | None = None,
    now: dt.datetime | None = None,
) -> PhoneRenormalization:
    """Record the re-reading of `app_group`'s numbers in its (new) default country.

    Runs inside the transaction that changed the country; the caller queues the task once it
    commits. Unfinished older jobs of the group are superseded: the new one reads every profile.
    """
    now = now or timezone.now()
    PhoneRenormalization.objects.filter(app_group=app_group, status__in=_UNFINISHED).update(
        status=Status.SUPERSEDED, finished_at=now, claim_token=None
    )
    return PhoneRenormalization.objects.create(
        app_group=app_group,
        country=app_group.default_country,
        previous_country=previous_country,
        changed_by=changed_by,
        created_at=now,
    )


def phone_renormalization_wake_if_stalled(*, job_id: int, now: dt.datetime | None = None) -> bool:
    """True (and the claim cleared) when an unfinished job has shown no sign of life for
    STALE_SECONDS: its worker died, or the message that should run it was lost. The caller
    queues its task; the conditional UPDATE lets one caller per STALE_SECONDS do it."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=STALE_SECONDS)
    return (
        PhoneRenormalization.objects.filter(
            Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, created_at__lt=stale),
            pk=job_id,
            status__in=_UNFINISHED,
        ).update(claim_token=None, heartbeat_at=now)
        == 1
    )


def phone_renormalizations_stalled(*, now: dt.datetime | None = None) -> list[int]:
    """The unfinished jobs of every app group that need waking (see the function above)."""
    ids = PhoneRenormalization.objects.filter(status__in=_UNFINISHED).values_list("pk", flat=True)
    return [pk for pk in ids if phone_renormalization_wake_if_stalled(job_id=pk, now=now)]


# --- running -------------------------------------------------------------------------------------


def phone_renormalization_run(
    *,
    job_id: int,
    now: dt.datetime | None = None,
    chunk_profiles: int | None = None,
    run_seconds: float | None = None,
    should_stop: Callable[[], bool] = shutdown_requested,
) -> Outcome:
    """Claim the job and work on it, chunk after chunk, for about `run_seconds` (RUN_SECONDS;
    at least one chunk of `chunk_profiles`, CHUNK_PROFILES). `now` is for tests; by default each
    chunk takes the time it runs at."""
    chunk_profiles = chunk_profiles or CHUNK_PROFILES
    run_seconds = RUN_SECONDS if run_seconds is None else run_seconds
    clock = (lambda: now) if now is not None else timezone.now
    token = rawsql.new_claim_token()
    if not _claim(job_id, token, clock()):
        return Outcome.TAKEN
    job = PhoneRenormalization.objects.only("app_group_id", "country").get(pk=job_id)
    deadline = time.monotonic() + run_seconds
    try:
        while True:
            outcome = _step(job.pk, job.app_group_id, job.country, token, chunk_profiles, clock())
            if outcome is not Outcome.MORE or time.monotonic() >= deadline or should_stop():
                return outcome
    except OperationalError:
        # A lock not granted in LOCK_TIMEOUT, a deadlock, a busy SQLite: the chunk rolled back.
        logger.warning("phone re-reading %s: chunk rolled back, tried again later", job_id)
        return Outcome.WAIT
    finally:
        PhoneRenormalization.objects.filter(pk=job_id, claim_token=token).update(
            claim_token=None, heartbeat_at=clock()
        )


def _claim(job_id: int, token: int, now: dt.datetime) -> bool:
    stale = now - dt.timedelta(seconds=STALE_SECONDS)
    claimed = PhoneRenormalization.objects.filter(
        Q(claim_token__isnull=True) | Q(heartbeat_at__lt=stale),
        pk=job_id,
        status__in=_UNFINISHED,
    ).update(status=Status.RUNNING, claim_token=token, heartbeat_at=now)
    if claimed:
        PhoneRenormalization.objects.filter(pk=job_id, started_at__isnull=True).update(
            started_at=now
        )
    return claimed == 1


def _step(
    job_id: int, app_group_id: int, country: str, token: int, limit: int, now: dt.datetime
) -> Outcome:
    """One chunk (or one phase change) in one transaction."""
    with transaction.atomic():
        if rawsql.is_postgres():
            rawsql.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'", [])
        # The app group's row first, then the job's: the settings change locks them in this
        # order too (appgroups.services.app_group_settings_update, then the supersede).
        share = " FOR SHARE" if rawsql.is_postgres() else ""
        current = rawsql.fetchall(
            f"SELECT default_country FROM {rawsql.table(AppGroup)} WHERE id = %s{share}",
            [app_group_id],
        )
        job = PhoneRenormalization.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.claim_token != token or job.status != Status.RUNNING:
            return Outcome.TAKEN
        if not current or current[0][0] != country:
            job.status, job.finished_at, job.claim_token = Status.SUPERSEDED, now, None
            job.save(update_fields=["status", "finished_at", "claim_token"])
            logger.info("phone re-reading %s: superseded by a newer default country", job_id)
            return Outcome.SUPERSEDED
        job.heartbeat_at = now
        fields = ["heartbeat_at", "cursor", "phase", "profiles_total", "profiles_done"]
        fields += ["phones_changed", "status", "finished_at"]

        if job.phase == Phase.SETTLE:
            if not _writes_settled(job, now):
                job.save(update_fields=["heartbeat_at"])
                return Outcome.WAIT
            job.phase, job.cursor = Phase.CATCH_UP, 0
            job.save(update_fields=fields)
            return Outcome.MORE

        if job.phase == Phase.SWEEP and job.profiles_total is None:
            job.profiles_total = Profile.objects.filter(app_group_id=app_group_id).count()
        since = None
        if job.phase == Phase.CATCH_UP:
            since = job.created_at - dt.timedelta(seconds=WRITE_MARGIN_SECONDS)
        count, last_id, changed = _chunk(app_group_id, country, job.cursor, limit, since)
        job.cursor = last_id
        job.phones_changed += changed
        if job.phase == Phase.SWEEP:
            job.profiles_done += count
        if count < limit:
            if job.phase == Phase.SWEEP:
                # Profiles created during the sweep count too.
                job.profiles_total = max(job.profiles_total, job.profiles_done)
                job.phase, job.cursor = Phase.SETTLE, 0
            else:
                job.status, job.finished_at = Status.DONE, now
        job.save(update_fields=fields)
    if job.status == Status.DONE:
        logger.info(
            "phone re-reading %s done: %s profiles, %s numbers changed",
            job_id,
            job.profiles_done,
            job.phones_changed,
        )
        return Outcome.DONE
    return Outcome.MORE


def _writes_settled(job: PhoneRenormalization, now: dt.datetime) -> bool:
    """No write that read the previous country can still be in flight."""
    if now < job.created_at + dt.timedelta(seconds=SETTLE_SECONDS):
        return False
    live = now - dt.timedelta(seconds=IMPORT_STALE_AFTER_SECONDS)
    return not UserImport.objects.filter(
        app_group_id=job.app_group_id,
        status=UserImport.Status.RUNNING,
        started_at__lte=job.created_at,
        heartbeat_at__gte=live,
    ).exists()


def _chunk(
    app_group_id: int, country: str, after_id: int, limit: int, since: dt.datetime | None
) -> tuple[int, int, int]:
    """Re-read the numbers of the group's next `limit` profiles after `after_id` (only those
    written since `since`, when given). Returns (profiles in the chunk, its last id, rows
    changed)."""
    table = rawsql.table(Profile)
    ((count, last_id),) = rawsql.fetchall(
        f"SELECT COUNT(*), MAX(id) FROM (SELECT id FROM {table} WHERE app_group_id = %s "
        "AND id > %s ORDER BY id LIMIT %s) AS chunk",
        [app_group_id, after_id, limit],
    )
    if not count:
        return 0, after_id, 0
    sql = (
        "SELECT id, phone, phone_e164, phone_sha256, phone_invalid_reason "
        f"FROM {table} WHERE app_group_id = %s AND id > %s AND id <= %s "
        "AND phone <> '' AND phone NOT LIKE %s"
    )
    params: list = [app_group_id, after_id, last_id, _INTERNATIONAL]
    if since is not None:
        sql += " AND updated_at >= %s"
        params.append(since)
    changed = []
    hash_changing = []
    normalize = identifiers.normalize_phone
    for pk, raw, e164, sha256, reason in rawsql.fetchall(sql, params):
        new = normalize(raw, default_country=country)
        if (new.value, new.sha256, new.invalid_reason) != (e164, sha256, reason or ""):
            changed.append((pk, raw, new.value, new.sha256, new.invalid_reason))
            if new.sha256 != sha256:
                hash_changing.append(pk)
    if hash_changing:
        profile_hashes_changing.send(sender=Profile, profile_ids=hash_changing)
    return count, last_id, _write(changed)


_WRITTEN = ("id", "phone", "phone_e164", "phone_sha256", "phone_invalid_reason")


def _write(rows: list[tuple]) -> int:
    """Set the three derived phone columns of `rows` (id, raw phone read, e164, sha256, reason)
    where the raw phone is still the one read. Returns the rows written."""
    if not rows:
        return 0
    table = rawsql.table(Profile)
    if rawsql.is_postgres():
        assignments = ", ".join(f"{c} = v.{c}" for c in _WRITTEN[2:])
        with rawsql.server_cursor() as cursor:
            # Row locks in id order, as /users/track takes them: the two cannot deadlock.
            cursor.execute(
                f"SELECT id FROM {table} WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                [[row[0] for row in rows]],
            )
            cursor.execute(
                f"UPDATE {table} SET {assignments} "
                f"FROM jsonb_to_recordset(%s::jsonb) AS v({_record_type()}) "
                f"WHERE {table}.id = v.id AND {table}.phone = v.phone",
                [orjson.dumps([dict(zip(_WRITTEN, row, strict=True)) for row in rows]).decode()],
            )
            return cursor.rowcount
    written = 0
    per_statement = rawsql.MAX_PARAMS_PER_STATEMENT // len(_WRITTEN)
    placeholder = "(" + ", ".join(["%s"] * len(_WRITTEN)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            part = rows[start : start + per_statement]
            # VALUES names its columns column1, column2…; a statement starting with UPDATE
            # (not WITH) reports its rowcount through Python's sqlite3.
            cursor.execute(
                f"UPDATE {table} SET phone_e164 = v.column3, phone_sha256 = v.column4, "
                "phone_invalid_reason = v.column5 "
                f"FROM (VALUES {', '.join([placeholder] * len(part))}) AS v "
                f"WHERE {table}.id = v.column1 AND {table}.phone = v.column2",
                [value for row in part for value in row],
            )
            written += cursor.rowcount
    return written


def _record_type() -> str:
    fields = {f.column: f for f in Profile._meta.concrete_fields}
    return ", ".join(f"{c} {fields[c].db_type(connection)}" for c in _WRITTEN)
