"""REST API keys: created by Admins, shown once, stored as a SHA-256, revocable."""

from __future__ import annotations

import secrets
import uuid

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from appgroups.models import ApiPermission, Membership, Permission, RestApiKey
from appgroups.services import membership_require

NAME_MAX_LENGTH = RestApiKey._meta.get_field("name").max_length


def _new_key() -> str:
    # 128 random bits, shaped like Braze's keys (a UUID) so clients that check the shape accept it.
    return str(uuid.UUID(bytes=secrets.token_bytes(16)))


def api_key_create(
    *, actor: Membership, name: str, permissions: list[str]
) -> tuple[RestApiKey, str]:
    """Create a key in the actor's app group; returns it with the secret, which is not stored."""
    membership_require(actor, Permission.MANAGE_API_KEYS)
    name = " ".join((name or "").split())
    errors = {}
    if not name:
        errors["name"] = _("A key needs a name.")
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = _("Key names have at most %(count)d characters.") % {
            "count": NAME_MAX_LENGTH
        }
    chosen = sorted(set(permissions or ()))
    if not chosen:
        errors["permissions"] = _("Choose at least one permission.")
    elif any(p not in ApiPermission.values for p in chosen):
        errors["permissions"] = _("Unknown permission.")
    if errors:
        raise ValidationError(errors)
    secret = _new_key()
    api_key = RestApiKey.objects.create(
        app_group=actor.app_group,
        name=name,
        prefix=secret[:8],
        key_sha256=RestApiKey.hash_key(secret),
        permissions=chosen,
        created_by=actor.user,
    )
    return api_key, secret


def api_key_revoke(*, actor: Membership, api_key_id: int) -> RestApiKey:
    """Revoke a key of the actor's app group (another group's key raises DoesNotExist)."""
    membership_require(actor, Permission.MANAGE_API_KEYS)
    api_key = RestApiKey.objects.get(app_group=actor.app_group, id=api_key_id)
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.revoked_by = actor.user
        api_key.save(update_fields=["revoked_at", "revoked_by"])
    return api_key
