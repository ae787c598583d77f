"""What the operators' views read: worker heartbeats, the last runs of the periodic tasks,
counters of TikTok requests and limiter waits, and the requests in flight.

Every process (web, worker, beat) on every machine writes here, so that the status page and
/metrics show the whole deployment whichever web process answers. These models were first
defined in the monitoring app: their tables keep its name.
"""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """A Celery worker, written every few seconds by the worker's main process."""

    hostname = models.CharField(max_length=255, unique=True)
    pid = models.IntegerField()
    concurrency = models.IntegerField(default=0)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    # Set when the worker received SIGTERM (warm shutdown) and once it has stopped.
    stopping_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "monitoring_workerheartbeat"
        ordering = ["hostname"]

    def __str__(self) -> str:
        return self.hostname


class TaskRun(models.Model):
    """The latest run of a periodic task, whichever worker ran it."""

    name = models.CharField(max_length=100, primary_key=True)
    last_started_at = models.DateTimeField()
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_hostname = models.CharField(max_length=255, blank=True)
    last_result = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "monitoring_taskrun"

    def __str__(self) -> str:
        return self.name


class MetricCounter(models.Model):
    """A monotonically increasing counter with its Prometheus labels, shared by every process.

    `labels` is the canonical label string (`code="0",endpoint="/segment/mapping/"`), so that
    one row is one time series and increments are single upserts.
    """

    name = models.CharField(max_length=100)
    labels = models.CharField(max_length=300, blank=True, default="")
    value = models.FloatField(default=0)

    class Meta:
        db_table = "monitoring_metriccounter"
        constraints = [
            models.UniqueConstraint(fields=["name", "labels"], name="metric_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name}{{{self.labels}}}"


class InFlightRequest(models.Model):
    """A /segment/mapping/ request on its way to TikTok. Written outside the claim's
    transaction so that other processes see it while it lasts; rows of a worker that died
    mid-request are ignored after `expires_at`. No foreign keys: it is written before the
    claim's rows (and possibly in a test's uncommitted data) are visible."""

    audience_id = models.BigIntegerField()
    users = models.IntegerField()
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "monitoring_inflightrequest"

    def __str__(self) -> str:
        return f"{self.users} users to audience {self.audience_id}"
