"""Writing a CSV import's rows in batches.

PostgreSQL COPYs a batch into a temporary table, SQLite inserts it with executemany, then one
INSERT … SELECT … ON CONFLICT (app_group, external_id) upserts profiles and one more the imported
ad ids (on the one device "csv-import"). On PostgreSQL a batch that is likely all new profiles
is first tried with plain INSERTs (`BatchWriter._insert_new`). `WriterPipeline` runs the writes
in threads of their own (two on PostgreSQL, each profile always by the same one), one batch
behind the reader.
"""

from __future__ import annotations

import csv
import io
import queue
import threading
from operator import itemgetter
from typing import NamedTuple

import orjson
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from appgroups.models import AppGroup
from core.rawsql import adapt, is_postgres, quote
from users.csv_import.reader import POS, STAGE_COLUMNS
from users.models import Device, Profile
from users.services.profiles import new_braze_ids
from users.signals import profile_hashes_changing

# Writers at once on PostgreSQL (WriterPipeline). Two keep both CPUs of a small machine busy
# next to the reading thread; more would compete with it for the CPUs.
WRITER_THREADS = 2

# The one device that holds the ad ids and ad tracking a CSV brings.
IMPORT_DEVICE_ID = "csv-import"

# Staging table, one row per CSV row (its columns: reader.STAGE_COLUMNS).
STAGE_TABLE = "braze_sync_import_rows"
STAGE_NAMES = tuple(name for name, _ in STAGE_COLUMNS)
_TEXT_STAGE_COLUMNS = (
    "first_name",
    "last_name",
    "country",
    "language",
    "gender",
    "home_city",
    "time_zone",
    "email_subscribe",
    "push_subscribe",
)


# --- writing batches ------------------------------------------------------------------------------


class CopyBatch(NamedTuple):
    """A batch prepared for PostgreSQL: COPY's data, the staging columns it fills and the
    options that read it."""

    data: bytes
    columns: tuple[str, ...]
    options: str


# Both formats read an empty field as NULL. A staged "" (a valid value's invalid_reason) means
# what NULL means there: the upsert COALESCEs both to "".
COPY_TEXT = "FORMAT text, NULL ''"
COPY_CSV = "FORMAT csv"


def copy_batch(rows: list[list], columns: tuple[str, ...] = STAGE_NAMES) -> CopyBatch:
    """The rows' `columns` (values str or None: BatchWriter.prepare) as COPY data: tab-separated
    text when no value holds a tab, a line break or a backslash (which that format would need
    escaped), else CSV. The staging columns left out are NULL.

    The csv module's writer costs ~6 µs a row of staging values, a fifth of the reading thread's
    work; a plain join costs ~2, and four scans of the joined batch (in C) tell whether any
    value needs escaping: then the whole batch goes through the csv writer instead. Each staging
    column left out because the file cannot fill it (reader.RowReader.filled_columns) saves
    ~40 ns a row.
    """
    pick = itemgetter(*(POS[name] for name in columns))
    lines = ["\t".join(["" if v is None else v for v in pick(row)]) for row in rows]
    lines.append("")
    text = "\n".join(lines)
    if (
        "\\" not in text
        and "\r" not in text
        and text.count("\n") == len(rows)
        and text.count("\t") == len(rows) * (len(columns) - 1)
    ):
        return CopyBatch(text.encode(), columns, COPY_TEXT)
    # None and "" become an unquoted empty field, which COPY reads as NULL. Python's csv writer
    # quotes a value holding a character of the line terminator only: with "\n" alone, a
    # carriage return went unquoted and COPY refused the batch.
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(map(pick, rows))
    return CopyBatch(buffer.getvalue().encode(), columns, COPY_CSV)


def _stage_table_sql() -> str:
    columns = ", ".join(
        f"{quote(name)} {'text' if (kind == 'jsonb' and not is_postgres()) else kind}"
        for name, kind in STAGE_COLUMNS
    )
    suffix = " ON COMMIT DELETE ROWS" if is_postgres() else ""
    return f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE_TABLE} ({columns}){suffix}"


def _given(row: str) -> dict[str, str]:
    """Per identifier, whether a staged row (`row`: the staging alias, or EXCLUDED in the
    upsert) brings it: an import overwrites only what the file gives."""
    return {
        "email": f"{row}.email <> ''",
        "phone": f"{row}.phone <> ''",
        "idfa": f"({row}.idfa_sha256 IS NOT NULL OR {row}.idfa_invalid_reason <> '')",
        "gaid": f"({row}.gaid_sha256 IS NOT NULL OR {row}.gaid_invalid_reason <> '')",
    }


def _is_distinct_from() -> str:
    return "IS DISTINCT FROM" if is_postgres() else "IS NOT"


def _profile_upsert_sql(*, new_only: bool = False) -> str:
    """INSERT … SELECT of the staged rows into profiles: a stored profile (same app group and
    external_id) is updated with what the row gives. With `new_only`, a plain INSERT, which a
    stored profile makes fail (IntegrityError)."""
    profile = quote(Profile._meta.db_table)
    given_text = "CASE WHEN EXCLUDED.{c} <> '' THEN EXCLUDED.{c} ELSE {p}.{c} END"

    def follow(column: str, lead: str, lead_test: str) -> str:
        return f"CASE WHEN {lead_test} THEN EXCLUDED.{column} ELSE {profile}.{column} END"

    given = _given("EXCLUDED")
    email_given, phone_given = given["email"], given["phone"]
    idfa_given, gaid_given = given["idfa"], given["gaid"]
    updates = {
        "email": follow("email", "email", email_given),
        "email_sha256": follow("email_sha256", "email", email_given),
        "email_invalid_reason": follow("email_invalid_reason", "email", email_given),
        "phone": follow("phone", "phone", phone_given),
        "phone_e164": follow("phone_e164", "phone", phone_given),
        "phone_sha256": follow("phone_sha256", "phone", phone_given),
        "phone_invalid_reason": follow("phone_invalid_reason", "phone", phone_given),
        **{c: given_text.format(c=c, p=profile) for c in _TEXT_STAGE_COLUMNS},
        "dob": f"COALESCE(EXCLUDED.dob, {profile}.dob)",
        "custom_attributes": (
            f"{profile}.custom_attributes || EXCLUDED.custom_attributes"
            if is_postgres()
            else f"json_patch({profile}.custom_attributes, EXCLUDED.custom_attributes)"
        ),
        "idfa_sha256": follow("idfa_sha256", "idfa", idfa_given),
        "idfa_invalid_reason": follow("idfa_invalid_reason", "idfa", idfa_given),
        "gaid_sha256": follow("gaid_sha256", "gaid", gaid_given),
        "gaid_invalid_reason": follow("gaid_invalid_reason", "gaid", gaid_given),
        "ad_tracking_enabled": (
            f"COALESCE(EXCLUDED.ad_tracking_enabled, {profile}.ad_tracking_enabled)"
        ),
        "updated_at": "EXCLUDED.updated_at",
    }
    empty_json = "'{}'::jsonb" if is_postgres() else "'{}'"
    selected = {
        "app_group_id": "%s",
        "braze_id": "t.braze_id",
        "external_id": "t.external_id",
        "email": "COALESCE(t.email, '')",
        "email_sha256": "t.email_sha256",
        "email_invalid_reason": "COALESCE(t.email_invalid_reason, '')",
        "phone": "COALESCE(t.phone, '')",
        "phone_e164": "t.phone_e164",
        "phone_sha256": "t.phone_sha256",
        "phone_invalid_reason": "COALESCE(t.phone_invalid_reason, '')",
        **{c: f"COALESCE(t.{c}, '')" for c in _TEXT_STAGE_COLUMNS},
        "dob": "t.dob",
        "custom_attributes": f"COALESCE(t.custom_attributes, {empty_json})",
        "idfa_sha256": "t.idfa_sha256",
        "idfa_invalid_reason": "COALESCE(t.idfa_invalid_reason, '')",
        "gaid_sha256": "t.gaid_sha256",
        "gaid_invalid_reason": "COALESCE(t.gaid_invalid_reason, '')",
        "ad_tracking_enabled": "t.ad_tracking_enabled",
        "created_at": "%s",
        "updated_at": "%s",
    }
    # A row that would not change is left alone (no new row version, no index entries, and on
    # PostgreSQL no device write either): re-importing a file costs a lookup per unchanged row.
    compared = [c for c in updates if c != "updated_at"]
    new_values = ", ".join(updates[c] for c in compared)
    old_values = ", ".join(f"{profile}.{quote(c)}" for c in compared)
    distinct = _is_distinct_from()
    # SQLite needs the WHERE to tell ON CONFLICT from a join's ON.
    insert = (
        f"INSERT INTO {profile} ({', '.join(quote(c) for c in selected)}) "
        f"SELECT {', '.join(selected.values())} FROM {STAGE_TABLE} t WHERE true"
    )
    if new_only:
        return insert
    return (
        insert
        + " ON CONFLICT (app_group_id, external_id) DO UPDATE SET "
        + ", ".join(f"{quote(c)} = {expr}" for c, expr in updates.items())
        + f" WHERE ({new_values}) {distinct} ({old_values})"
    )


def _hash_changing_sql() -> str:
    """The stored profiles whose email, phone or ad id hash the staged rows change."""
    profile = quote(Profile._meta.db_table)
    distinct = _is_distinct_from()
    changes = " OR ".join(
        f"({test} AND t.{lead}_sha256 {distinct} p.{lead}_sha256)"
        for lead, test in _given("t").items()
    )
    if is_postgres():
        # One index probe per staged row, whatever the statistics say. A plain join was planned
        # as a hash join over every profile of the app group: during a big import into a new
        # group the statistics still call it small, and each batch read all the rows imported
        # so far (1.1 s for the 49th batch of 20,000; 31 µs a row over 1M rows, against 3.7).
        # LIMIT 1 keeps the subquery from being flattened into that join.
        hashes = ", ".join(f"{lead}_sha256" for lead in _given("t"))
        # One row: how many staged rows are stored profiles (BatchWriter.new_profiles_expected),
        # and the ids of those whose hashes change.
        return (
            f"SELECT count(*), array_agg(p.id) FILTER (WHERE {changes}) FROM {STAGE_TABLE} t "
            f"CROSS JOIN LATERAL (SELECT id, {hashes} FROM {profile} "
            "WHERE app_group_id = %s AND external_id = t.external_id LIMIT 1) p"
        )
    return (
        f"SELECT p.id FROM {STAGE_TABLE} t JOIN {profile} p "
        f"ON p.app_group_id = %s AND p.external_id = t.external_id WHERE {changes}"
    )


def _device_upsert_sql(*, new_only: bool = False) -> str:
    """The import device of each staged row that brings an ad id or ad tracking. With
    `new_only` (profiles inserted by the same statement, which have no device yet), a plain
    INSERT."""
    device = quote(Device._meta.db_table)
    profile = quote(Profile._meta.db_table)

    def follow(column: str, stamp: str) -> str:
        return (
            f"CASE WHEN EXCLUDED.{stamp} IS NOT NULL THEN EXCLUDED.{column} "
            f"ELSE {device}.{column} END"
        )

    updates = {
        "idfa": follow("idfa", "idfa_reported_at"),
        "idfa_sha256": follow("idfa_sha256", "idfa_reported_at"),
        "idfa_invalid_reason": follow("idfa_invalid_reason", "idfa_reported_at"),
        "google_ad_id": follow("google_ad_id", "gaid_reported_at"),
        "gaid_sha256": follow("gaid_sha256", "gaid_reported_at"),
        "gaid_invalid_reason": follow("gaid_invalid_reason", "gaid_reported_at"),
        "ad_tracking_enabled": follow("ad_tracking_enabled", "ad_tracking_reported_at"),
        **{
            stamp: f"COALESCE(EXCLUDED.{stamp}, {device}.{stamp})"
            for stamp in ("idfa_reported_at", "gaid_reported_at", "ad_tracking_reported_at")
        },
        "updated_at": "EXCLUDED.updated_at",
    }
    selected = {
        "profile_id": "p.id",
        "device_id": "%s",
        "os": "''",
        "model": "''",
        "idfa": "COALESCE(t.idfa, '')",
        "idfa_sha256": "t.idfa_sha256",
        "idfa_invalid_reason": "COALESCE(t.idfa_invalid_reason, '')",
        "google_ad_id": "COALESCE(t.google_ad_id, '')",
        "gaid_sha256": "t.gaid_sha256",
        "gaid_invalid_reason": "COALESCE(t.gaid_invalid_reason, '')",
        "ad_tracking_enabled": "t.ad_tracking_enabled",
        "idfa_reported_at": "CASE WHEN t.idfa IS NOT NULL THEN %s END",
        "gaid_reported_at": "CASE WHEN t.google_ad_id IS NOT NULL THEN %s END",
        "ad_tracking_reported_at": "CASE WHEN t.ad_tracking_enabled IS NOT NULL THEN %s END",
        "created_at": "%s",
        "updated_at": "%s",
    }
    if is_postgres():
        # Ids straight from the profile upsert (see BatchWriter): no lookup of the group's
        # profiles, whose hash join would read every profile of the app group for each batch.
        source = f"upserted p JOIN {STAGE_TABLE} t ON t.external_id = p.external_id"
    else:
        # SQLite probes the (app_group, external_id) index for each staged row.
        source = (
            f"{STAGE_TABLE} t JOIN {profile} p "
            "ON p.app_group_id = %s AND p.external_id = t.external_id"
        )
    insert = (
        f"INSERT INTO {device} ({', '.join(quote(c) for c in selected)}) "
        f"SELECT {', '.join(selected.values())} FROM {source} "
        "WHERE t.idfa IS NOT NULL OR t.google_ad_id IS NOT NULL "
        "OR t.ad_tracking_enabled IS NOT NULL"
    )
    if new_only:
        return insert
    return (
        insert
        + " ON CONFLICT (profile_id, device_id) DO UPDATE SET "
        + ", ".join(f"{quote(c)} = {expr}" for c, expr in updates.items())
    )


# Profiles of the app group counted at most, to compare with the planner's estimate.
STATISTICS_COUNT_LIMIT = 10_000


def _statistics_refresh_if_stale(app_group_id: int) -> bool:
    """ANALYZE the profile table when the planner believes the app group holds fewer than half
    of its profiles (counted up to STATISTICS_COUNT_LIMIT, from 100 on).

    An import into a new app group starts with statistics that call the group empty (or, when
    every other group is a most-common value, one row). The hash-change probe then has two
    equally cheap-looking indexes: (app_group, external_id), and (app_group, id) filtering
    on external_id, which reads every profile of the group for each staged row. A count under
    a LIMIT and an EXPLAIN cost about a millisecond a batch; the ANALYZE happens once or twice
    an import that updates stored profiles. Batches of new profiles do not probe, and do not
    ask: their import ends with an ANALYZE (lifecycle.ANALYZE_AFTER_ROWS). Runs in the batch's
    transaction, whose end releases ANALYZE's lock (which only ANALYZE and VACUUM wait for).

    True once the estimate reaches half the limit: then no count can find it stale again."""
    profile = quote(Profile._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {profile} WHERE app_group_id = %s LIMIT %s) s",
            [app_group_id, STATISTICS_COUNT_LIMIT],
        )
        held = cursor.fetchone()[0]
        if held < 100:
            return False
        cursor.execute(
            f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {profile} WHERE app_group_id = %s",
            [app_group_id],
        )
        estimate = cursor.fetchone()[0][0]["Plan"]["Plan Rows"]
        if estimate < held / 2:
            cursor.execute(f"ANALYZE {profile}")
        return estimate >= STATISTICS_COUNT_LIMIT / 2


class BatchWriter:
    """Writes batches of staging rows for one app group.

    `prepare` (pure Python) and `write` (the database) are separate so that `WriterPipeline` can
    run them in two threads: the database works on one batch while Python reads the next.
    """

    def __init__(self, app_group: AppGroup):
        self.app_group_id = app_group.id
        self.postgres = is_postgres()
        # Set once the planner's estimate of the group can no longer be found stale.
        self.statistics_settled = False
        # A hint shared by the writers: whether the next batch is likely all new profiles
        # (PostgreSQL). Then it is first inserted without looking for stored profiles.
        self.new_profiles_expected = True
        profile_sql = _profile_upsert_sql()
        if self.postgres:
            device_sql = _device_upsert_sql()
            self.upsert_sql = (
                f"WITH upserted AS ({profile_sql} RETURNING id, external_id) " + device_sql
            )
            self.insert_new_sql = (
                f"WITH upserted AS ({_profile_upsert_sql(new_only=True)} RETURNING id, "
                f"external_id) {_device_upsert_sql(new_only=True)}"
            )
        else:
            self.upsert_sql = profile_sql
            self.device_sql = _device_upsert_sql()
        self.hash_changing_sql = _hash_changing_sql()
        self.insert_stage_sql = (
            f"INSERT INTO {STAGE_TABLE} VALUES ({', '.join(['%s'] * len(STAGE_COLUMNS))})"
        )

    def prepare(self, rows: list[list], columns: tuple[str, ...] = STAGE_NAMES):
        """A batch for `write`; `columns` are the staging columns that the rows can fill
        (reader.RowReader.filled_columns)."""
        custom = POS["custom_attributes"]
        for row, braze_id in zip(rows, new_braze_ids(len(rows)), strict=True):
            row[1] = braze_id
            if row[custom] is not None:
                row[custom] = orjson.dumps(row[custom]).decode()
        if not self.postgres:
            return [[adapt(v) for v in row] for row in rows]
        # COPY's text: every value a str or None, so that copy_batch tests no type per value.
        if "dob" in columns:
            dob = POS["dob"]
            for row in rows:
                if row[dob] is not None:
                    row[dob] = row[dob].isoformat()
        if "ad_tracking_enabled" in columns:
            tracking = POS["ad_tracking_enabled"]
            for row in rows:
                if row[tracking] is not None:
                    row[tracking] = "t" if row[tracking] else "f"
        return copy_batch(rows, columns)

    def write(self, payload) -> None:
        now = adapt(timezone.now())
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_stage_table_sql())
            # Emptied here too: inside an outer transaction nothing commits between batches.
            cursor.execute(
                f"TRUNCATE {STAGE_TABLE}" if self.postgres else f"DELETE FROM {STAGE_TABLE}"
            )
            if self.postgres:
                columns = ", ".join(quote(name) for name in payload.columns)
                with cursor.cursor.copy(
                    f"COPY {STAGE_TABLE} ({columns}) FROM STDIN ({payload.options})"
                ) as copy:
                    copy.write(payload.data)
                params = [self.app_group_id, now, now, IMPORT_DEVICE_ID, now, now, now, now, now]
                if self.new_profiles_expected and self._insert_new(cursor, params):
                    return
                if not self.statistics_settled:
                    self.statistics_settled = _statistics_refresh_if_stale(self.app_group_id)
                stored = self._tell_hash_changes(cursor)
                cursor.execute(self.upsert_sql, params)
                self.new_profiles_expected = stored == 0
            else:
                cursor.executemany(self.insert_stage_sql, payload)
                self._tell_hash_changes(cursor)
                cursor.execute(self.upsert_sql, [self.app_group_id, now, now])
                cursor.execute(
                    self.device_sql,
                    [IMPORT_DEVICE_ID, now, now, now, now, now, self.app_group_id],
                )
                cursor.execute(f"DELETE FROM {STAGE_TABLE}")

    def _insert_new(self, cursor, params: list) -> bool:
        """Insert the staged rows as new profiles (and their devices) with plain INSERTs; False,
        with nothing written, when one of them is a stored profile.

        New profiles change no stored hash and have no device yet: no probe for stored profiles
        (3.7 µs a row) and no ON CONFLICT, whose speculative insertion costs a quarter more than
        a plain insert (docs/PERFORMANCE.md, sitting 10). A stored profile makes the insert fail
        at its row, inside a savepoint, and the batch goes the upsert's way."""
        try:
            with transaction.atomic():
                cursor.execute(self.insert_new_sql, params)
        except IntegrityError:
            return False
        return True

    def _tell_hash_changes(self, cursor) -> int | None:
        """Send profile_hashes_changing for the stored profiles whose hashes the staged rows
        change. On PostgreSQL, return how many staged rows are stored profiles (for
        `new_profiles_expected`); SQLite, which always probes, returns None."""
        cursor.execute(self.hash_changing_sql, [self.app_group_id])
        if self.postgres:
            stored, changing = cursor.fetchone()
        else:
            stored, changing = None, [pk for (pk,) in cursor.fetchall()]
        if changing:
            profile_hashes_changing.send(sender=Profile, profile_ids=changing)
        return stored


class WriterPipeline:
    """Runs `writer.write` in threads of their own when it can, one batch behind the reader.

    On PostgreSQL, `WRITER_THREADS` threads write at once, each on its own connection: one
    backend upserting a batch was the import's bottleneck (its profile upsert alone costs what
    the bench's floor does per row), and a second one uses the other CPU while Python reads.
    Rows are dealt to writers by external_id (`writer_for`), so each profile is written by one
    writer, in file order: a later row still wins, and two writers never wait on each other's
    rows (no lock waits, no deadlocks).

    Inside an outer transaction (tests using the `db` fixture, callers holding a transaction)
    a second connection could not see or commit the same work, so batches are written inline.
    SQLite has one writer at a time anyway: one thread.
    """

    _DONE = object()

    def __init__(self, writer: BatchWriter):
        self.writer = writer
        self.error: BaseException | None = None
        self.threaded = not connection.in_atomic_block
        self.count = WRITER_THREADS if self.threaded and writer.postgres else 1
        self.queues: list[queue.Queue] = []
        self.threads: list[threading.Thread] = []
        if self.threaded:
            for number in range(self.count):
                self.queues.append(queue.Queue(maxsize=1))
                thread = threading.Thread(
                    target=self._run,
                    args=(self.queues[number],),
                    name=f"csv-import-writer-{number}",
                    daemon=True,
                )
                thread.start()
                self.threads.append(thread)

    def writer_for(self, external_id: str) -> int:
        """Which writer writes this external_id's rows (the same one for the whole import)."""
        return hash(external_id) % self.count if self.count > 1 else 0

    def _run(self, batches: queue.Queue) -> None:
        try:
            while (payload := batches.get()) is not self._DONE:
                if self.error is None:
                    try:
                        self.writer.write(payload)
                    except BaseException as exc:  # handed to the reading thread
                        self.error = exc
        finally:
            connection.close()

    def submit(self, payload, number: int = 0) -> None:
        """Write a prepared batch by writer `number` (see `writer_for`)."""
        if self.error is not None:
            raise self.error
        if self.threaded:
            self.queues[number].put(payload)
        else:
            self.writer.write(payload)

    def close(self) -> None:
        if self.threaded:
            for batches in self.queues:
                batches.put(self._DONE)
            for thread in self.threads:
                thread.join()
        if self.error is not None:
            raise self.error
