"""The TikTok connection of an app group, its ad accounts, and OAuth attempts in flight.

Tokens are stored only encrypted (partners/crypto.py): use `access_token` / `set_access_token`,
never the ciphertext column, and never render or log either.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from appgroups.models import AppGroup
from partners import crypto


def fit_to_column(model: type[models.Model], field_name: str, value: str) -> str:
    """`value` cut to the column's max_length: text from TikTok may be any length, and
    PostgreSQL refuses a longer value where SQLite would keep it."""
    max_length = model._meta.get_field(field_name).max_length
    return value[:max_length] if max_length else value


class ConnectionStatus(models.TextChoices):
    CONNECTED = "connected", _("Connected")
    INVALID = "invalid", _("Invalid token")
    DISCONNECTED = "disconnected", _("Disconnected")


class TikTokConnection(models.Model):
    """An app group's authorization of TikTok (one per app group, kept after disconnecting so
    ad accounts and Canvas steps keep their history)."""

    app_group = models.OneToOneField(
        AppGroup, on_delete=models.CASCADE, related_name="tiktok_connection"
    )
    status = models.CharField(
        max_length=16, choices=ConnectionStatus.choices, default=ConnectionStatus.CONNECTED
    )
    access_token_ciphertext = models.TextField(blank=True, editable=False)
    # TikTok's numeric permission scopes granted (1 = ad accounts, 3 = audiences).
    scope = models.JSONField(default=list, blank=True)
    tiktok_user_name = models.CharField(max_length=200, blank=True)
    tiktok_user_id = models.CharField(max_length=64, blank=True)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    connected_at = models.DateTimeField(null=True, blank=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    # The TikTok error that made the token invalid, as TikTok said it.
    invalid_code = models.IntegerField(null=True, blank=True)
    invalid_message = models.TextField(blank=True)
    invalid_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("TikTok connection")

    def __str__(self) -> str:
        return f"TikTok for {self.app_group} ({self.get_status_display()})"

    @property
    def access_token(self) -> str:
        return crypto.decrypt(self.access_token_ciphertext) if self.access_token_ciphertext else ""

    def set_access_token(self, token: str) -> None:
        self.access_token_ciphertext = crypto.encrypt(token) if token else ""

    @property
    def is_usable(self) -> bool:
        return self.status == ConnectionStatus.CONNECTED and bool(self.access_token_ciphertext)


class AdAccountStatus(models.TextChoices):
    CONNECTED = "connected", _("Connected")
    NO_ACCESS = "no_access", _("No access")
    DISCONNECTED = "disconnected", _("Disconnected")


# Stored in TikTokAdAccount.invalid_message (where TikTok's own messages go) by the token check
# when TikTok stops listing an ad account; translated when shown (`invalid_message_display`).
NO_LONGER_LISTED = gettext_noop("TikTok no longer lists this ad account for the token.")


class TikTokAdAccount(models.Model):
    """A TikTok advertiser chosen on the partner page. Rows outlive disconnects: Canvas steps
    point at them, and reconnecting the same advertiser (even as another TikTok user) brings
    the steps back to life."""

    app_group = models.ForeignKey(
        AppGroup, on_delete=models.CASCADE, related_name="tiktok_ad_accounts"
    )
    connection = models.ForeignKey(
        TikTokConnection, on_delete=models.CASCADE, related_name="ad_accounts"
    )
    # TikTok ids are strings: some exceed 2**53.
    advertiser_id = models.CharField(max_length=32)
    name = models.CharField(max_length=255, blank=True)
    currency = models.CharField(max_length=8, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=AdAccountStatus.choices, default=AdAccountStatus.CONNECTED
    )
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    connected_at = models.DateTimeField(default=dj_timezone.now)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    invalid_code = models.IntegerField(null=True, blank=True)
    invalid_message = models.TextField(blank=True)

    class Meta:
        verbose_name = _("TikTok ad account")
        constraints = [
            models.UniqueConstraint(
                fields=["app_group", "advertiser_id"], name="tiktok_ad_account_unique"
            ),
        ]
        ordering = ["name", "advertiser_id"]

    def __str__(self) -> str:
        return f"{self.name or gettext('Ad account')} ({self.advertiser_id})"

    @property
    def invalid_message_display(self) -> str:
        """Why the ad account lost access: TikTok's message as TikTok sent it, or ours
        (NO_LONGER_LISTED) in the reader's language."""
        if self.invalid_message == NO_LONGER_LISTED:
            return gettext(NO_LONGER_LISTED)
        return self.invalid_message


class TikTokOAuthAttempt(models.Model):
    """One trip through TikTok's consent page, from Connect to the saved ad-account choice.

    The `state` is single-use, bound to the user and app group that started it, and expires
    (TIKTOK_OAUTH_STATE_TTL_SECONDS). After the callback the attempt holds the new token
    (encrypted) and the advertisers TikTok authorized, until the admin saves the picker.
    """

    state = models.CharField(max_length=64, unique=True)
    app_group = models.ForeignKey(AppGroup, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    state_used_at = models.DateTimeField(null=True, blank=True)
    access_token_ciphertext = models.TextField(blank=True, editable=False)
    scope = models.JSONField(default=list, blank=True)
    tiktok_user_name = models.CharField(max_length=200, blank=True)
    tiktok_user_id = models.CharField(max_length=64, blank=True)
    # [{"advertiser_id", "name", "currency", "timezone"}] as TikTok listed them.
    advertisers = models.JSONField(default=list, blank=True)

    # After the callback, the admin has this long to save the ad-account picker.
    PICKER_TTL = timedelta(minutes=30)

    class Meta:
        verbose_name = _("TikTok OAuth attempt")

    def __str__(self) -> str:
        return f"TikTok OAuth by {self.user} for {self.app_group}"

    @property
    def access_token(self) -> str:
        return crypto.decrypt(self.access_token_ciphertext) if self.access_token_ciphertext else ""

    def set_access_token(self, token: str) -> None:
        self.access_token_ciphertext = crypto.encrypt(token) if token else ""


class AudienceStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    CREATING = "creating", _("Being created on TikTok")
    CREATED = "created", _("On TikTok")
    FAILED = "failed", _("Creation failed")


class TikTokAudience(models.Model):
    """A TikTok custom audience an Audience Sync step writes to.

    Either an existing TikTok audience picked in the step editor (created on TikTok, with its
    `tiktok_audience_id`), or a *draft*: saved by "Create Audience" in the editor and created
    on TikTok exactly once, when its Canvas launches (docs/ARCHITECTURE.md D8). Which Canvas a draft
    belongs to is known from the step that creates it (canvas.AudienceSyncSettings).
    """

    app_group = models.ForeignKey(AppGroup, on_delete=models.CASCADE, related_name="+")
    ad_account = models.ForeignKey(
        TikTokAdAccount, on_delete=models.CASCADE, related_name="audiences"
    )
    name = models.CharField(max_length=128)
    # Empty until the audience exists on TikTok.
    tiktok_audience_id = models.CharField(max_length=32, blank=True)
    status = models.CharField(
        max_length=16, choices=AudienceStatus.choices, default=AudienceStatus.DRAFT
    )
    # While CREATING: when the claim was taken (a claim older than a few minutes is presumed
    # dead and TikTok is searched for the audience before creating again).
    creating_since = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=dj_timezone.now)
    created_on_tiktok_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("TikTok audience")
        constraints = [
            models.UniqueConstraint(
                fields=["ad_account", "tiktok_audience_id"],
                condition=~models.Q(tiktok_audience_id=""),
                name="tiktok_audience_unique_per_ad_account",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.tiktok_audience_id or self.get_status_display()})"


class RateLimiterState(models.Model):
    """The database fallback of the shared TikTok rate limiter (partners/tiktok/ratelimit.py;
    Redis when configured): the send times of the last second, per limiter key. First defined
    in the journeys app: the table keeps that name."""

    key = models.CharField(max_length=100, primary_key=True)
    recent = models.JSONField(default=list)

    class Meta:
        db_table = "journeys_ratelimiterstate"

    def __str__(self) -> str:
        return self.key
