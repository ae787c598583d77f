"""Logging: request ids on every line, JSON lines on demand (LOG_FORMAT=json), and filters for
what must never reach a log line (docs/ARCHITECTURE.md D14).

A request id comes from the web request (X-Request-ID when a proxy sets a sane one, else a new
one, echoed in the response) or from the Celery task id, and is put on every record logged
while that request or task runs.
"""

from __future__ import annotations

import contextvars
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
# what libraries add, such as PostgreSQL's "DETAIL: Failing row contains (…)" of a failed
# insert, which repeats the row's values.
_DATABASE_DETAIL = re.compile(r"(DETAIL:\s+)[^\n]*")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"\+\d[\d ().-]{5,}\d")
# IDFA / GAID. Celery writes its task ids (also UUIDs) as name[uuid]: those stay.
_AD_ID = re.compile(
    r"(?<!\[)\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)


def redact(text: str) -> str:
    text = _DATABASE_DETAIL.sub(r"\1[row values removed]", text)
    text = _EMAIL.sub("[email]", text)
    text = _PHONE.sub("[phone]", text)
    return _AD_ID.sub("[ad id]", text)


class RedactIdentifiers(logging.Filter):
    """Remove emails, phone numbers, ad ids and database row values from the message and the
    exception text of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info:
            # Format the traceback once, redacted; formatters reuse exc_text.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
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
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def _extra_value(value: object) -> object:
    """An `extra=` field as JSON: numbers and booleans as they are; anything else as text,
    cleaned like the message (Django's request logger passes the request, whose text holds the
    full URL)."""
    if isinstance(value, bool | int | float) or value is None:
        return value
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
