"""The Audience Sync queue: one row per user waiting to be sent to a TikTok audience.

The model was first defined in the journeys app: its table keeps that name. Like the engine's
other high-volume tables it keeps its foreign keys in the ORM but not as database constraints
(journeys/models.py says why).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from canvas.models import Step, SyncAction
from partners.models import TikTokAudience, TikTokConnection
from users.models import Profile


class AudienceSyncItem(models.Model):
    """One user waiting to be sent to a TikTok audience: the hashed cells of one
    /segment/mapping/ row. Deleted in the transaction that records its success.

    Rows batch together by (audience, action, schema): `schema` is a bit mask of the fields
    to match (canvas.MatchField order: email 1, phone 2, IDFA 4, GAID 8), which fixes the
    request's id_schema; a NULL hash is sent as {} in its cell.
    """

    # NULL for a removal queued because the user was deleted (profiles_delete): no step counts it.
    step = models.ForeignKey(
        Step, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    # The user, so that deleting them takes their waiting rows with them; NULL for a removal
    # queued by that deletion (it names no profile: the profile is gone).
    profile = models.ForeignKey(
        Profile, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+",
        db_index=False, db_constraint=False,
    )  # fmt: skip
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
    # End of the ~13 h retry window (docs/ARCHITECTURE.md D6). Set when the user is queued, which is
    # within one flush tick of the first attempt, so it also runs while sending is paused.
    deadline_at = models.DateTimeField(null=True, blank=True)
    last_error_code = models.IntegerField(null=True, blank=True)
    last_error_message = models.TextField(blank=True, default="")
    # SQLite only (no SKIP LOCKED): which flush holds the row, until when.
    claim = models.BigIntegerField(null=True, blank=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "journeys_audiencesyncitem"
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
            models.Index(
                fields=["profile"],
                condition=models.Q(profile__isnull=False),
                name="sync_item_profile_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Sync of step {self.step_id} to audience {self.audience_id} ({self.action})"


class AudienceMember(models.Model):
    """A user this product added to a TikTok audience and has not removed since: what deleting
    the user must take back from TikTok (docs/ARCHITECTURE.md D16).

    `schema` holds the bits of the fields sent whose hash the profile still has; the profile
    holds those hashes. Before a profile's hash changes, the hashes sent are copied into the
    cells and `schema` becomes 0 (audience_sync/erasure.py `audience_members_freeze`), so the
    cells hold hashes sent that the profile no longer has.

    Written when the add is queued (in the same statement: set-based, nothing for the flush to
    write back), deleted when a remove succeeds or when the user is deleted (their removal is
    then queued). Nothing else is kept per synced user.
    """

    # One row per (profile, audience), and its only index: the primary key (profile first) also
    # finds a deleted profile's rows. No surrogate id: a second index on every flushed user.
    pk = models.CompositePrimaryKey("profile", "audience")
    profile = models.ForeignKey(
        Profile, on_delete=models.DO_NOTHING, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    audience = models.ForeignKey(
        TikTokAudience, on_delete=models.CASCADE, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    schema = models.SmallIntegerField()
    email_sha256 = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    phone_sha256 = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    idfa_sha256 = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    gaid_sha256 = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001

    def __str__(self) -> str:
        return f"Profile {self.profile_id} in audience {self.audience_id}"
