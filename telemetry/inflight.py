"""Requests in flight, visible to other processes while they last.

On PostgreSQL a batch is claimed inside a transaction that stays open while TikTok answers, so
nothing written in it is visible until it ends. The marker is written on a second connection
of this process, in autocommit. On SQLite the request goes out with no transaction open, and
the default connection does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import connection, connections
from django.utils import timezone

from core.rawsql import adapt_all, table
from telemetry.models import InFlightRequest

logger = logging.getLogger(__name__)

# A marker left by a process that died mid-request stops counting after this long (the
# longest request: connect + read timeouts, with room).
MARKER_SECONDS = 120
_local = threading.local()


def _marker_connection():
    if connection.vendor != "postgresql":
        return connection
    side = getattr(_local, "connection", None)
    if side is None:
        side = _local.connection = connections.create_connection("default")
    side.close_if_unusable_or_obsolete()
    return side


def side_connection_close() -> None:
    """Close this thread's marker connection (tests do before dropping their database)."""
    side = getattr(_local, "connection", None)
    if side is not None:
        side.close()
        _local.connection = None


@contextmanager
def request_in_flight(*, audience_id: int, users: int) -> Iterator[None]:
    """Mark `users` as in flight to the audience while the block runs. Bookkeeping only: a
    failure to write the marker is logged and the request goes out anyway."""
    marker = None
    now = timezone.now()
    try:
        with _marker_connection().cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table(InFlightRequest)} "
                "(audience_id, users, started_at, expires_at) VALUES (%s, %s, %s, %s) RETURNING id",
                adapt_all([audience_id, users, now, now + timedelta(seconds=MARKER_SECONDS)]),
            )
            marker = cursor.fetchone()[0]
    except Exception:
        logger.warning("in-flight marker not written", exc_info=True)
    try:
        yield
    finally:
        if marker is not None:
            try:
                with _marker_connection().cursor() as cursor:
                    cursor.execute(f"DELETE FROM {table(InFlightRequest)} WHERE id = %s", [marker])
            except Exception:
                logger.warning("in-flight marker not removed (it expires)", exc_info=True)
