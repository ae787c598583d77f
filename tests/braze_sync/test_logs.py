import json
import logging

import pytest

from braze_sync.logs import (
    JsonFormatter,
    NoQueryStrings,
    RedactIdentifiers,
    RequestContext,
    RequestIdMiddleware,
    request_id_var,
)


def test_request_lines_lose_their_query_strings():
    record = logging.LogRecord(
        "django.server", logging.INFO, __file__, 1, '"%s" %s %s',
        ("GET /users/?q=ana@example.com&x=%2B1650 HTTP/1.1", 200, 512), None,
    )  # fmt: skip

    NoQueryStrings().filter(record)

    assert record.getMessage() == '"GET /users/?… HTTP/1.1" 200 512'
    assert "ana@example.com" not in record.getMessage()


def test_other_lines_are_left_alone():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "synced %d users", (3,), None)

    NoQueryStrings().filter(record)

    assert record.getMessage() == "synced 3 users"


# Redaction, request ids and JSON lines


def _record(message, *args, exc_info=None, **extra):
    record = logging.LogRecord(
        "braze_sync.test", logging.WARNING, __file__, 1, message, args, exc_info
    )
    record.__dict__.update(extra)
    return record


def test_identifiers_and_database_row_values_are_redacted():
    try:
        raise ValueError(
            "duplicate key\nDETAIL:  Failing row contains (7, ana@example.com, +1 650 555 0142)."
        )
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    record = _record(
        "user %s phone %s idfa %s",
        "ana@example.com", "+1 (650) 555-0142", "6D92078A-8246-4BA4-AE5B-76104861E7DC",
        exc_info=exc_info,
    )  # fmt: skip

    RedactIdentifiers().filter(record)
    text = JsonFormatter().format(record)

    for secret in ("ana@example.com", "650 555 0142", "(650) 555-0142", "6D92078A"):
        assert secret not in text
    assert "user [email] phone [phone] idfa [ad id]" in text
    assert "DETAIL:  [row values removed]" in text


def test_hashes_tiktok_ids_and_celery_task_ids_are_kept():
    hashed = "a" * 64
    message = (
        f"sent {hashed} advertiser=7000000000000000001 "
        "Task audience_sync.tasks.audience_sync_flush[3f2a1b4c-1d2e-4f50-8a9b-0c1d2e3f4a5b] ok"
    )
    record = _record(message)

    RedactIdentifiers().filter(record)

    assert record.getMessage() == message


def test_json_lines_carry_the_request_id_and_extra_fields():
    record = _record("batch sent", batch_size=10000, tiktok_request_id="2026112317000001")
    token = request_id_var.set("req-1234abcd")
    try:
        RequestContext().filter(record)
    finally:
        request_id_var.reset(token)

    entry = json.loads(JsonFormatter().format(record))

    assert entry["message"] == "batch sent"
    assert entry["level"] == "WARNING"
    assert entry["request_id"] == "req-1234abcd"
    assert (entry["batch_size"], entry["tiktok_request_id"]) == (10000, "2026112317000001")


@pytest.mark.django_db
def test_each_request_gets_an_id_in_its_answer_and_its_log_lines(client):
    response = client.get("/healthz")
    assert len(response["X-Request-ID"]) == 32

    given = client.get("/healthz", HTTP_X_REQUEST_ID="proxy-req-0001")
    assert given["X-Request-ID"] == "proxy-req-0001"
    # A header that is not a sane id is replaced, not echoed into logs.
    hostile = client.get("/healthz", HTTP_X_REQUEST_ID="<script>\nx")
    assert hostile["X-Request-ID"] != "<script>\nx" and len(hostile["X-Request-ID"]) == 32

    captured = {}

    def capture(request):
        captured["id"] = request_id_var.get()
        from django.http import HttpResponse

        return HttpResponse("ok")

    middleware = RequestIdMiddleware(capture)
    from django.test import RequestFactory

    answer = middleware(RequestFactory().get("/", HTTP_X_REQUEST_ID="abcdefgh-1"))
    assert captured["id"] == answer["X-Request-ID"] == "abcdefgh-1"
    assert request_id_var.get() == ""
