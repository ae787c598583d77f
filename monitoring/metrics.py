"""Prometheus metrics for the whole deployment, served by any web process at /metrics.

Workers on many machines cannot each be scraped for what only they saw, so what happens in a
process (TikTok requests, limiter waits) is added to shared counters in the database
(`MetricCounter`, one upsert per event: telemetry/counters.py), and the rest (users per step type, backlog, oldest
pending user, workers) is read from the database at scrape time. A collector turns both into
the text format with prometheus-client.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from django.db.models import F, Sum
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)

from telemetry.counters import (
    LATENCY_BUCKETS,
    LIMITER_TIMEOUTS,
    LIMITER_WAIT_SECONDS,
    LIMITER_WAITS,
    PREFIX,
    TIKTOK_LATENCY,
    TIKTOK_REQUESTS,
    parse_labels,
)
from telemetry.models import MetricCounter


class DeploymentCollector:
    """Everything /metrics shows, read from the database at scrape time."""

    def __init__(self, now: datetime | None = None):
        self.now = now

    def collect(self) -> Iterator:
        now = self.now or timezone.now()
        yield from _user_counters()
        yield from _shared_counters()
        yield from _queue_gauges(now)
        yield from _worker_gauges(now)


def _user_counters() -> Iterator:
    from analytics.models import StepStats

    fields = {
        "entered": "Users who entered a step.",
        "proceeded": "Users who proceeded to a next step.",
        "exited": "Users who exited the Canvas at a step.",
        "synced": "Users synced to TikTok by Audience Sync steps.",
        "not_synced": "Users an Audience Sync step could not send (no usable identifier).",
        "errored": "Users still unsynced when the retry window ended.",
    }
    sums = (
        StepStats.objects.values(step_type=F("step__step_type"))
        .annotate(**{name: Sum(name) for name in fields})
        .order_by("step_type")
    )
    families = {
        name: CounterMetricFamily(f"{PREFIX}_users_{name}", doc, labels=["step_type"])
        for name, doc in fields.items()
    }
    for row in sums:
        for name, family in families.items():
            family.add_metric([row["step_type"]], row[name] or 0)
    yield from families.values()


def _shared_counters() -> Iterator:
    rows = MetricCounter.objects.order_by("name", "labels").values_list("name", "labels", "value")
    by_name: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for name, labels, value in rows:
        by_name[name].append((parse_labels(labels), value))

    requests = CounterMetricFamily(
        f"{PREFIX}_{TIKTOK_REQUESTS.removesuffix('_total')}",
        "Requests to TikTok by endpoint and result (TikTok code, http_NNN, timeout, network).",
        labels=["endpoint", "code"],
    )
    for labels, value in by_name[TIKTOK_REQUESTS]:
        requests.add_metric([labels["endpoint"], labels["code"]], value)
    yield requests

    latency = HistogramMetricFamily(
        f"{PREFIX}_{TIKTOK_LATENCY}", "Seconds TikTok took to answer.", labels=["endpoint"]
    )
    per_endpoint: dict[str, dict[str, float]] = defaultdict(dict)
    for labels, value in by_name[f"{TIKTOK_LATENCY}_bucket"]:
        per_endpoint[labels["endpoint"]][labels["le"]] = value
    sums = {labels["endpoint"]: value for labels, value in by_name[f"{TIKTOK_LATENCY}_sum"]}
    for endpoint, counts in sorted(per_endpoint.items()):
        cumulative, buckets = 0.0, []
        for bound in [*map(str, LATENCY_BUCKETS), "+Inf"]:
            cumulative += counts.get(bound, 0)
            buckets.append((bound, cumulative))
        latency.add_metric([endpoint], buckets, sums.get(endpoint, 0.0))
    yield latency

    for name, doc in (
        (LIMITER_WAITS, "Requests that waited for the shared TikTok rate limiter."),
        (LIMITER_WAIT_SECONDS, "Seconds spent waiting for the shared TikTok rate limiter."),
        (LIMITER_TIMEOUTS, "Waits that gave up (the batch stayed queued for the next flush)."),
    ):
        family = CounterMetricFamily(f"{PREFIX}_{name.removesuffix('_total')}", doc)
        family.add_metric([], sum(value for _, value in by_name[name]))
        yield family


def _queue_gauges(now: datetime) -> Iterator:
    from monitoring.selectors import deployment_backlog

    totals = deployment_backlog(now=now)
    backlog = GaugeMetricFamily(
        f"{PREFIX}_audience_sync_backlog_users",
        "Users queued for TikTok (waiting, due or in flight).",
    )
    backlog.add_metric([], totals.pending)
    yield backlog
    oldest = GaugeMetricFamily(
        f"{PREFIX}_audience_sync_oldest_pending_seconds",
        "Age of the oldest queued user (0 when the queue is empty).",
    )
    oldest.add_metric([], totals.oldest_age_seconds)
    yield oldest
    in_flight = GaugeMetricFamily(
        f"{PREFIX}_audience_sync_in_flight_users", "Users in requests on their way to TikTok."
    )
    in_flight.add_metric([], totals.in_flight)
    yield in_flight


def _worker_gauges(now: datetime) -> Iterator:
    from monitoring.selectors import flush_last_run, workers_alive

    workers = GaugeMetricFamily(
        f"{PREFIX}_workers_alive", "Celery workers that sent a heartbeat in the last minute."
    )
    workers.add_metric([], len(workers_alive(now=now)))
    yield workers
    run = flush_last_run()
    last = GaugeMetricFamily(
        f"{PREFIX}_audience_sync_flush_last_run_timestamp_seconds",
        "When a worker last started the flush (Unix time; 0 if never).",
    )
    last.add_metric([], run.last_started_at.timestamp() if run else 0)
    yield last


def metrics_text(now: datetime | None = None) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeploymentCollector(now))
    return generate_latest(registry)
