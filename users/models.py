"""Braze user profiles, their devices and activity counts, and CSV imports of users.

These models were first defined in the appgroups app: their tables keep its name
(`appgroups_profile`, …), so existing databases carry over without moving data.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from appgroups.models import AppGroup, User
from users.messages import Message

# --- User profiles (Braze "users") -------------------------------------------------------------
#
# Identifier and hash columns use NULL for "absent" (noqa DJ001): unique constraints must skip
# profiles without an external id or alias, and the Canvas engine copies the hash columns as
# they are, NULL meaning "no value to match".


class SubscriptionState(models.TextChoices):
    OPTED_IN = "opted_in", _("Opted in")
    SUBSCRIBED = "subscribed", _("Subscribed")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")


class Gender(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")
    OTHER = "O", pgettext_lazy("gender", "Other")
    NOT_APPLICABLE = "N", _("Not applicable")
    PREFER_NOT_TO_SAY = "P", _("Prefer not to say")


class Profile(models.Model):
    """One end user of an app group, fed by the REST API and CSV imports.

    Email and phone are kept raw as received, with the normalized form and SHA-256 computed once
    at write time by users.identifiers (docs/ARCHITECTURE.md D5). The `idfa_*`, `gaid_*` and
    `ad_tracking_enabled` columns mirror the user's devices (see Device) so that entering an
    Audience Sync step is a column copy from this table.
    """

    # The composite indexes below start with app_group, so the FK needs no index of its own.
    # No database constraint on the high-volume profile tables: its check runs once per inserted
    # row (a fifth of a bulk insert's cost), and Django cascades deletes itself.
    app_group = models.ForeignKey(
        AppGroup,
        on_delete=models.CASCADE,
        related_name="profiles",
        db_index=False,
        db_constraint=False,
    )
    # Public id, shaped like Braze's (24 hex characters); random, never reused. Unique through
    # Meta.constraints: `unique=True` would add a second (LIKE) index written on every insert.
    braze_id = models.CharField(max_length=24, editable=False)
    external_id = models.CharField(max_length=512, null=True, blank=True)  # noqa: DJ001
    alias_name = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    alias_label = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001

    email = models.CharField(max_length=255, blank=True, default="")
    email_sha256 = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    email_invalid_reason = models.CharField(max_length=100, blank=True, default="")
    phone = models.CharField(max_length=64, blank=True, default="")
    phone_e164 = models.CharField(max_length=16, null=True, blank=True)  # noqa: DJ001
    phone_sha256 = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    phone_invalid_reason = models.CharField(max_length=100, blank=True, default="")

    first_name = models.CharField(max_length=255, blank=True, default="")
    last_name = models.CharField(max_length=255, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="")
    language = models.CharField(max_length=2, blank=True, default="")
    dob = models.DateField(null=True, blank=True)
    gender = models.CharField(max_length=1, blank=True, default="", choices=Gender.choices)
    home_city = models.CharField(max_length=255, blank=True, default="")
    time_zone = models.CharField(max_length=64, blank=True, default="")
    email_subscribe = models.CharField(
        max_length=12, blank=True, default="", choices=SubscriptionState.choices
    )
    push_subscribe = models.CharField(
        max_length=12, blank=True, default="", choices=SubscriptionState.choices
    )
    custom_attributes = models.JSONField(default=dict, blank=True)

    # Per value, from the device that reported it last (Device.*_reported_at); every device write
    # keeps these in step, so the Canvas engine never reads devices.
    idfa_sha256 = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    idfa_invalid_reason = models.CharField(max_length=100, blank=True, default="")
    gaid_sha256 = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    gaid_invalid_reason = models.CharField(max_length=100, blank=True, default="")
    ad_tracking_enabled = models.BooleanField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "appgroups_profile"
        constraints = [
            models.UniqueConstraint(fields=["braze_id"], name="profile_braze_id_unique"),
            # NULLs are distinct: profiles without external id (alias- or email-only) coexist.
            models.UniqueConstraint(
                fields=["app_group", "external_id"], name="profile_external_id_unique"
            ),
            models.UniqueConstraint(
                fields=["app_group", "alias_name", "alias_label"],
                condition=models.Q(alias_name__isnull=False),
                name="profile_alias_unique",
            ),
        ]
        indexes = [
            # Newest-first listing of one app group, and FK lookups.
            models.Index(fields=["app_group", "id"], name="profile_app_group_id_idx"),
            # Search and /users/track identification by email or phone (normalized, hashed).
            models.Index(
                fields=["app_group", "email_sha256"],
                condition=models.Q(email_sha256__isnull=False),
                name="profile_email_sha256_idx",
            ),
            models.Index(
                fields=["app_group", "phone_sha256"],
                condition=models.Q(phone_sha256__isnull=False),
                name="profile_phone_sha256_idx",
            ),
        ]

    def __str__(self) -> str:
        if self.external_id:
            return self.external_id
        if self.alias_name:
            return f"{self.alias_label}:{self.alias_name}"
        return self.braze_id

    @property
    def display_id(self) -> str:
        return str(self)


class Device(models.Model):
    """A device of a profile, where Braze keeps ad ids (docs/ARCHITECTURE.md D13).

    Each of IDFA, GAID and ad tracking has its own "reported at" time, set when a write carries
    that value. The profile mirrors, per value, the device that reported it last; a write that
    does not carry a value leaves the mirror alone, which keeps bulk paths exact without reading
    every device back.
    """

    # Indexed by the (profile, device_id) unique constraint.
    profile = models.ForeignKey(
        Profile,
        on_delete=models.CASCADE,
        related_name="devices",
        db_constraint=False,
        db_index=False,
    )
    device_id = models.CharField(max_length=255)
    os = models.CharField(max_length=64, blank=True, default="")
    model = models.CharField(max_length=128, blank=True, default="")
    idfa = models.CharField(max_length=64, blank=True, default="")
    idfa_sha256 = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    idfa_invalid_reason = models.CharField(max_length=100, blank=True, default="")
    google_ad_id = models.CharField(max_length=64, blank=True, default="")
    gaid_sha256 = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    gaid_invalid_reason = models.CharField(max_length=100, blank=True, default="")
    ad_tracking_enabled = models.BooleanField(null=True, blank=True)
    idfa_reported_at = models.DateTimeField(null=True, blank=True)
    gaid_reported_at = models.DateTimeField(null=True, blank=True)
    ad_tracking_reported_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "appgroups_device"
        constraints = [
            models.UniqueConstraint(fields=["profile", "device_id"], name="device_unique"),
        ]
        indexes = [models.Index(fields=["device_id"], name="device_device_id_idx")]

    def __str__(self) -> str:
        return self.device_id


class ProfileActivity(models.Model):
    """Custom events and purchases from /users/track, counted per name (not stored one by one).

    This is what `/users/export/ids` returns as `custom_events` and `purchases`: name, first,
    last and count.
    """

    class Kind(models.TextChoices):
        EVENT = "event", _("Custom event")
        PURCHASE = "purchase", _("Purchase")

    # Indexed by the (profile, kind, name) unique constraint.
    profile = models.ForeignKey(
        Profile,
        on_delete=models.CASCADE,
        related_name="activities",
        db_constraint=False,
        db_index=False,
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=255)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    count = models.BigIntegerField(default=0)

    class Meta:
        db_table = "appgroups_profileactivity"
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "kind", "name"], name="profile_activity_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} ×{self.count}"


# --- CSV imports -------------------------------------------------------------------------------


class UserImport(models.Model):
    """One CSV file of users, imported by a Celery task (or `manage.py import_users`)."""

    class Status(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("CSV import status", "Queued")
        RUNNING = "running", pgettext_lazy("CSV import status", "Running")
        DONE = "done", pgettext_lazy("CSV import status", "Done")
        FAILED = "failed", pgettext_lazy("CSV import status", "Failed")

    app_group = models.ForeignKey(AppGroup, on_delete=models.CASCADE, related_name="user_imports")
    file_name = models.CharField(max_length=255)
    file_size = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    bytes_processed = models.BigIntegerField(default=0)
    rows_processed = models.BigIntegerField(default=0)
    rows_imported = models.BigIntegerField(default=0)
    rows_rejected = models.BigIntegerField(default=0)
    # Rows imported with an email, phone or ad id that cannot be matched (kept with its reason).
    values_unusable = models.BigIntegerField(default=0)
    # Why a failed import stopped: the English text, and the same as a Message
    # (users.messages) that the page shows in its reader's language.
    error = models.TextField(blank=True, default="")
    error_message = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Refreshed with each progress write; a running import that stopped refreshing was lost
    # with its worker and may be claimed again.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "appgroups_userimport"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["app_group", "-created_at"], name="user_import_list_idx")]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def error_text(self) -> str:
        """`error` in the active language."""
        message = Message.from_json(self.error_message)
        return message.translated() if message else self.error

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.file_size:
            return 0
        return min(99, int(self.bytes_processed * 100 / self.file_size))


class UserImportChunk(models.Model):
    """The uploaded file, in pieces, so that a worker on another machine can read it. Deleted
    once the import has run."""

    user_import = models.ForeignKey(UserImport, on_delete=models.CASCADE, related_name="chunks")
    seq = models.IntegerField()
    data = models.BinaryField()

    class Meta:
        db_table = "appgroups_userimportchunk"
        constraints = [
            models.UniqueConstraint(fields=["user_import", "seq"], name="user_import_chunk_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_import_id}#{self.seq}"


class UserImportIssue(models.Model):
    """A rejected row, or a value kept but unusable for matching, with the line and reason."""

    user_import = models.ForeignKey(UserImport, on_delete=models.CASCADE, related_name="issues")
    line = models.BigIntegerField()
    # True: the row was not imported. False: imported, but this column cannot be synced.
    rejected = models.BooleanField(default=True)
    column = models.CharField(max_length=255, blank=True, default="")
    # The English text (the report download's), and the same as a Message (users.messages)
    # that the page shows in its reader's language.
    reason = models.CharField(max_length=255)
    reason_message = models.JSONField(null=True, blank=True)
    external_id = models.CharField(max_length=512, blank=True, default="")

    class Meta:
        db_table = "appgroups_userimportissue"
        ordering = ["line", "id"]
        indexes = [models.Index(fields=["user_import", "line"], name="user_import_issue_idx")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"

    @property
    def reason_text(self) -> str:
        """`reason` in the active language."""
        message = Message.from_json(self.reason_message)
        return message.translated() if message else self.reason


# --- Re-reading phone numbers after a change of the default country -----------------------------


class PhoneRenormalization(models.Model):
    """The re-reading of an app group's stored phone numbers in its new default country.

    Created in the transaction that changes the country (users.phone_renormalize); a Celery task
    walks the group's profiles in chunks of ids, each chunk one transaction that also moves
    `cursor`, so a dead worker's successor carries on where the last commit left off. A newer
    change of the country supersedes it.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("phone re-reading status", "Queued")
        RUNNING = "running", pgettext_lazy("phone re-reading status", "Running")
        DONE = "done", pgettext_lazy("phone re-reading status", "Done")
        SUPERSEDED = "superseded", pgettext_lazy("phone re-reading status", "Superseded")

    class Phase(models.TextChoices):
        # Every profile of the group, in id order.
        SWEEP = "sweep", _("Re-reading every stored number")
        # Waiting until no write that read the previous country can still be in flight.
        SETTLE = "settle", _("Waiting for writes begun before the change")
        # Again, only profiles written since the change began (see users.phone_renormalize).
        CATCH_UP = "catch_up", _("Re-reading numbers written during the change")

    app_group = models.ForeignKey(
        AppGroup, on_delete=models.CASCADE, related_name="phone_renormalizations"
    )
    country = models.CharField(max_length=2)
    previous_country = models.CharField(max_length=2, blank=True, default="")
    changed_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=8, choices=Phase.choices, default=Phase.SWEEP)
    # The last profile id of the last committed chunk of the current phase.
    cursor = models.BigIntegerField(default=0)
    # The group's profiles when the sweep began (null until then), and those swept so far.
    profiles_total = models.BigIntegerField(null=True, blank=True)
    profiles_done = models.BigIntegerField(default=0)
    # Profiles whose phone columns this job rewrote (an E.164, a hash or a reason changed).
    phones_changed = models.BigIntegerField(default=0)
    # Set by the worker running it; refreshed by every chunk. A stale one may be taken over.
    claim_token = models.BigIntegerField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["app_group", "-created_at"], name="phone_renorm_latest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.previous_country or '?'} → {self.country} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.SUPERSEDED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.profiles_total:
            return 0
        return min(99, int(self.profiles_done * 100 / self.profiles_total))
