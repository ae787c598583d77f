"""Logging: request ids on every line, JSON lines on demand (LOG_FORMAT=json), and filters for
what must never reach a log line (docs/ARCHITECTURE.md D14).

A request id comes from the web request (X-Request-ID when a proxy sets a sane one, else a new
one, echoed in the response) or from the Celery task id, and is put on every record logged
while that request or task runs.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import re
import uuid
from datetime import UTC, datetime

from celery.signals import task_postrun, task_prerun

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

# "GET /users/?q=ana@example.com HTTP/1.1" → "GET /users/?… HTTP/1.1"
_QUERY_STRING = re.compile(r"(\s/[^\s?]*)\?\S*")
_INCOMING_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def strip_query_strings(text: str) -> str:
    return _QUERY_STRING.sub(r"\1?…", text)


class NoQueryStrings(logging.Filter):
    """Drop query strings from request lines (Django's dev server and request errors log the
    full path, and a URL may carry an email or phone someone typed)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = strip_query_strings(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


# What a user's identifiers look like in text. Our own lines never carry them; these catch
# what libraries add (a database error's text, below, is the usual source).
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"\+\d[\d ().-]{5,}\d")
# IDFA / GAID. Celery writes its task ids (also UUIDs) as name[uuid]: those stay.
_AD_ID = re.compile(
    r"(?<!\[)\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)

# Database errors repeat what was written. PostgreSQL: DETAIL ("Failing row contains (…)",
# "Key (email)=(…) already exists."), CONTEXT ("JSON data, line 1: …", "COPY t, line 3: …") and
# LINE (the statement around the error, with the values Django's client-side binding put in
# it), and a data error's own message ('invalid input syntax for type date: "…"'). A value may
# hold line breaks, so a section runs on to a blank line, the next section or a traceback line.
_DATABASE_SECTION = re.compile(
    r"\b((?:DETAIL|CONTEXT|QUERY|LINE \d+):[ \t]*).*?"
    r"(?=\n[ \t]*\n|\n(?:HINT|DETAIL|CONTEXT|QUERY|LOCATION|LINE \d+):"
    r"|\nTraceback \(|\nThe above exception|\nDuring handling|\Z)",
    re.DOTALL,
)
# A PostgreSQL message quotes a value in double quotes, and does not escape the ones inside.
_QUOTED_VALUE = re.compile(r'"(.*)"', re.DOTALL)
# SQLite quotes values in single quotes, doubling the ones inside ("JSON path error near '…'").
_SINGLE_QUOTED = re.compile(r"'(?:[^']|'')*'")


def redact(text: str) -> str:
    text = _DATABASE_SECTION.sub(r"\1[row values removed]", text)
    text = _EMAIL.sub("[email]", text)
    text = _PHONE.sub("[phone]", text)
    return _AD_ID.sub("[ad id]", text)


@functools.cache
def _driver_errors() -> tuple[type[BaseException], type[BaseException]]:
    """(psycopg's base error, sqlite3's)."""
    import sqlite3

    try:
        from psycopg import Error as PsycopgError
    except ImportError:  # pragma: no cover - psycopg is a dependency
        PsycopgError = sqlite3.Error  # noqa: N806
    return PsycopgError, sqlite3.Error


def database_error_text(exc: BaseException) -> str | None:
    """A database driver's error as text that names the failure without the values it quotes;
    None for any other exception.

    PostgreSQL: the primary message (its quoted values removed unless it is an integrity error,
    class 23, or names an object, class 42, whose quotes hold only names), then the SQLSTATE,
    table, column and constraint; DETAIL, CONTEXT and LINE are left out. SQLite: its message
    with single-quoted values removed. Django re-raises a driver's error under its own class
    with the same text: that one is rendered from its cause.
    """
    psycopg_error, sqlite_error = _driver_errors()
    if not isinstance(exc, psycopg_error | sqlite_error):
        cause = exc.__cause__
        if _is_django_database_error(exc) and cause is not None and cause is not exc:
            return database_error_text(cause)
        return None
    raw = _text_of(exc)
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if isinstance(exc, psycopg_error) else None
    if primary is None:
        # SQLite, or psycopg before the server answered: the first line, quoted values removed.
        text = _DATABASE_SECTION.sub("", _SINGLE_QUOTED.sub("'…'", raw))
        first = text.partition("\n")[0].rstrip()
        return first if first == raw else f"{first} [values removed]"
    sqlstate = diag.sqlstate or ""
    names = {diag.schema_name, diag.table_name, diag.column_name, diag.constraint_name}
    text = primary
    if not sqlstate.startswith(("23", "42")):
        text = _QUOTED_VALUE.sub(lambda m: m[0] if m[1] in names else '"…"', text)
    removed = text != primary or raw.strip() != primary.strip()
    facts = [f"SQLSTATE {sqlstate}"] if sqlstate else []
    for label, value in (
        ("table", diag.table_name),
        ("column", diag.column_name),
        ("constraint", diag.constraint_name),
        ("type", diag.datatype_name),
    ):
        if value:
            facts.append(f"{label} {value}")
    text = text.replace("\n", " ")
    if facts:
        text += f" ({', '.join(facts)})"
    return f"{text} [values removed]" if removed else text


def _is_django_database_error(exc: BaseException) -> bool:
    from django.db import Error as DjangoDatabaseError

    return isinstance(exc, DjangoDatabaseError)


def _text_of(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return "<exception str() failed>"


def _exceptions_in(exc: BaseException | None) -> list[BaseException]:
    """`exc`, its causes and contexts, and the members of exception groups."""
    found: list[BaseException] = []
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        stack += [current.__cause__, current.__context__]
        stack += list(getattr(current, "exceptions", ()) or ())
    return found


def _database_texts(exc: BaseException | None) -> list[tuple[str, str]]:
    """(text as the exception renders, text without values) for each database error in
    `exc`'s chain, longest first."""
    pairs = {}
    for each in _exceptions_in(exc):
        safe = database_error_text(each)
        raw = _text_of(each)
        if safe is not None and raw and raw != safe:
            pairs[raw] = safe
    return sorted(pairs.items(), key=lambda pair: -len(pair[0]))


def _without_database_texts(text: str, pairs: list[tuple[str, str]]) -> str:
    for raw, safe in pairs:
        text = text.replace(raw, safe)
    return text


def exception_text(exc_info) -> str:
    """A traceback as `logging` formats it, with every database error's message rendered
    without the values it quotes, then redacted like any line."""
    text = logging.Formatter().formatException(exc_info)
    return redact(_without_database_texts(text, _database_texts(exc_info[1])))


def _safe_arg(value: object) -> object:
    if isinstance(value, BaseException):
        return database_error_text(value) or redact(_text_of(value))
    return value


class RedactIdentifiers(logging.Filter):
    """Remove emails, phone numbers, ad ids and database row values from the message, the
    exception text and the stack of every record.

    A database error's text is replaced by what names the failure (error class, SQLSTATE,
    table, column, constraint) wherever it is rendered: in the traceback (exc_info, exc_text)
    and in the message, when the exception is one of its arguments or its text was put in it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        pairs = _database_texts(exc)
        if isinstance(record.args, tuple) and any(
            isinstance(a, BaseException) for a in record.args
        ):
            record.args = tuple(_safe_arg(a) for a in record.args)
        elif isinstance(record.args, dict) and any(
            isinstance(a, BaseException) for a in record.args.values()
        ):
            record.args = {k: _safe_arg(v) for k, v in record.args.items()}
        message = record.getMessage()
        cleaned = redact(_without_database_texts(message, pairs))
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info:
            # Format the traceback once, redacted; formatters reuse exc_text.
            record.exc_text = exception_text(record.exc_info)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RequestContext(logging.Filter):
    """Put the current request or task id on the record (`%(request_id)s`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        return True


# Attributes every LogRecord has: the rest were passed as `extra=` and go into the JSON.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "request_id", "taskName"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, the record's
    `extra=` fields (batch sizes, TikTok request ids, outcomes), and the exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = _extra_value(value)
        if record.exc_info and not record.exc_text:
            # Without the redaction filter on the handler, still no database row values.
            record.exc_text = exception_text(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def _extra_value(value: object) -> object:
    """An `extra=` field as JSON: numbers and booleans as they are; anything else as text,
    cleaned like the message (Django's request logger passes the request, whose text holds the
    full URL)."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, BaseException):
        return _safe_arg(value)
    if hasattr(value, "method") and hasattr(value, "path"):  # an HttpRequest
        return f"{value.method} {value.path}"
    return redact(strip_query_strings(f" {value}")[1:])


class RequestIdMiddleware:
    """Give every web request an id for its log lines and answer it in X-Request-ID."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _INCOMING_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


@task_prerun.connect
def _task_started(task_id=None, **kwargs) -> None:
    request_id_var.set(task_id or "")


@task_postrun.connect
def _task_finished(**kwargs) -> None:
    request_id_var.set("")
