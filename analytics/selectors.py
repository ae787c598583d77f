"""Reads for the Canvas analytics page: counters, not per-user rows, so it stays fast at
millions of users (docs/PERFORMANCE.md: ≤ 300 ms with 1M sync rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import QuerySet, Sum

from analytics.models import AudienceSyncBatch, NotSyncedReason, Period, StepActivity, StepStats
from canvas.models import Canvas, Step, StepType

RECENT_BATCHES = 20


@dataclass
class StepMetrics:
    """Braze's seven Audience Sync metrics, plus what other step types show."""

    entered: int = 0
    proceeded: int = 0
    exited: int = 0
    synced: int = 0
    not_synced: int = 0
    errored: int = 0
    deleted: int = 0
    yes: int = 0
    no: int = 0
    sends: int = 0
    last_error_code: int | None = None
    last_error_message: str = ""
    last_error_at: object = None
    last_synced_at: object = None
    not_synced_reasons: list[tuple[str, int]] = field(default_factory=list)

    @property
    def pending(self) -> int:
        return max(self.entered - self.not_synced - self.synced - self.errored - self.deleted, 0)


def canvas_steps(*, canvas: Canvas) -> QuerySet[Step]:
    return (
        Step.objects.filter(canvas=canvas, deleted_at__isnull=True)
        .select_related("audience_sync__audience", "audience_sync__ad_account")
        .order_by("pk")
    )


def canvas_step_metrics(*, canvas: Canvas) -> dict[int, StepMetrics]:
    """Metrics of every step of the Canvas (deleted ones too: their history stays)."""
    metrics: dict[int, StepMetrics] = {}
    rows = StepStats.objects.filter(step__canvas=canvas).values()
    for row in rows:
        metrics[row["step_id"]] = StepMetrics(
            **{k: v for k, v in row.items() if k not in ("id", "step_id")}
        )
    reasons = NotSyncedReason.objects.filter(step__canvas=canvas).order_by("-count")
    for reason in reasons:
        metrics.setdefault(reason.step_id, StepMetrics()).not_synced_reasons.append(
            (reason.reason, reason.count)
        )
    return metrics


def canvas_sync_log(*, canvas: Canvas) -> QuerySet[AudienceSyncBatch]:
    """The latest /segment/mapping/ requests for the audiences this Canvas writes to."""
    audience_ids = Step.objects.filter(canvas=canvas, audience_sync__audience__isnull=False).values(
        "audience_sync__audience_id"
    )
    return (
        AudienceSyncBatch.objects.filter(audience_id__in=audience_ids)
        .select_related("audience")
        .order_by("-sent_at")[:RECENT_BATCHES]
    )


@dataclass
class ActivitySeries:
    """Entered / synced / errored per bucket, gaps filled with zeros."""

    period: str
    starts: list
    entered: list[int]
    synced: list[int]
    errored: list[int]

    @property
    def peak(self) -> int:
        return max([1, *self.entered, *self.synced, *self.errored])

    @property
    def totals(self) -> dict[str, int]:
        return {
            "entered": sum(self.entered),
            "synced": sum(self.synced),
            "errored": sum(self.errored),
        }


def canvas_activity(*, canvas: Canvas, period: str, buckets: int, now) -> ActivitySeries:
    """The last `buckets` minutes or days of the Canvas's Audience Sync steps (all steps'
    arrivals when it has none), read from StepActivity."""
    size = timedelta(minutes=1) if period == Period.MINUTE else timedelta(days=1)
    last = now.replace(second=0, microsecond=0)
    if period == Period.DAY:
        last = last.replace(hour=0, minute=0)
    first = last - size * (buckets - 1)
    steps = Step.objects.filter(canvas=canvas)
    if steps.filter(step_type=StepType.AUDIENCE_SYNC).exists():
        steps = steps.filter(step_type=StepType.AUDIENCE_SYNC)
    else:
        steps = steps.filter(parent__isnull=True)
    rows = (
        StepActivity.objects.filter(step__in=steps, period=period, start__gte=first)
        .values("start")
        .annotate(entered=Sum("entered"), synced=Sum("synced"), errored=Sum("errored"))
    )
    by_start = {row["start"]: row for row in rows}
    starts = [first + size * i for i in range(buckets)]
    empty = {"entered": 0, "synced": 0, "errored": 0}
    return ActivitySeries(
        period=period,
        starts=starts,
        entered=[by_start.get(s, empty)["entered"] for s in starts],
        synced=[by_start.get(s, empty)["synced"] for s in starts],
        errored=[by_start.get(s, empty)["errored"] for s in starts],
    )
