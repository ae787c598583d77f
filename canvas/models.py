"""Canvases (user journeys) and their steps. How users move through them, the Audience Sync
queue and the step counters live in journeys/."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from appgroups.models import AppGroup
from partners.models import TikTokAdAccount, TikTokAudience


class CanvasState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    # The REST API calls this state "paused" (Braze's wording).
    STOPPED = "stopped", _("Stopped")
    ARCHIVED = "archived", _("Archived")


class EntryType(models.TextChoices):
    API_TRIGGERED = "api", _("API-Triggered")
    SCHEDULED = "scheduled", _("Scheduled")


class Canvas(models.Model):
    app_group = models.ForeignKey(AppGroup, on_delete=models.CASCADE, related_name="canvases")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=16, choices=CanvasState.choices, default=CanvasState.DRAFT)

    entry_type = models.CharField(
        max_length=16, choices=EntryType.choices, default=EntryType.API_TRIGGERED
    )
    # Scheduled entry: when every profile matching the target audience enters (None: at
    # launch). journeys/ enters them a chunk at a time, in profile id order, and records the
    # last profile id of each chunk with it; scheduled_entry_done_at once the entry has run.
    schedule_at = models.DateTimeField(null=True, blank=True)
    scheduled_entry_after = models.BigIntegerField(null=True, blank=True, editable=False)
    scheduled_entry_done_at = models.DateTimeField(null=True, blank=True)

    # Target audience: a list of filters ANDed together; see canvas/audience.py for the
    # format and the queryset it becomes.
    audience_filters = models.JSONField(default=list, blank=True)
    allow_reentry = models.BooleanField(default=False)
    # Bumped by journeys/ once per entry batch, so the Canvas list needs no count over entries.
    total_entries = models.BigIntegerField(default=0)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = _("canvases")
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["app_group", "state"])]

    def __str__(self) -> str:
        return self.name


class StepType(models.TextChoices):
    AUDIENCE_SYNC = "audience_sync", _("Audience Sync")
    DELAY = "delay", _("Delay")
    DECISION_SPLIT = "decision_split", _("Decision Split")
    MESSAGE = "message", _("Message")


class Branch(models.TextChoices):
    """Which outgoing path of the parent step a step hangs on."""

    NEXT = "next", pgettext_lazy("Decision Split branch", "Next")
    YES = "yes", pgettext_lazy("Decision Split branch", "Yes")
    NO = "no", pgettext_lazy("Decision Split branch", "No")


class Step(models.Model):
    """A component of the Canvas flow: a tree hanging from one root step.

    A step has at most one child per branch: `next` for every type but Decision Split, whose
    children hang on `yes` and `no`. A step without a child on a branch ends that branch:
    users who reach it exit the Canvas. Deleted steps are kept (deleted_at) so their
    analytics survive, as Braze keeps deleted-step data.
    """

    canvas = models.ForeignKey(Canvas, on_delete=models.CASCADE, related_name="steps")
    step_type = models.CharField(max_length=32, choices=StepType.choices)
    name = models.CharField(max_length=200, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    branch = models.CharField(max_length=8, choices=Branch.choices, default=Branch.NEXT)
    # Type-specific settings other than Audience Sync's (which has AudienceSyncSettings):
    #   delay:          {"seconds": int}
    #   decision_split: {"filters": [...]}  (same format as Canvas.audience_filters)
    #   message:        {"channel": str, "body": str}
    config = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["parent", "branch"],
                condition=models.Q(deleted_at__isnull=True, parent__isnull=False),
                name="step_one_child_per_branch",
            ),
            models.UniqueConstraint(
                fields=["canvas"],
                condition=models.Q(deleted_at__isnull=True, parent__isnull=True),
                name="step_one_root_per_canvas",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.get_step_type_display()


class SyncAction(models.TextChoices):
    """What an Audience Sync step does with its users; also the action of their queue rows
    and sync-log rows. TikTok's wire words ("add", "delete") are the client's business
    (partners.tiktok.client.mapping_action)."""

    ADD = "add", _("Add Users to Audience")
    REMOVE = "remove", _("Remove from the Audience")


class MatchField(models.TextChoices):
    """Fields to match, in TikTok's id_schema order (docs/ARCHITECTURE.md D10)."""

    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    IDFA = "idfa", _("iOS IDFA")
    GAID = "gaid", _("Android GAID")


class AudienceSyncSettings(models.Model):
    """What an Audience Sync step sends, and where."""

    step = models.OneToOneField(Step, on_delete=models.CASCADE, related_name="audience_sync")
    partner = models.CharField(max_length=32, default="tiktok")
    ad_account = models.ForeignKey(
        TikTokAdAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    audience = models.ForeignKey(
        TikTokAudience, null=True, blank=True, on_delete=models.PROTECT, related_name="steps"
    )
    # True when this step's "Create Audience" made the draft: the Canvas creates it on TikTok
    # at launch, and later steps of the same Canvas may remove users from it.
    creates_audience = models.BooleanField(default=False)
    action = models.CharField(max_length=8, choices=SyncAction.choices, default=SyncAction.ADD)
    # Subset of MatchField values; the engine sends them in MatchField order.
    match_fields = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name_plural = _("audience sync settings")

    def __str__(self) -> str:
        return f"Audience Sync settings of {self.step}"
