"""Writes for app groups, dashboard users and memberships. Callers pass the acting membership,
and every service checks its permission itself: templates only mirror these checks.

A change of the default country is announced with appgroups.signals.default_country_changed.
"""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from appgroups.models import AppGroup, Membership, Permission, Role, User
from appgroups.signals import default_country_changed

APP_GROUP_NAME_MAX_LENGTH = AppGroup._meta.get_field("name").max_length


def membership_require(membership: Membership | None, permission: str) -> None:
    """Raise PermissionDenied unless the membership's role grants `permission`."""
    if membership is None or not membership.has_permission(permission):
        raise PermissionDenied(
            _("Your role does not allow this: %(permission)s.")
            % {"permission": str(Permission(permission).label).lower()}
        )


def _clean_app_group_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": _("An app group needs a name.")})
    if len(name) > APP_GROUP_NAME_MAX_LENGTH:
        raise ValidationError(
            {
                "name": _("App group names have at most %(count)d characters.")
                % {"count": APP_GROUP_NAME_MAX_LENGTH}
            }
        )
    return name


def app_group_create(*, name: str) -> tuple[AppGroup, bool]:
    """Create the app group `name`, or return the existing one (ops bootstrap is idempotent)."""
    name = _clean_app_group_name(name)
    return AppGroup.objects.get_or_create(name=name)


def dashboard_user_add(
    *, email: str, app_group: AppGroup, role: str, password: str | None = None
) -> tuple[User, bool]:
    """Give `email` the `role` in `app_group`, creating the dashboard user if needed.

    Running it again with the same arguments leaves the same state. A password, when given, is
    checked against the password validators and set; a new user needs one.
    """
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError(
            {"email": _("'%(email)s' is not a valid email address.") % {"email": email}}
        ) from exc
    if role not in Role.values:
        raise ValidationError(
            {"role": _("Role must be one of: %(roles)s.") % {"roles": ", ".join(Role.values)}}
        )

    user = User.objects.filter(email__iexact=email).first()
    created = user is None
    if created and not password:
        raise ValidationError({"password": _("A new dashboard user needs a password.")})
    if password:
        from django.contrib.auth.password_validation import validate_password

        try:
            validate_password(password, user=user or User(email=email))
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc

    with transaction.atomic():
        if created:
            user = User.objects.create_user(email=email, password=password)
        elif password:
            user.set_password(password)
            user.save(update_fields=["password"])
        Membership.objects.update_or_create(user=user, app_group=app_group, defaults={"role": role})
    return user, created


def app_group_settings_update(*, actor: Membership, name: str, default_country: str) -> AppGroup:
    """Rename the actor's app group and set its default phone country (Admins only).

    A new default country is announced with `default_country_changed` in the same transaction,
    which holds the app group's row: the phone numbers already stored are re-read in the new
    country (users.phone_renormalize), and a later change supersedes an earlier one in order.
    """
    membership_require(actor, Permission.MANAGE_SETTINGS)
    name = _clean_app_group_name(name)
    default_country = (default_country or "").upper()
    if default_country not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError({"default_country": _("Choose a country that has phone numbers.")})
    with transaction.atomic():
        # Locked: two admins changing the country at once queue their re-readings in order.
        app_group = AppGroup.objects.select_for_update().get(pk=actor.app_group_id)
        if AppGroup.objects.filter(name=name).exclude(pk=app_group.pk).exists():
            raise ValidationError({"name": _("Another app group already has this name.")})
        previous_country = app_group.default_country
        app_group.name = name
        app_group.default_country = default_country
        app_group.full_clean()
        app_group.save(update_fields=["name", "default_country"])
        if default_country != previous_country:
            default_country_changed.send(
                sender=AppGroup,
                app_group=app_group,
                previous_country=previous_country,
                actor=actor,
            )
    # The caller's copy (e.g. request.app_group) shows the new values too.
    actor.app_group.name = app_group.name
    actor.app_group.default_country = app_group.default_country
    return app_group
