"""Problems with the TikTok integration or a Canvas step, and the notifications they send.

A Problem is one open issue (docs/ARCHITECTURE.md B2): it notifies its recipients once when it
opens and once when it is resolved, however many requests fail in between. Notifications are
per user and per app group, with the words fixed when they were sent.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from appgroups.models import AppGroup
from canvas.models import Step
from partners.models import TikTokAdAccount, TikTokConnection


class ProblemKind(models.TextChoices):
    # Integration level: the user who connected TikTok hears of these.
    # Braze's names for the errors (its documents' words).
    INVALID_TOKEN = "invalid_token", _("Invalid Token")
    AD_ACCOUNT_ACCESS = "ad_account_access", _("Ad Account Access Attempt")
    # Step level: the Canvas's creator hears of these.
    AUDIENCE_DOES_NOT_EXIST = "audience_does_not_exist", _("Audience Does Not Exist")
    USERS_ERRORING = "users_erroring", _("Users Are Erroring Out")


class ProblemStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")
    # Ended without being fixed (the ad account was disconnected): nobody is told.
    CLOSED = "closed", _("Closed")


class Problem(models.Model):
    """One open problem of a connection, an ad account or a step.

    At most one problem per (kind, key) is open at a time (a unique constraint, so two workers
    hitting the same error at once open it once); a problem that comes back after being
    resolved is a new row and notifies again.
    """

    app_group = models.ForeignKey(AppGroup, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=ProblemKind.choices)
    # What the problem is about, e.g. "connection:3", "ad_account:7", "step:42".
    key = models.CharField(max_length=64)
    status = models.CharField(
        max_length=16, choices=ProblemStatus.choices, default=ProblemStatus.OPEN
    )
    connection = models.ForeignKey(
        TikTokConnection, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    ad_account = models.ForeignKey(
        TikTokAdAccount, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    step = models.ForeignKey(
        Step, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # TikTok's error code when it said why (never its message: it may echo request data).
    code = models.IntegerField(null=True, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key"],
                condition=models.Q(status="open"),
                name="problem_one_open_per_key",
            ),
        ]
        indexes = [
            # Every successful batch asks whether its steps have open problems.
            models.Index(
                fields=["step"], condition=models.Q(status="open"), name="problem_open_step_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.key}, {self.get_status_display()})"


class Notification(models.Model):
    """What one user is told about a problem opening or being resolved, in one app group."""

    app_group = models.ForeignKey(AppGroup, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="notifications")
    resolved = models.BooleanField(default=False)
    title = models.CharField(max_length=200)
    body = models.TextField()
    advice = models.TextField(blank=True)
    # A path inside the dashboard: where to fix (or check) the problem.
    link = models.CharField(max_length=200)
    link_label = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The list page and the header's unread count.
            models.Index(
                fields=["user", "app_group", "read_at"], name="notification_user_group_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} for {self.user}"
