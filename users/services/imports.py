"""CSV imports of users (Audience > Import Users and `manage.py import_users`).

A file is read as a stream, each row normalized once (users.identifiers), and rows are written
in batches: PostgreSQL COPYs a batch into a temporary table, SQLite inserts it with executemany,
then one INSERT … SELECT … ON CONFLICT (app_group, external_id) upserts profiles and one more the
imported ad ids. Imports are idempotent on external_id; an empty cell leaves the stored value.

Columns: external_id (required), email, phone, first_name, last_name, idfa, google_ad_id,
ad_tracking_enabled, the other Braze standard fields (country, language, dob, gender, home_city,
time_zone, email_subscribe, push_subscribe), and any other column as a custom attribute
("true"/"false" become booleans, plain integers and decimals numbers, the rest strings).
Ad ids and ad tracking go on one device per profile, "csv-import" (Braze keeps ad ids on
devices; DESIGN.md §4.10).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import queue
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import BinaryIO

import orjson
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from appgroups.models import AppGroup, Membership, Permission
from appgroups.services import membership_require
from core.rawsql import adapt, is_postgres, quote
from users import identifiers
from users.models import Device, Profile, UserImport, UserImportChunk, UserImportIssue
from users.profile_fields import (
    AD_ID_RAW_MAX_LENGTH,
    EMAIL_RAW_MAX_LENGTH,
    EXTERNAL_ID_MAX_LENGTH,
    INT_MAX,
    INT_MIN,
    PHONE_RAW_MAX_LENGTH,
    STANDARD_FIELDS,
    TEXT_MAX_LENGTH,
    FieldError,
    clean_attribute_name,
)
from users.services.profiles import new_braze_ids

logger = logging.getLogger(__name__)

# Braze caps CSV imports at 500 MB.
MAX_FILE_BYTES = 500 * 1024 * 1024
# Uploaded files are kept in the database in pieces of this size until the import has run.
CHUNK_BYTES = 4 * 1024 * 1024
# Rows per write: large enough for COPY to pay off, small enough to report progress often.
BATCH_ROWS = 20_000
# Imports at least this large refresh PostgreSQL's statistics of the profile table.
ANALYZE_AFTER_ROWS = 50_000
# The report keeps the first issues; the counters count them all.
MAX_STORED_ISSUES = 10_000
MAX_COLUMNS = 500
# The one device that holds the ad ids and ad tracking a CSV brings.
IMPORT_DEVICE_ID = "csv-import"
# A running import whose worker stopped writing progress this long ago may be claimed again.
STALE_AFTER_SECONDS = 10 * 60

REQUIRED_COLUMN = "external_id"
AD_COLUMNS = ("idfa", "google_ad_id", "ad_tracking_enabled")
STANDARD_COLUMNS = frozenset(STANDARD_FIELDS) | {REQUIRED_COLUMN, *AD_COLUMNS}
# Other ways of naming a profile: rows are matched by external_id only.
REFUSED_COLUMNS = frozenset(
    {"braze_id", "user_alias", "alias_name", "alias_label", "user_aliases", "devices"}
)
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]{0,18})")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+")

# Staging table, one row per CSV row; NULL means "the cell was empty": keep the stored value.
STAGE_TABLE = "braze_sync_import_rows"
STAGE_COLUMNS = (
    ("external_id", "varchar(512)"),
    ("braze_id", "varchar(24)"),
    ("email", "varchar(255)"),
    ("email_sha256", "varchar(64)"),
    ("email_invalid_reason", "varchar(100)"),
    ("phone", "varchar(64)"),
    ("phone_e164", "varchar(16)"),
    ("phone_sha256", "varchar(64)"),
    ("phone_invalid_reason", "varchar(100)"),
    ("first_name", "varchar(255)"),
    ("last_name", "varchar(255)"),
    ("country", "varchar(2)"),
    ("language", "varchar(2)"),
    ("dob", "date"),
    ("gender", "varchar(1)"),
    ("home_city", "varchar(255)"),
    ("time_zone", "varchar(64)"),
    ("email_subscribe", "varchar(12)"),
    ("push_subscribe", "varchar(12)"),
    ("custom_attributes", "jsonb"),
    ("idfa", "varchar(64)"),
    ("idfa_sha256", "varchar(64)"),
    ("idfa_invalid_reason", "varchar(100)"),
    ("google_ad_id", "varchar(64)"),
    ("gaid_sha256", "varchar(64)"),
    ("gaid_invalid_reason", "varchar(100)"),
    ("ad_tracking_enabled", "boolean"),
)
POS = {name: i for i, (name, _) in enumerate(STAGE_COLUMNS)}
# Cells that are written together: when the first is given, the others follow it.
GROUPS = (
    ("email", "email_sha256", "email_invalid_reason"),
    ("phone", "phone_e164", "phone_sha256", "phone_invalid_reason"),
    ("idfa", "idfa_sha256", "idfa_invalid_reason"),
    ("google_ad_id", "gaid_sha256", "gaid_invalid_reason"),
)
_GROUPED = {name for group in GROUPS for name in group}
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


class CsvFileError(Exception):
    """The file cannot be imported at all (not CSV, not UTF-8, no external_id column...)."""


class RowRejected(Exception):
    def __init__(self, reason: str, column: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.column = column


@dataclass
class ImportProgress:
    bytes_processed: int = 0
    rows_processed: int = 0
    rows_imported: int = 0
    rows_rejected: int = 0
    values_unusable: int = 0
    issues: list[UserImportIssue] = field(default_factory=list)


# --- reading rows ---------------------------------------------------------------------------------


class _CountingReader(io.RawIOBase):
    """Counts the bytes read from a binary stream, for the progress bar."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def _parse_bool(cell: str, column: str) -> bool:
    lowered = cell.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise RowRejected(f"{column} must be true or false", column)


def _custom_value(cell: str, column: str):
    if len(cell) in (4, 5):
        lowered = cell.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    if cell[0].isdigit() or cell[0] == "-":
        if _INTEGER.fullmatch(cell):
            number = int(cell)
            if INT_MIN <= number <= INT_MAX:
                return number
        elif _DECIMAL.fullmatch(cell):
            number = float(cell)
            if math.isfinite(number):
                return number
    if len(cell) > TEXT_MAX_LENGTH:
        raise RowRejected(f"{column} is longer than {TEXT_MAX_LENGTH} characters", column)
    return cell


class _RowReader:
    """Turns CSV rows into staging tuples, rejecting rows that cannot be imported."""

    def __init__(self, header: list[str], default_country: str):
        self.default_country = default_country
        names = []
        for index, raw_name in enumerate(header):
            name = raw_name.strip()
            if not name:
                raise CsvFileError(f"column {index + 1} of the header has no name")
            if name.lower() in STANDARD_COLUMNS:
                name = name.lower()
            elif name.lower() in REFUSED_COLUMNS:
                raise CsvFileError(
                    f"column '{name[:50]}' cannot be imported: rows are matched by external_id"
                )
            else:
                try:
                    clean_attribute_name(name)
                except FieldError as exc:
                    raise CsvFileError(f"column {index + 1}: {exc}") from exc
            names.append(name)
        if len(set(names)) != len(names):
            duplicate = next(n for n in names if names.count(n) > 1)
            raise CsvFileError(f"column '{duplicate[:50]}' appears twice in the header")
        if REQUIRED_COLUMN not in names:
            raise CsvFileError("the header has no external_id column")
        if len(names) > MAX_COLUMNS:
            raise CsvFileError(f"the file has more than {MAX_COLUMNS} columns")
        self.names = names
        self.width = len(names)
        self.external_id_index = names.index(REQUIRED_COLUMN)
        # One handler per column, chosen once: rows are many, columns few.
        self.handlers = [
            (i, name, self._handler(name))
            for i, name in enumerate(names)
            if name != REQUIRED_COLUMN
        ]
        self.custom_position = POS["custom_attributes"]

    def _handler(self, name: str):
        """A function (cell, values, custom) -> reason a kept value is unusable, or ""."""
        country = self.default_country
        normalize_email, normalize_phone = identifiers.normalize_email, identifiers.normalize_phone
        normalize_ad_id = identifiers.normalize_ad_id

        def checked(cell: str, max_length: int) -> str:
            if len(cell) > max_length:
                raise RowRejected(f"{name} is longer than {max_length} characters", name)
            if "\x00" in cell:
                raise RowRejected(f"{name} has a NUL character", name)
            return cell

        if name == "email":

            def handle(cell, values, custom):
                result = normalize_email(checked(cell, EMAIL_RAW_MAX_LENGTH))
                values[2:5] = (cell, result.sha256, result.invalid_reason)
                return result.invalid_reason

        elif name == "phone":

            def handle(cell, values, custom):
                result = normalize_phone(
                    checked(cell, PHONE_RAW_MAX_LENGTH), default_country=country
                )
                values[5:9] = (cell, result.value, result.sha256, result.invalid_reason)
                return result.invalid_reason

        elif name in ("idfa", "google_ad_id"):
            start = POS[name]

            def handle(cell, values, custom):
                result = normalize_ad_id(checked(cell, AD_ID_RAW_MAX_LENGTH))
                values[start : start + 3] = (cell, result.sha256, result.invalid_reason)
                return result.invalid_reason

        elif name == "ad_tracking_enabled":
            position = POS[name]

            def handle(cell, values, custom):
                values[position] = _parse_bool(cell, name)
                return ""

        elif name in ("first_name", "last_name", "home_city"):
            position = POS[name]

            def handle(cell, values, custom):
                values[position] = checked(cell, TEXT_MAX_LENGTH)
                return ""

        elif name in STANDARD_FIELDS:
            setter = STANDARD_FIELDS[name]

            def handle(cell, values, custom):
                try:
                    for column, value in setter(cell, country).items():
                        values[POS[column]] = value
                except FieldError as exc:
                    raise RowRejected(str(exc), name) from exc
                return ""

        else:

            def handle(cell, values, custom):
                if "\x00" in cell:
                    raise RowRejected(f"{name} has a NUL character", name)
                custom[name] = _custom_value(cell, name)
                return ""

        return handle

    def read(self, row: list[str]) -> tuple[list, list[tuple[str, str]]]:
        """(staging values, [(column, reason) of values kept but unusable]); RowRejected."""
        if len(row) != self.width:
            raise RowRejected(f"expected {self.width} fields, found {len(row)}")
        external_id = row[self.external_id_index].strip()
        if not external_id:
            raise RowRejected("missing external_id", REQUIRED_COLUMN)
        if len(external_id) > EXTERNAL_ID_MAX_LENGTH or "\x00" in external_id:
            raise RowRejected("external_id is too long or has a NUL character", REQUIRED_COLUMN)
        values: list = [None] * len(STAGE_COLUMNS)
        values[0] = external_id
        unusable: list[tuple[str, str]] = []
        custom: dict = {}
        for index, name, handle in self.handlers:
            cell = row[index]
            if not cell:
                continue
            cell = cell.strip()
            if not cell:
                continue
            reason = handle(cell, values, custom)
            if reason:
                unusable.append((name, reason))
        if custom:
            values[self.custom_position] = custom
        return values, unusable


def _merge(old: list, new: list) -> list:
    """Two rows for the same external_id in one batch: the later one's cells win."""
    merged = list(old)
    for group in GROUPS:
        first = POS[group[0]]
        if new[first] is not None:
            for name in group:
                merged[POS[name]] = new[POS[name]]
    for name, i in POS.items():
        if name in _GROUPED or name == "custom_attributes":
            continue
        if new[i] is not None:
            merged[i] = new[i]
    custom = POS["custom_attributes"]
    if new[custom] is not None:
        merged[custom] = {**(old[custom] or {}), **new[custom]}
    return merged


# --- writing batches ------------------------------------------------------------------------------


def _stage_table_sql() -> str:
    columns = ", ".join(
        f"{quote(name)} {'text' if (kind == 'jsonb' and not is_postgres()) else kind}"
        for name, kind in STAGE_COLUMNS
    )
    suffix = " ON COMMIT DELETE ROWS" if is_postgres() else ""
    return f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE_TABLE} ({columns}){suffix}"


def _profile_upsert_sql() -> str:
    profile = quote(Profile._meta.db_table)
    given_text = "CASE WHEN EXCLUDED.{c} <> '' THEN EXCLUDED.{c} ELSE {p}.{c} END"

    def follow(column: str, lead: str, lead_test: str) -> str:
        return f"CASE WHEN {lead_test} THEN EXCLUDED.{column} ELSE {profile}.{column} END"

    email_given = "EXCLUDED.email <> ''"
    phone_given = "EXCLUDED.phone <> ''"
    idfa_given = "(EXCLUDED.idfa_sha256 IS NOT NULL OR EXCLUDED.idfa_invalid_reason <> '')"
    gaid_given = "(EXCLUDED.gaid_sha256 IS NOT NULL OR EXCLUDED.gaid_invalid_reason <> '')"
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
    distinct = "IS DISTINCT FROM" if is_postgres() else "IS NOT"
    # SQLite needs the WHERE to tell ON CONFLICT from a join's ON.
    return (
        f"INSERT INTO {profile} ({', '.join(quote(c) for c in selected)}) "
        f"SELECT {', '.join(selected.values())} FROM {STAGE_TABLE} t WHERE true "
        f"ON CONFLICT (app_group_id, external_id) DO UPDATE SET "
        + ", ".join(f"{quote(c)} = {expr}" for c, expr in updates.items())
        + f" WHERE ({new_values}) {distinct} ({old_values})"
    )


def _device_upsert_sql() -> str:
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
        # Ids straight from the profile upsert (see _BatchWriter): no lookup of the group's
        # profiles, whose hash join would read every profile of the app group for each batch.
        source = f"upserted p JOIN {STAGE_TABLE} t ON t.external_id = p.external_id"
    else:
        # SQLite probes the (app_group, external_id) index for each staged row.
        source = (
            f"{STAGE_TABLE} t JOIN {profile} p "
            "ON p.app_group_id = %s AND p.external_id = t.external_id"
        )
    return (
        f"INSERT INTO {device} ({', '.join(quote(c) for c in selected)}) "
        f"SELECT {', '.join(selected.values())} FROM {source} "
        "WHERE t.idfa IS NOT NULL OR t.google_ad_id IS NOT NULL "
        "OR t.ad_tracking_enabled IS NOT NULL "
        "ON CONFLICT (profile_id, device_id) DO UPDATE SET "
        + ", ".join(f"{quote(c)} = {expr}" for c, expr in updates.items())
    )


class _BatchWriter:
    """Writes batches of staging rows for one app group.

    `prepare` (pure Python) and `write` (the database) are separate so that `_Pipeline` can
    run them in two threads: the database works on one batch while Python reads the next.
    """

    def __init__(self, app_group: AppGroup):
        self.app_group_id = app_group.id
        self.postgres = is_postgres()
        profile_sql = _profile_upsert_sql()
        if self.postgres:
            self.upsert_sql = (
                f"WITH upserted AS ({profile_sql} RETURNING id, external_id) "
                + _device_upsert_sql()
            )
        else:
            self.upsert_sql = profile_sql
            self.device_sql = _device_upsert_sql()
        self.insert_stage_sql = (
            f"INSERT INTO {STAGE_TABLE} VALUES ({', '.join(['%s'] * len(STAGE_COLUMNS))})"
        )

    def prepare(self, rows: list[list]):
        custom = POS["custom_attributes"]
        for row, braze_id in zip(rows, new_braze_ids(len(rows)), strict=True):
            row[1] = braze_id
            if row[custom] is not None:
                row[custom] = orjson.dumps(row[custom]).decode()
        if self.postgres:
            # COPY's CSV format, written by the csv module in C. None becomes an unquoted empty
            # field, which COPY reads as NULL; the staging rows hold no empty strings.
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows(rows)
            return buffer.getvalue().encode()
        return [[adapt(v) for v in row] for row in rows]

    def write(self, payload) -> None:
        now = adapt(timezone.now())
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_stage_table_sql())
            # Emptied here too: inside an outer transaction nothing commits between batches.
            cursor.execute(
                f"TRUNCATE {STAGE_TABLE}" if self.postgres else f"DELETE FROM {STAGE_TABLE}"
            )
            if self.postgres:
                with cursor.cursor.copy(f"COPY {STAGE_TABLE} FROM STDIN (FORMAT csv)") as copy:
                    copy.write(payload)
                cursor.execute(
                    self.upsert_sql,
                    [self.app_group_id, now, now, IMPORT_DEVICE_ID, now, now, now, now, now],
                )
            else:
                cursor.executemany(self.insert_stage_sql, payload)
                cursor.execute(self.upsert_sql, [self.app_group_id, now, now])
                cursor.execute(
                    self.device_sql,
                    [IMPORT_DEVICE_ID, now, now, now, now, now, self.app_group_id],
                )
                cursor.execute(f"DELETE FROM {STAGE_TABLE}")


class _Pipeline:
    """Runs `writer.write` in a thread of its own when it can, one batch behind the reader.

    Inside an outer transaction (tests using the `db` fixture, callers holding a transaction)
    a second connection could not see or commit the same work, so batches are written inline.
    """

    _DONE = object()

    def __init__(self, writer: _BatchWriter):
        self.writer = writer
        self.error: BaseException | None = None
        self.threaded = not connection.in_atomic_block
        if self.threaded:
            self.queue: queue.Queue = queue.Queue(maxsize=1)
            self.thread = threading.Thread(target=self._run, name="csv-import-writer", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        try:
            while (payload := self.queue.get()) is not self._DONE:
                if self.error is None:
                    try:
                        self.writer.write(payload)
                    except BaseException as exc:  # handed to the reading thread
                        self.error = exc
        finally:
            connection.close()

    def submit(self, payload) -> None:
        if self.error is not None:
            raise self.error
        if self.threaded:
            self.queue.put(payload)
        else:
            self.writer.write(payload)

    def close(self) -> None:
        if self.threaded:
            self.queue.put(self._DONE)
            self.thread.join()
        if self.error is not None:
            raise self.error


def import_csv(
    *,
    app_group: AppGroup,
    stream: BinaryIO,
    on_progress: Callable[[ImportProgress], None] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportProgress:
    """Import a CSV byte stream into `app_group`. Raises CsvFileError for a file that cannot be
    imported. This reads the stream once: rows written before a late fatal problem (bad UTF-8
    deep in the file) would stay, so `user_import_run` checks the whole file first
    (`csv_file_check`)."""
    counter = _CountingReader(stream)
    text = io.TextIOWrapper(io.BufferedReader(counter, 1 << 20), encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    progress = ImportProgress()
    writer = _BatchWriter(app_group)
    pipeline = _Pipeline(writer)
    line = 1
    try:
        try:
            header = next(reader)
        except StopIteration as exc:
            raise CsvFileError("the file is empty") from exc
        rows = _RowReader(header, app_group.default_country)
        line = reader.line_num
        batch: dict[str, list] = {}
        for row in reader:
            start = line + 1
            line = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            progress.rows_processed += 1
            try:
                values, unusable = rows.read(row)
            except RowRejected as exc:
                progress.rows_rejected += 1
                external_id = row[rows.external_id_index].strip() if len(row) == rows.width else ""
                _issue(progress, start, True, exc.column, exc.reason, external_id)
                continue
            for column, reason in unusable:
                progress.values_unusable += 1
                _issue(progress, start, False, column, reason, values[0])
            previous = batch.get(values[0])
            batch[values[0]] = values if previous is None else _merge(previous, values)
            progress.rows_imported += 1
            if len(batch) >= batch_rows:
                _flush(pipeline, batch, progress, counter, on_progress)
                batch = {}
        _flush(pipeline, batch, progress, counter, on_progress)
    except UnicodeDecodeError as exc:
        raise CsvFileError(f"the file is not UTF-8 text (near line {line + 1})") from exc
    except csv.Error as exc:
        raise CsvFileError(f"line {line + 1}: {exc}") from exc
    finally:
        pipeline.close()
    if progress.rows_imported >= ANALYZE_AFTER_ROWS and is_postgres():
        # A big load into a new app group leaves planner statistics that think the group is
        # tiny; /users/track would then scan the whole group instead of probing its index.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {quote(Profile._meta.db_table)}")
    return progress


def _issue(progress, line, rejected, column, reason, external_id) -> None:
    if len(progress.issues) < MAX_STORED_ISSUES:
        progress.issues.append(
            UserImportIssue(
                line=line,
                rejected=rejected,
                column=column[:255],
                reason=reason[:255],
                external_id=external_id[:512],
            )
        )


def _flush(pipeline, batch, progress, counter, on_progress) -> None:
    if batch:
        pipeline.submit(pipeline.writer.prepare(list(batch.values())))
    progress.bytes_processed = counter.count
    if on_progress is not None:
        on_progress(progress)


# --- dashboard uploads and the task ---------------------------------------------------------------


def user_import_create(*, actor: Membership, file_name: str, chunks: Iterator[bytes]) -> UserImport:
    """Keep an uploaded file in the database and queue its import (Marketers and Admins).

    The header is checked now, so an obviously wrong file is refused at the form.
    """
    membership_require(actor, Permission.MANAGE_USERS)
    with transaction.atomic():
        user_import = UserImport.objects.create(
            app_group=actor.app_group, file_name=file_name[:255], created_by=actor.user
        )
        size = 0
        seq = 0
        first = b""
        for piece in _pieces(chunks):
            size += len(piece)
            if size > MAX_FILE_BYTES:
                raise ValidationError({"file": "The file is larger than 500 MB."})
            if seq == 0:
                first = piece
            UserImportChunk.objects.create(user_import=user_import, seq=seq, data=piece)
            seq += 1
        if size == 0:
            raise ValidationError({"file": "The file is empty."})
        _check_header(first, actor.app_group)
        user_import.file_size = size
        user_import.save(update_fields=["file_size"])
        transaction.on_commit(lambda: _enqueue(user_import.pk))
    return user_import


def _pieces(chunks: Iterator[bytes]) -> Iterator[bytes]:
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= CHUNK_BYTES:
            yield bytes(buffer[:CHUNK_BYTES])
            del buffer[:CHUNK_BYTES]
    if buffer:
        yield bytes(buffer)


def _check_header(first: bytes, app_group: AppGroup) -> None:
    line = first.split(b"\n", 1)[0]
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if len(line) < len(first) or len(first) < CHUNK_BYTES:
            raise ValidationError({"file": "The file is not UTF-8 text."}) from exc
        return  # a header longer than a chunk: the import itself will judge it
    try:
        _RowReader(next(csv.reader([text])), app_group.default_country)
    except StopIteration as exc:
        raise ValidationError({"file": "The file has no header row."}) from exc
    except CsvFileError as exc:
        raise ValidationError({"file": f"This file cannot be imported: {exc}."}) from exc


def _enqueue(user_import_id: int) -> None:
    from users.tasks import user_import_run as user_import_run_task

    user_import_run_task.delay(user_import_id)


class _ChunkStream(io.RawIOBase):
    """The stored pieces of an upload, read in order, one query per piece."""

    def __init__(self, user_import_id: int):
        self.user_import_id = user_import_id
        self.seq = 0
        self.buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self.buffer:
            data = (
                UserImportChunk.objects.filter(user_import_id=self.user_import_id, seq=self.seq)
                .values_list("data", flat=True)
                .first()
            )
            if data is None:
                return 0
            self.buffer = bytes(data)
            self.seq += 1
        size = min(len(target), len(self.buffer))
        target[:size] = self.buffer[:size]
        self.buffer = self.buffer[size:]
        return size


def user_import_claim(*, user_import_id: int) -> bool:
    """Move a queued import (or one whose worker died) to running; False if someone has it."""
    now = timezone.now()
    stale = now - timedelta(seconds=STALE_AFTER_SECONDS)
    claimable = Q(status=UserImport.Status.QUEUED) | Q(
        status=UserImport.Status.RUNNING, heartbeat_at__lt=stale
    )
    claimed = UserImport.objects.filter(claimable, pk=user_import_id).update(
        status=UserImport.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    return claimed == 1


def user_import_run(
    *,
    user_import_id: int,
    stream: BinaryIO | None = None,
    on_progress: Callable[[ImportProgress], None] | None = None,
) -> UserImport | None:
    """Run one import: claim it, stream its file, record progress and issues, finish it.

    `stream` is given by `manage.py import_users` (the file on disk); uploads are read from
    their stored chunks, which are deleted afterwards.
    """
    if not user_import_claim(user_import_id=user_import_id):
        logger.info("user import %s: already taken or finished", user_import_id)
        return None
    user_import = UserImport.objects.select_related("app_group").get(pk=user_import_id)
    # A re-run after a lost worker starts over (the import is idempotent).
    UserImportIssue.objects.filter(user_import=user_import).delete()
    stored = 0

    def record(progress: ImportProgress) -> None:
        nonlocal stored
        if len(progress.issues) > stored:
            UserImportIssue.objects.bulk_create(
                [_attach(issue, user_import) for issue in progress.issues[stored:]]
            )
            stored = len(progress.issues)
        UserImport.objects.filter(pk=user_import_id).update(
            bytes_processed=progress.bytes_processed,
            rows_processed=progress.rows_processed,
            rows_imported=progress.rows_imported,
            rows_rejected=progress.rows_rejected,
            values_unusable=progress.values_unusable,
            heartbeat_at=timezone.now(),
        )
        if on_progress is not None:
            on_progress(progress)

    status, error = UserImport.Status.DONE, ""
    open_stream = _reopener(user_import_id, stream)
    try:
        # A file that cannot be read to its end is refused before any row is written.
        if open_stream is not None:
            csv_file_check(open_stream(), default_country=user_import.app_group.default_country)
        import_csv(
            app_group=user_import.app_group,
            stream=open_stream() if open_stream is not None else stream,
            on_progress=record,
        )
    except CsvFileError as exc:
        status, error = UserImport.Status.FAILED, str(exc)
    except Exception:
        logger.exception("user import %s failed", user_import_id)
        status, error = UserImport.Status.FAILED, "The import stopped on an internal error."
    UserImport.objects.filter(pk=user_import_id).update(
        status=status, error=error, finished_at=timezone.now(), heartbeat_at=timezone.now()
    )
    UserImportChunk.objects.filter(user_import_id=user_import_id).delete()
    user_import.refresh_from_db()
    logger.info(
        "user import %s %s: %s rows, %s imported, %s rejected",
        user_import_id,
        status,
        user_import.rows_processed,
        user_import.rows_imported,
        user_import.rows_rejected,
    )
    return user_import


def _reopener(user_import_id: int, stream: BinaryIO | None) -> Callable[[], BinaryIO] | None:
    """A function that opens the import's file from its start (again), or None when the given
    stream cannot be read twice."""
    if stream is None:
        return lambda: io.BufferedReader(_ChunkStream(user_import_id), CHUNK_BYTES)
    if not stream.seekable():
        return None
    start = stream.tell()

    def reopen() -> BinaryIO:
        stream.seek(start)
        return stream

    return reopen


def csv_file_check(stream: BinaryIO, *, default_country: str) -> None:
    """Read the whole file as CSV (UTF-8, field sizes, quoting) without importing it: raise
    CsvFileError for what would stop an import half-way. Costs one parse of the file, a few
    percent of an import's time, so a bad byte at the end cannot leave the start imported."""
    text = io.TextIOWrapper(
        # The counting wrapper also keeps the caller's stream open when this reader goes.
        io.BufferedReader(_CountingReader(stream), 1 << 20),
        encoding="utf-8-sig",
        newline="",
    )
    reader = csv.reader(text)
    try:
        try:
            _RowReader(next(reader), default_country)
        except StopIteration as exc:
            raise CsvFileError("the file is empty") from exc
        for _ in reader:
            pass
    except UnicodeDecodeError as exc:
        raise CsvFileError(f"the file is not UTF-8 text (near line {reader.line_num + 1})") from exc
    except csv.Error as exc:
        raise CsvFileError(f"line {reader.line_num + 1}: {exc}") from exc


# Cells a spreadsheet would run as a formula (OWASP "CSV injection"): =, +, -, @, tab, CR.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A report cell as text a spreadsheet shows and never evaluates: a leading ' is added to a
    string that would start a formula. Numbers (line numbers) are left as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


REPORT_HEADER = ["line", "status", "column", "reason", "external_id"]


def report_rows(issues) -> Iterator[list]:
    """The rejected-rows report (dashboard download and `import_users --report`), row by row."""
    yield REPORT_HEADER
    for issue in issues:
        status = "rejected" if issue.rejected else "imported, value unusable"
        yield [
            spreadsheet_safe(v)
            for v in (issue.line, status, issue.column, issue.reason, issue.external_id)
        ]


def _attach(issue: UserImportIssue, user_import: UserImport) -> UserImportIssue:
    issue.user_import = user_import
    return issue
