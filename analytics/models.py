"""What the Canvas analytics page shows: per-step counters, their time buckets, the reasons
users were not synced, and the sync log (one row per /segment/mapping/ request).

Counters are bumped in the transaction that does the work (journeys' engine, the Audience Sync
flush), so a user is counted once or not at all, and the page reads one row per step. These
models were first defined in the journeys app: their tables keep its name.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from canvas.models import Step, SyncAction
from partners.models import TikTokAudience


class StepStats(models.Model):
    """Per-step counters, bumped once per batch in the transaction that does the work, so
    every user is counted exactly once and the analytics page reads one row per step.

    Users Pending is derived: entered - not_synced - synced - errored - deleted
    (docs/ARCHITECTURE.md D11).
    """

    step = models.OneToOneField(Step, on_delete=models.CASCADE, related_name="stats")
    entered = models.BigIntegerField(default=0)
    proceeded = models.BigIntegerField(default=0)
    exited = models.BigIntegerField(default=0)
    # Audience Sync
    synced = models.BigIntegerField(default=0)
    not_synced = models.BigIntegerField(default=0)
    errored = models.BigIntegerField(default=0)
    # Users deleted (/users/delete) while still queued: never sent, no longer pending, and
    # counted in Entered only (docs/ARCHITECTURE.md D16).
    deleted = models.BigIntegerField(default=0)
    # Decision Split branches and Message sends
    yes = models.BigIntegerField(default=0)
    no = models.BigIntegerField(default=0)
    sends = models.BigIntegerField(default=0)
    # The latest TikTok failure of this step's users (shown on the step at once) and success.
    last_error_code = models.IntegerField(null=True, blank=True)
    last_error_message = models.TextField(blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "journeys_stepstats"
        verbose_name_plural = _("step stats")

    def __str__(self) -> str:
        return f"Stats of step {self.step_id}"

    @property
    def pending(self) -> int:
        return max(self.entered - self.not_synced - self.synced - self.errored - self.deleted, 0)


class Period(models.TextChoices):
    MINUTE = "minute", _("Minute")
    DAY = "day", _("Day")


class StepActivity(models.Model):
    """Time buckets behind the analytics chart: per step, per minute (kept two days) and per
    day, bumped with the counters so the chart is drawn from what happened, not estimated."""

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=8, choices=Period.choices)
    start = models.DateTimeField()
    entered = models.BigIntegerField(default=0)
    synced = models.BigIntegerField(default=0)
    errored = models.BigIntegerField(default=0)

    class Meta:
        db_table = "journeys_stepactivity"
        verbose_name_plural = _("step activity")
        constraints = [
            models.UniqueConstraint(fields=["step", "period", "start"], name="step_activity_unique")
        ]

    def __str__(self) -> str:
        return f"Step {self.step_id} {self.period} {self.start:%Y-%m-%d %H:%M}"


class NotSyncedReason(models.Model):
    """Why users of an Audience Sync step were not sent, counted per reason."""

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="not_synced_reasons")
    reason = models.CharField(max_length=200)
    count = models.BigIntegerField(default=0)

    class Meta:
        db_table = "journeys_notsyncedreason"
        constraints = [
            models.UniqueConstraint(fields=["step", "reason"], name="not_synced_reason_unique")
        ]

    def __str__(self) -> str:
        return f"{self.reason}: {self.count}"


class BatchOutcome(models.TextChoices):
    SYNCED = "synced", pgettext_lazy("sync log outcome", "Synced")
    RETRY = "retry", pgettext_lazy("sync log outcome", "Will retry")


class AudienceSyncBatch(models.Model):
    """The sync log: one row per /segment/mapping/ request."""

    audience = models.ForeignKey(TikTokAudience, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=8, choices=SyncAction.choices)
    size = models.IntegerField()
    outcome = models.CharField(max_length=8, choices=BatchOutcome.choices)
    code = models.IntegerField(null=True, blank=True)
    message = models.TextField(blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    sent_at = models.DateTimeField(default=timezone.now)
    milliseconds = models.IntegerField(default=0)
    # When the longest-waiting user of the batch reached the step: sent_at + milliseconds
    # minus this bounds every user's latency from entering the step to TikTok.
    oldest_enqueued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "journeys_audiencesyncbatch"
        verbose_name_plural = _("audience sync batches")
        indexes = [
            models.Index(fields=["audience", "-sent_at"], name="sync_batch_audience_idx"),
            # The status page's and /metrics' requests in the last minute, every audience.
            models.Index(fields=["sent_at"], name="sync_batch_sent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.size} to audience {self.audience_id}: {self.outcome}"
