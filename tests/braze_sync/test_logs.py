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


# Database errors: their texts quote the values written (docs/ARCHITECTURE.md D14)


EMAIL, PHONE = "ana.dberr@example.com", "(650) 555-0142"


def _formatted(record: logging.LogRecord) -> dict[str, str]:
    """The record through the filter, then as the plain and the JSON formatter write it."""
    RedactIdentifiers().filter(record)
    plain = logging.Formatter("%(levelname)s %(name)s %(message)s").format(record)
    return {"plain": plain, "json": JsonFormatter().format(record)}


def _database_error(sql: str, params: list):
    """The exception the database raises for `sql`, through Django's cursor."""
    from django.db import connection, transaction

    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except Exception as exc:  # noqa: BLE001 - the error under test
        return exc
    raise AssertionError(f"{sql} did not fail")


def _failing_statements():
    """(sql, params, words that must stay) that make this database quote the values."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return [
            # Client-side binding puts the value in the statement: "LINE 1: SELECT '…'::int".
            ("SELECT %s::int", [f"{EMAIL} {PHONE}"], ["invalid input syntax", "22P02"]),
            # "CONTEXT:  JSON data, line 1: …" repeats the document.
            (
                "SELECT %s::jsonb",
                [json.dumps({"email": EMAIL, "phone": PHONE, "x": "\x00"})],
                ["unsupported Unicode escape sequence", "22P05"],
            ),
            # "DETAIL:  Key (note, email)=(…) already exists.", over two lines.
            (
                "CREATE TEMPORARY TABLE dberr (note text, email text, UNIQUE (note, email));"
                "INSERT INTO dberr VALUES (%s, %s), (%s, %s)",
                [f"call\n{PHONE}", EMAIL, f"call\n{PHONE}", EMAIL],
                ["duplicate key value violates unique constraint", "dberr_note_email_key", "23505"],
            ),
        ]
    return [
        (
            "SELECT json_extract('{}', %s)",
            [f"row {EMAIL}, it's {PHONE}\nnext line {PHONE}"],
            ["JSON path error"],
        )
    ]


@pytest.mark.django_db
def test_database_errors_are_logged_without_the_values_they_quote():
    for sql, params, kept in _failing_statements():
        exc = _database_error(sql, params)
        assert PHONE in str(exc) or EMAIL in str(exc), str(exc)  # the database quoted them
        exc_info = (type(exc), exc, exc.__traceback__)
        records = {
            "logger.exception": _record("import failed", exc_info=exc_info),
            "exception as argument": _record("import failed: %s", exc, exc_info=exc_info),
            "text in the message": _record(f"import failed: {exc}", exc_info=exc_info),
            "argument, no traceback": _record("import failed: %s", exc),
            "extra field": _record("import failed", error=exc),
        }
        for how, record in records.items():
            for name, text in _formatted(record).items():
                for secret in (EMAIL, PHONE, "555-0142", "\\u0000"):
                    assert secret not in text, (sql, how, name, text)
                assert "import failed" in text
                if how != "extra field":
                    for words in kept:
                        assert words in text, (sql, how, name, words, text)
        assert type(exc).__name__ in _formatted(records["logger.exception"])["plain"]


def test_a_row_that_runs_over_lines_is_removed_to_its_end():
    text = (
        'Traceback (most recent call last):\n  File "x.py", line 1, in f\n'
        'psycopg.errors.CheckViolation: new row for relation "t" violates check constraint "c"\n'
        'DETAIL:  Failing row contains (7, Ana\nMaria, 650 555 0142, {"note": "x\n\ny"}).\n'
        "\nThe above exception was the direct cause of the following exception:\n"
    )
    record = _record("failed")
    record.exc_text = text

    RedactIdentifiers().filter(record)

    assert "Maria" not in record.exc_text and "650 555 0142" not in record.exc_text
    assert 'violates check constraint "c"' in record.exc_text
    assert "DETAIL:  [row values removed]" in record.exc_text
    assert "The above exception was the direct cause" in record.exc_text


def test_other_exceptions_keep_their_text_and_stacks_are_redacted():
    try:
        raise ValueError("boom: 7 rows")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    record = _record("task failed", exc_info=exc_info)
    record.stack_info = "Stack (most recent call last):\n  mail ana@example.com"

    text = _formatted(record)["plain"]

    assert "ValueError: boom: 7 rows" in text
    assert "ana@example.com" not in text and "mail [email]" in text
