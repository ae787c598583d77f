"""Reads of user profiles, always scoped to one app group."""

from __future__ import annotations

from django.db.models import Q

from appgroups.models import AppGroup
from users import identifiers
from users.models import Device, Profile, ProfileActivity

PAGE_SIZE = 50

# Braze's `fields_to_export` names. Those we have no data for are accepted and return nothing.
EXPORT_FIELDS = frozenset(
    {
        "apps",
        "attributed_campaign",
        "attributed_source",
        "attributed_adgroup",
        "attributed_ad",
        "braze_id",
        "campaigns_received",
        "canvases_received",
        "cards_clicked",
        "country",
        "created_at",
        "custom_attributes",
        "custom_events",
        "devices",
        "dob",
        "email",
        "email_subscribe",
        "external_id",
        "first_name",
        "gender",
        "home_city",
        "language",
        "last_coordinates",
        "last_name",
        "phone",
        "purchases",
        "push_subscribe",
        "push_tokens",
        "random_bucket",
        "time_zone",
        "total_revenue",
        "uninstalled_at",
        "user_aliases",
    }
)
_PLAIN_EXPORT_FIELDS = (
    "external_id",
    "braze_id",
    "first_name",
    "last_name",
    "email",
    "home_city",
    "country",
    "phone",
    "language",
    "time_zone",
    "gender",
    "push_subscribe",
    "email_subscribe",
)


def profile_page(*, app_group: AppGroup, before_id: int | None = None) -> list[Profile]:
    """Newest profiles first, PAGE_SIZE at a time (keyset pagination: no OFFSET, no COUNT)."""
    queryset = Profile.objects.filter(app_group=app_group)
    if before_id is not None:
        queryset = queryset.filter(id__lt=before_id)
    return list(queryset.order_by("-id")[:PAGE_SIZE])


def profile_search(*, app_group: AppGroup, query: str) -> list[Profile]:
    """Exact match on external id, Braze id, email or phone (normalized the way they are stored,
    so " Ana@Example.com" and "(650) 253-0000" find what was written). Index lookups only."""
    query = query.strip()
    if not query:
        return []
    conditions = Q(external_id=query) | Q(braze_id=query)
    email = identifiers.normalize_email(query)
    if email.is_valid:
        conditions |= Q(email_sha256=email.sha256)
    phone = identifiers.normalize_phone(query, default_country=app_group.default_country)
    if phone.is_valid:
        conditions |= Q(phone_sha256=phone.sha256)
    return list(Profile.objects.filter(conditions, app_group=app_group).order_by("-id")[:PAGE_SIZE])


def profile_get(*, app_group: AppGroup, profile_id: int) -> Profile:
    """Raises Profile.DoesNotExist for another group's profile, like for a missing one."""
    return Profile.objects.get(app_group=app_group, id=profile_id)


def profile_devices(*, profile: Profile) -> list[Device]:
    return list(profile.devices.order_by("-updated_at", "-id"))


def profile_activities(*, profile: Profile) -> list[ProfileActivity]:
    return list(profile.activities.order_by("kind", "-last_at"))


def profiles_export(
    *,
    app_group: AppGroup,
    external_ids: list[str] = (),
    aliases: list[tuple[str, str]] = (),
    braze_id: str | None = None,
    device_id: str | None = None,
    email_address: str | None = None,
    phone: str | None = None,
    fields: frozenset[str] | None = None,
) -> tuple[list[dict], list[str]]:
    """Profiles for /users/export/ids in Braze's export shape, and the identifiers that matched
    nobody (`invalid_user_ids`)."""
    conditions = Q()
    if external_ids:
        conditions |= Q(external_id__in=external_ids)
    for name, label in aliases:
        conditions |= Q(alias_name=name, alias_label=label)
    if braze_id:
        conditions |= Q(braze_id=braze_id)
    if device_id:
        conditions |= Q(devices__device_id=device_id)
    email_sha = phone_sha = None
    if email_address:
        email_sha = identifiers.normalize_email(email_address).sha256
        if email_sha:
            conditions |= Q(email_sha256=email_sha)
    if phone:
        phone_sha = identifiers.normalize_phone(
            phone, default_country=app_group.default_country
        ).sha256
        if phone_sha:
            conditions |= Q(phone_sha256=phone_sha)
    profiles = (
        list(Profile.objects.filter(conditions, app_group=app_group).distinct().order_by("id"))
        if conditions
        else []
    )

    invalid: list[str] = []
    found_external = {p.external_id for p in profiles}
    invalid.extend(e for e in dict.fromkeys(external_ids) if e not in found_external)
    found_aliases = {(p.alias_name, p.alias_label) for p in profiles}
    invalid.extend(n for n, label in dict.fromkeys(aliases) if (n, label) not in found_aliases)
    if braze_id and braze_id not in {p.braze_id for p in profiles}:
        invalid.append(braze_id)
    if email_address and not any(email_sha and p.email_sha256 == email_sha for p in profiles):
        invalid.append(email_address)
    if phone and not any(phone_sha and p.phone_sha256 == phone_sha for p in profiles):
        invalid.append(phone)

    ids = [p.id for p in profiles]
    devices: dict[int, list[Device]] = {}
    if device_id or fields is None or "devices" in fields:
        for device in Device.objects.filter(profile_id__in=ids).order_by("id"):
            devices.setdefault(device.profile_id, []).append(device)
        if device_id and not any(
            d.device_id == device_id for found in devices.values() for d in found
        ):
            invalid.append(device_id)
    activities: dict[int, list[ProfileActivity]] = {}
    if fields is None or fields & {"custom_events", "purchases"}:
        for activity in ProfileActivity.objects.filter(profile_id__in=ids).order_by("name"):
            activities.setdefault(activity.profile_id, []).append(activity)
    users = [
        _export_user(p, devices.get(p.id, []), activities.get(p.id, []), fields) for p in profiles
    ]
    return users, invalid


def _iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _export_user(
    profile: Profile,
    devices: list[Device],
    activities: list[ProfileActivity],
    fields: frozenset[str] | None,
) -> dict:
    """Braze's user export object: a field that is empty is left out."""
    user: dict = {}
    for name in _PLAIN_EXPORT_FIELDS:
        value = getattr(profile, name)
        if value not in ("", None):
            user[name] = value
    if profile.alias_name is not None:
        user["user_aliases"] = [
            {"alias_name": profile.alias_name, "alias_label": profile.alias_label}
        ]
    if profile.dob:
        user["dob"] = profile.dob.isoformat()
    if profile.custom_attributes:
        user["custom_attributes"] = profile.custom_attributes
    user["created_at"] = _iso(profile.created_at)
    for kind, key in (
        (ProfileActivity.Kind.EVENT, "custom_events"),
        (ProfileActivity.Kind.PURCHASE, "purchases"),
    ):
        rows = [a for a in activities if a.kind == kind]
        if rows:
            user[key] = [
                {
                    "name": a.name,
                    "first": _iso(a.first_at),
                    "last": _iso(a.last_at),
                    "count": a.count,
                }
                for a in rows
            ]
    if devices:
        user["devices"] = [_export_device(d) for d in devices]
    if fields is not None:
        user = {name: value for name, value in user.items() if name in fields}
    return user


def _export_device(device: Device) -> dict:
    exported: dict = {"device_id": device.device_id}
    for name in ("model", "os", "idfa", "google_ad_id"):
        value = getattr(device, name)
        if value:
            exported[name] = value
    if device.ad_tracking_enabled is not None:
        exported["ad_tracking_enabled"] = device.ad_tracking_enabled
    return exported
