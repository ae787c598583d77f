"""How users move through Canvases: their entries and where they are, and Message sends.

The runtime's state is in the database (docs/ARCHITECTURE.md D12): Celery messages only wake the engine
up, so a lost message or a dead worker loses nothing.

The high-volume tables (Entry, MessageSend, and the Audience Sync queue) keep their foreign keys in the
ORM (Django still cascades deletes) but not as database constraints: PostgreSQL checks each
constraint per row at commit, which more than doubled the time to enter 100k users
(bench/sync_throughput.py --workers 0). Their rows are only ever written by the engine's own statements.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from canvas.models import Canvas, Step
from users.models import Profile


class Phase(models.IntegerChoices):
    ARRIVE = 0, _("Arriving at the step")
    WAIT = 1, _("Waiting in a Delay")


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
        verbose_name_plural = _("entries")
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
