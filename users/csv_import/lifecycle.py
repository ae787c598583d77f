"""A CSV import from start to end (Audience > Import Users and `manage.py import_users`).

`import_csv` reads a stream (reader) and writes it in batches (writer), counting progress and
keeping the first issues. Dashboard uploads are kept in the database in pieces until their import
has run: `user_import_create` stores one (the caller queues its task), `user_import_claim` and
`user_import_run` run a queued import once. `report_rows` is the rejected-rows report.
"""

from __future__ import annotations

import csv
import gc
import io
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from appgroups.models import AppGroup, Membership, Permission
from appgroups.services import membership_require
from core.rawsql import is_postgres, quote
from users.csv_import.reader import (
    CSV_ERROR,
    FILE_EMPTY,
    NOT_UTF8,
    CountingReader,
    CsvFileError,
    RowReader,
    RowRejected,
    csv_file_check,
    merge_rows,
)
from users.csv_import.writer import BatchWriter, WriterPipeline
from users.messages import Message
from users.models import Profile, UserImport, UserImportChunk, UserImportIssue

logger = logging.getLogger(__name__)

# Braze caps CSV imports at 500 MB.
MAX_FILE_BYTES = 500 * 1024 * 1024
# Uploaded files are kept in the database in pieces of this size until the import has run.
CHUNK_BYTES = 4 * 1024 * 1024
# Rows per write: large enough for COPY to pay off, small enough to report progress often.
BATCH_ROWS = 20_000
# Rows read between two collections of young objects (the collector is off during an import).
# Each collection walks every object alive since the last one, ~16 ms with a batch in flight:
# after every batch that was 4.5 % of the reading thread's time.
COLLECT_EVERY_ROWS = 200_000
# Each writer's first batch; the next ones double up to BATCH_ROWS. The writers then start
# while the reader is on the file's first rows, not a second in (2 × 20,000 rows to read).
FIRST_BATCH_ROWS = 1_250
# Imports at least this large refresh PostgreSQL's statistics of the profile table.
ANALYZE_AFTER_ROWS = 50_000
# The report keeps the first issues; the counters count them all.
MAX_STORED_ISSUES = 10_000
# A running import whose worker stopped writing progress this long ago may be claimed again.
STALE_AFTER_SECONDS = 10 * 60


@dataclass
class ImportProgress:
    bytes_processed: int = 0
    rows_processed: int = 0
    rows_imported: int = 0
    rows_rejected: int = 0
    values_unusable: int = 0
    issues: list[UserImportIssue] = field(default_factory=list)


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
    with _import_tuning():
        return _import_csv(app_group, stream, on_progress, batch_rows)


def _import_csv(app_group, stream, on_progress, batch_rows) -> ImportProgress:
    counter = CountingReader(stream)
    text = io.TextIOWrapper(io.BufferedReader(counter, 1 << 20), encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    progress = ImportProgress()
    writer = BatchWriter(app_group)
    pipeline = WriterPipeline(writer)
    line = 1
    try:
        try:
            header = next(reader)
        except StopIteration as exc:
            raise CsvFileError(FILE_EMPTY) from exc
        rows = RowReader(header, app_group.default_country)
        line = reader.line_num
        # One batch per writer: a profile's rows all go to the same one (WriterPipeline).
        batches: list[dict[str, list]] = [{} for _ in range(pipeline.count)]
        limits = [min(batch_rows, FIRST_BATCH_ROWS)] * pipeline.count
        next_collection = COLLECT_EVERY_ROWS
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
                _issue(progress, start, True, exc.column, exc.message, external_id)
                continue
            for column, reason in unusable:
                progress.values_unusable += 1
                _issue(progress, start, False, column, reason, values[0])
            number = pipeline.writer_for(values[0])
            batch = batches[number]
            previous = batch.get(values[0])
            batch[values[0]] = values if previous is None else merge_rows(previous, values)
            progress.rows_imported += 1
            if len(batch) >= limits[number]:
                _flush(pipeline, number, batch, rows.filled_columns, progress, counter, on_progress)
                batches[number] = {}
                limits[number] = min(batch_rows, 2 * limits[number])
                if progress.rows_processed >= next_collection:
                    gc.collect(0)
                    next_collection = progress.rows_processed + COLLECT_EVERY_ROWS
        for number, batch in enumerate(batches):
            _flush(pipeline, number, batch, rows.filled_columns, progress, counter, on_progress)
    except UnicodeDecodeError as exc:
        raise CsvFileError(NOT_UTF8, line=line + 1) from exc
    except csv.Error as exc:
        raise CsvFileError(CSV_ERROR, line=line + 1, problem=str(exc)) from exc
    finally:
        pipeline.close()
    if progress.rows_imported >= ANALYZE_AFTER_ROWS and is_postgres():
        # A big load into a new app group leaves planner statistics that think the group is
        # tiny; /users/track would then scan the whole group instead of probing its index.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {quote(Profile._meta.db_table)}")
    return progress


# The GIL switch interval while an import runs (Python's default is 5 ms).
IMPORT_SWITCH_INTERVAL = 0.0005
_tuning_lock = threading.Lock()
_tuning_holders = 0
_tuning_saved: tuple[bool, float] = (True, 0.005)


@contextmanager
def _import_tuning() -> Iterator[None]:
    """While any import runs in this process (imports may share one, in a thread pool):
    - automatic garbage collection is off, and the reading loop collects the young objects
      every COLLECT_EVERY_ROWS instead. The batches kept for the writers are tens of thousands
      of lists and dicts, and every automatic full collection walked them all again: ~9 µs a
      row, a third of the import's Python time. Rows hold no reference cycles; what else
      lives longer than a batch is collected once the collector is back on.
    - the GIL switch interval is 0.5 ms: the writer threads wait for the GIL after every round
      trip to the database while the reader holds it, up to 5 ms by default (~130 ms a batch).
    Measured in docs/PERFORMANCE.md, sitting 9. The last import to finish puts both back."""
    global _tuning_holders, _tuning_saved
    with _tuning_lock:
        if _tuning_holders == 0:
            _tuning_saved = (gc.isenabled(), sys.getswitchinterval())
            gc.disable()
            sys.setswitchinterval(IMPORT_SWITCH_INTERVAL)
        _tuning_holders += 1
    try:
        yield
    finally:
        with _tuning_lock:
            _tuning_holders -= 1
            if _tuning_holders == 0:
                enabled, interval = _tuning_saved
                if enabled:
                    gc.enable()
                sys.setswitchinterval(interval)


def _issue(progress, line, rejected, column, reason: Message | str, external_id) -> None:
    """Keep one of the first issues; `reason` is a Message, or one of users.identifiers'
    reasons (a msgid itself)."""
    if len(progress.issues) < MAX_STORED_ISSUES:
        if not isinstance(reason, Message):
            reason = Message(reason)
        progress.issues.append(
            UserImportIssue(
                line=line,
                rejected=rejected,
                column=column[:255],
                reason=str(reason)[:255],
                reason_message=reason.as_json(),
                external_id=external_id[:512],
            )
        )


def _flush(pipeline, number, batch, columns, progress, counter, on_progress) -> None:
    if batch:
        pipeline.submit(pipeline.writer.prepare(list(batch.values()), columns), number)
    progress.bytes_processed = counter.count
    if on_progress is not None:
        on_progress(progress)


# --- dashboard uploads, claiming and running ------------------------------------------------------


def user_import_create(*, actor: Membership, file_name: str, chunks: Iterator[bytes]) -> UserImport:
    """Keep an uploaded file in the database as a queued import (Marketers and Admins).

    The header is checked now, so an obviously wrong file is refused at the form. The caller
    queues the import's task once this has committed (users.views: `transaction.on_commit`).
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
                raise ValidationError({"file": _("The file is larger than 500 MB.")})
            if seq == 0:
                first = piece
            UserImportChunk.objects.create(user_import=user_import, seq=seq, data=piece)
            seq += 1
        if size == 0:
            raise ValidationError({"file": _("The file is empty.")})
        _check_header(first, actor.app_group)
        user_import.file_size = size
        user_import.save(update_fields=["file_size"])
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
            raise ValidationError({"file": _("The file is not UTF-8 text.")}) from exc
        return  # a header longer than a chunk: the import itself will judge it
    try:
        RowReader(next(csv.reader([text])), app_group.default_country)
    except StopIteration as exc:
        raise ValidationError({"file": _("The file has no header row.")}) from exc
    except CsvFileError as exc:
        reason = exc.message.translated()
        raise ValidationError(
            {"file": _("This file cannot be imported: %(reason)s.") % {"reason": reason}}
        ) from exc


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

    status, error = UserImport.Status.DONE, None
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
        status, error = UserImport.Status.FAILED, exc.message
    except Exception:
        logger.exception("user import %s failed", user_import_id)
        error = Message(gettext_noop("The import stopped on an internal error."))
        status = UserImport.Status.FAILED
    UserImport.objects.filter(pk=user_import_id).update(
        status=status,
        error=str(error) if error else "",
        error_message=error.as_json() if error else None,
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
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
