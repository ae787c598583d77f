import logging

from braze_sync.logs import NoQueryStrings


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
