"""How users move through Canvases, the Audience Sync queue, and the counters behind analytics.

All durable state of the engine is here (DESIGN.md §2): Celery messages only wake the engine
up, so a lost message or a dead worker loses nothing.

The high-volume tables (Entry, MessageSend, AudienceSyncItem) keep their foreign keys in the
ORM (Django still cascades deletes) but not as database constraints: PostgreSQL checks each
constraint per row at commit, which more than doubled the time to enter 100k users
(bench/audience_sync.py). Their rows are only ever written by the engine's own statements.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from canvas.models import Canvas, Step
from partners.models import TikTokAudience, TikTokConnection
from users.models import Profile


class Phase(models.IntegerChoices):
    ARRIVE = 0, "Arriving at the step"
    WAIT = 1, "Waiting in a Delay"


class Entry(models.Model):
    """One entry of a profile into a Canvas, and where it is now.

    The engine looks at an entry again at `due_at`: at once when it arrives at a step, after
    the delay in a Delay step. `step` and `due_at` are NULL once the entry has exited.
    """

    # (canvas, profile) and (profile, canvas) indexes below serve every lookup.
    canvas = models.ForeignKey(
        Canvas, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="canvas_entries", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    entered_at = models.DateTimeField(default=timezone.now)
    step = models.ForeignKey(
        Step, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    phase = models.SmallIntegerField(choices=Phase.choices, default=Phase.ARRIVE)
    due_at = models.DateTimeField(null=True, blank=True)
    exited_at = models.DateTimeField(null=True, blank=True)
    # canvas_entry_properties / context of /canvas/trigger/send.
    properties = models.JSONField(null=True, blank=True)
    dispatch_id = models.CharField(max_length=32, blank=True, default="")
    # Set inside the transaction that processes a batch, so the set-based statements of that
    # batch can name its rows; NULL outside it.
    claim = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "entries"
        indexes = [
            models.Index(fields=["profile", "canvas"], name="entry_profile_canvas_idx"),
            models.Index(fields=["canvas", "profile"], name="entry_canvas_profile_idx"),
            # The engine's work list: entries due at a step.
            models.Index(
                fields=["step", "due_at"],
                condition=models.Q(due_at__isnull=False),
                name="entry_due_idx",
            ),
            models.Index(
                fields=["claim"], condition=models.Q(claim__isnull=False), name="entry_claim_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Entry {self.pk} of profile {self.profile_id} in Canvas {self.canvas_id}"


class MessageSend(models.Model):
    """A Message step's send to one user (no real channel is wired)."""

    step = models.ForeignKey(
        Step, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    entry = models.ForeignKey(
        Entry, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["step", "sent_at"], name="message_send_step_idx")]

    def __str__(self) -> str:
        return f"Send of step {self.step_id} to profile {self.profile_id}"


class StepStats(models.Model):
    """Per-step counters, bumped once per batch in the transaction that does the work, so
    every user is counted exactly once and the analytics page reads one row per step.

    Users Pending is derived: entered - not_synced - synced - errored (DESIGN.md §4.9).
    """

    step = models.OneToOneField(Step, on_delete=models.CASCADE, related_name="stats")
    entered = models.BigIntegerField(default=0)
    proceeded = models.BigIntegerField(default=0)
    exited = models.BigIntegerField(default=0)
    # Audience Sync
    synced = models.BigIntegerField(default=0)
    not_synced = models.BigIntegerField(default=0)
    errored = models.BigIntegerField(default=0)
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
        verbose_name_plural = "step stats"

    def __str__(self) -> str:
        return f"Stats of step {self.step_id}"

    @property
    def pending(self) -> int:
        return max(self.entered - self.not_synced - self.synced - self.errored, 0)


class Period(models.TextChoices):
    MINUTE = "minute", "Minute"
    DAY = "day", "Day"


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
        verbose_name_plural = "step activity"
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
        constraints = [
            models.UniqueConstraint(fields=["step", "reason"], name="not_synced_reason_unique")
        ]

    def __str__(self) -> str:
        return f"{self.reason}: {self.count}"


class SyncAction(models.TextChoices):
    """TikTok's /segment/mapping/ actions."""

    ADD = "add", "Add"
    DELETE = "delete", "Delete"


class AudienceSyncItem(models.Model):
    """One user waiting to be sent to a TikTok audience: the hashed cells of one
    /segment/mapping/ row. Deleted in the transaction that records its success.

    Rows batch together by (audience, action, schema): `schema` is a bit mask of the fields
    to match (canvas.MatchField order: email 1, phone 2, IDFA 4, GAID 8), which fixes the
    request's id_schema; a NULL hash is sent as {} in its cell.
    """

    step = models.ForeignKey(
        Step, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    audience = models.ForeignKey(
        TikTokAudience, on_delete=models.CASCADE, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    connection = models.ForeignKey(
        TikTokConnection, on_delete=models.CASCADE, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    action = models.CharField(max_length=8, choices=SyncAction.choices)
    schema = models.SmallIntegerField()
    email_sha256 = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    phone_sha256 = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    idfa_sha256 = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    gaid_sha256 = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    # When the user reached the step.
    enqueued_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    attempts = models.IntegerField(default=0)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    # End of the ~13 h retry window (DESIGN.md §4.7). Set when the user is queued, which is
    # within one flush tick of the first attempt, so it also runs while sending is paused.
    deadline_at = models.DateTimeField(null=True, blank=True)
    last_error_code = models.IntegerField(null=True, blank=True)
    last_error_message = models.TextField(blank=True, default="")
    # SQLite only (no SKIP LOCKED): which flush holds the row, until when.
    claim = models.BigIntegerField(null=True, blank=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["audience", "action", "schema", "next_attempt_at"],
                name="sync_item_due_idx",
            ),
            models.Index(
                fields=["deadline_at"],
                condition=models.Q(deadline_at__isnull=False),
                name="sync_item_deadline_idx",
            ),
            models.Index(
                fields=["claim"],
                condition=models.Q(claim__isnull=False),
                name="sync_item_claim_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Sync of step {self.step_id} to audience {self.audience_id} ({self.action})"


class BatchOutcome(models.TextChoices):
    SYNCED = "synced", "Synced"
    RETRY = "retry", "Will retry"


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
        verbose_name_plural = "audience sync batches"
        indexes = [
            models.Index(fields=["audience", "-sent_at"], name="sync_batch_audience_idx"),
            # The status page's and /metrics' requests in the last minute, every audience.
            models.Index(fields=["sent_at"], name="sync_batch_sent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.size} to audience {self.audience_id}: {self.outcome}"


class RateLimiterState(models.Model):
    """The database fallback of the shared TikTok rate limiter (Redis when configured):
    the send times of the last second, per limiter key."""

    key = models.CharField(max_length=100, primary_key=True)
    recent = models.JSONField(default=list)

    def __str__(self) -> str:
        return self.key
