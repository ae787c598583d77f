"""Shared counters for /metrics: what happens in one process (TikTok requests, limiter waits) is
added to `MetricCounter` rows in the database (one upsert per event), so that any web process
can answer for every worker on every machine (monitoring/metrics.py reads them at scrape time).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction

from core import rawsql
from telemetry.models import MetricCounter

logger = logging.getLogger(__name__)

PREFIX = "braze_sync"
# Upper bounds of the TikTok latency histogram, in seconds (+Inf is implied).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

TIKTOK_REQUESTS = "tiktok_requests_total"
TIKTOK_LATENCY = "tiktok_request_duration_seconds"
LIMITER_WAITS = "ratelimit_waits_total"
LIMITER_WAIT_SECONDS = "ratelimit_wait_seconds_total"
LIMITER_TIMEOUTS = "ratelimit_timeouts_total"


def label_string(**labels: str) -> str:
    """The canonical form of a label set: sorted, quoted, escaped as Prometheus does."""
    return ",".join(
        f'{key}="{str(value).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for key, value in sorted(labels.items())
    )


def parse_labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    i = 0
    while i < len(text):
        eq = text.index("=", i)
        key = text[i:eq]
        j, value = eq + 2, []
        while text[j] != '"':
            if text[j] == "\\":
                j += 1
            value.append(text[j])
            j += 1
        labels[key] = "".join(value)
        i = j + 2  # past the closing quote and the comma
    return labels


def counters_add(increments: Iterable[tuple[str, str, float]]) -> None:
    """Add to shared counters in one statement, after the caller's transaction commits (a
    rolled-back batch did not happen). Failing to count never fails the caller's work."""
    rows = sorted(increments)  # one order everywhere: concurrent upserts cannot deadlock
    if rows:
        transaction.on_commit(lambda: _upsert(rows), robust=True)


def _upsert(rows: list[tuple[str, str, float]]) -> None:
    name = MetricCounter._meta.db_table
    try:
        rawsql.insert(
            name,
            ("name", "labels", "value"),
            rows,
            model=MetricCounter,
            conflict=("name", "labels"),
            update={"value": f"{rawsql.quote(name)}.value + EXCLUDED.value"},
        )
    except Exception:
        logger.warning("metrics not recorded", exc_info=True)


def tiktok_request_observed(endpoint: str, outcome: str, seconds: float) -> None:
    """One request to TikTok: `outcome` is TikTok's code ("0", "40100"), an HTTP status
    ("http_503") or "timeout" / "network"."""
    bucket = next((str(b) for b in LATENCY_BUCKETS if seconds <= b), "+Inf")
    counters_add(
        [
            (TIKTOK_REQUESTS, label_string(endpoint=endpoint, code=outcome), 1),
            (f"{TIKTOK_LATENCY}_bucket", label_string(endpoint=endpoint, le=bucket), 1),
            (f"{TIKTOK_LATENCY}_sum", label_string(endpoint=endpoint), seconds),
        ]
    )


def limiter_wait_observed(seconds: float, *, timed_out: bool) -> None:
    """A request that had to wait for the shared limiter (requests that did not wait are
    not counted: they are tiktok_requests_total)."""
    rows = [(LIMITER_WAITS, "", 1), (LIMITER_WAIT_SECONDS, "", seconds)]
    if timed_out:
        rows.append((LIMITER_TIMEOUTS, "", 1))
    counters_add(rows)
