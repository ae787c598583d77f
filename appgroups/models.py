"""Tenancy: app groups (Braze "workspaces"), dashboard users, their memberships and roles, and
REST API keys."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DashboardUserManager(UserManager):
    """Users sign in with their email; Django's manager expects a username, so map it."""

    def _create_user(self, email, password, **extra_fields):
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person who signs in to the dashboard (not a profile synced to TikTok)."""

    username = None
    email = models.EmailField(_("email address"), unique=True)
    # The dashboard's language for this person (the user menu's Language select); empty: the
    # browser's Accept-Language decides, as before sign-in (core/i18n.py).
    language = models.CharField(
        _("language"), max_length=10, blank=True, default="", choices=settings.LANGUAGES
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = DashboardUserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email


class AppGroup(models.Model):
    """A Braze app group ("workspace"): owns partner connections, Canvases, users and API keys."""

    name = models.CharField(max_length=100, unique=True)
    # Phone numbers typed without a country code are read in this country (docs/ARCHITECTURE.md D5).
    default_country = models.CharField(
        max_length=2,
        default="US",
        help_text="ISO 3166-1 alpha-2 code used for phone numbers without a country code.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    MARKETER = "marketer", _("Marketer")
    VIEWER = "viewer", _("Viewer")


class Permission(models.TextChoices):
    """What a role allows. Services check these, templates only mirror them."""

    VIEW = "view", _("View the app group")
    MANAGE_CANVASES = "manage_canvases", _("Build, launch and stop Canvases")
    MANAGE_USERS = "manage_users", _("Import and edit user profiles")
    MANAGE_PARTNERS = "manage_partners", _("Connect and disconnect technology partners")
    MANAGE_API_KEYS = "manage_api_keys", _("Create and revoke REST API keys")
    MANAGE_SETTINGS = "manage_settings", _("Change app group settings")


ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.VIEWER: frozenset({Permission.VIEW}),
    Role.MARKETER: frozenset(
        {Permission.VIEW, Permission.MANAGE_CANVASES, Permission.MANAGE_USERS}
    ),
    Role.ADMIN: frozenset(Permission.values),
}


class Membership(models.Model):
    """A dashboard user's role in one app group."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    app_group = models.ForeignKey(AppGroup, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "app_group"], name="membership_unique"),
        ]
        ordering = ["app_group__name"]

    def __str__(self) -> str:
        return f"{self.user} in {self.app_group} ({self.get_role_display()})"

    def has_permission(self, permission: str) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


# --- REST API keys -----------------------------------------------------------------------------


class ApiPermission(models.TextChoices):
    """Endpoint permissions of a REST API key (Braze names)."""

    USERS_TRACK = "users.track", "users.track"
    USERS_DELETE = "users.delete", "users.delete"
    USERS_EXPORT_IDS = "users.export.ids", "users.export.ids"
    CANVAS_TRIGGER_SEND = "canvas.trigger.send", "canvas.trigger.send"


class RestApiKey(models.Model):
    """A REST API key of an app group. Only the SHA-256 of the key is stored; the key itself is
    shown once, at creation. Permissions cannot change after creation (as in Braze)."""

    app_group = models.ForeignKey(AppGroup, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    # The first characters of the key, so people can tell keys apart without the secret.
    prefix = models.CharField(max_length=8)
    key_sha256 = models.CharField(max_length=64, unique=True)
    permissions = models.JSONField(default=list)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_permission(self, permission: str) -> bool:
        return permission in self.permissions

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
