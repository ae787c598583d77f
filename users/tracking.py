"""Reading Braze `/users/track` bodies into profile writes (no database here).

`parse_track_body` turns the JSON body into a TrackBatch: one ProfileWrite per valid attributes
object, one ActivityWrite per valid event or purchase, and Braze-style errors
(`{"type", "input_array", "index"}`) for the objects it skips. `services.profiles.profiles_track`
then applies the batch in one transaction. The REST API (api/track.py) checks a body's structure
with its models first, then builds the writes object by object with `parse_attributes_object`
and `parse_activity_object`.

Rules (docs/ARCHITECTURE.md B6, after Braze's user attributes object):
- an object is identified by one of `external_id`, `user_alias`, `braze_id`; without them by
  `email`, then `phone` (email wins when both are given), which must then be valid;
- `_update_existing_only` defaults to false, except for `user_alias` (true) and `braze_id`
  (a Braze id can never create a profile);
- `null` removes a field; custom attributes take `{"inc": n}` and `{"add"/"remove": [...]}`;
- extension (not Braze): `"devices": [{"device_id", "idfa", "google_ad_id",
  "ad_tracking_enabled", "os", "model"}]` upserts devices by `device_id`; `"devices": null`
  removes all of the profile's devices. Braze fills devices from its SDKs (docs/ARCHITECTURE.md D13).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import orjson

from users import identifiers
from users.profile_fields import (
    AD_ID_RAW_MAX_LENGTH,
    EMAIL_RAW_MAX_LENGTH,
    EXTERNAL_ID_MAX_LENGTH,
    INT_MAX,
    INT_MIN,
    PHONE_RAW_MAX_LENGTH,
    STANDARD_FIELDS,
    TEXT_MAX_LENGTH,
    FieldError,
    clean_array,
    clean_attribute_name,
    clean_identifier,
    clean_scalar,
    clean_text,
)

# Braze: "Each request can contain up to 75 events, 75 attribute updates, and 75 purchases."
MAX_OBJECTS_PER_ARRAY = 75
ARRAYS = ("attributes", "events", "purchases")
# Extension limit: devices per attributes object.
MAX_DEVICES_PER_OBJECT = 10
# Braze caps event and purchase properties at 50 KB.
PROPERTIES_MAX_BYTES = 50 * 1024
# Braze: purchase quantity between 1 and 100.
PURCHASE_MAX_QUANTITY = 100

PRIMARY_IDENTIFIERS = ("external_id", "user_alias", "braze_id")
FLAGS = frozenset({"_update_existing_only", "push_token_import"})
# Braze profile fields that only make sense with Braze's SDKs or channels: accepted, not stored,
# so that Braze clients keep working unchanged.
IGNORED_FIELDS = frozenset(
    {
        "push_tokens",
        "subscription_groups",
        "current_location",
        "date_of_first_session",
        "date_of_last_session",
        "facebook",
        "twitter",
        "image_url",
        "marked_email_as_spam_at",
        "email_open_tracking_disabled",
        "email_click_tracking_disabled",
        "app_id",
    }
)
DEVICES_KEY = "devices"
_SKIPPED = frozenset(PRIMARY_IDENTIFIERS) | FLAGS | IGNORED_FIELDS
# Email and phone are validated here but normalized when applied: an update that repeats the
# stored value (the usual case) then costs no normalization at all.
CONTACT_FIELDS = {"email": EMAIL_RAW_MAX_LENGTH, "phone": PHONE_RAW_MAX_LENGTH}
_OTHER_STANDARD_FIELDS = {k: v for k, v in STANDARD_FIELDS.items() if k not in CONTACT_FIELDS}
DEVICE_FIELDS = frozenset(
    {"device_id", "os", "model", "idfa", "google_ad_id", "ad_tracking_enabled"}
)

# An identifier: ("external_id", str) | ("alias", (name, label)) | ("braze_id", str)
# | ("email", sha256) | ("phone", sha256).
Ident = tuple[str, Any]


class TrackFatal(Exception):
    """The whole request is refused and nothing is written (HTTP 400)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(slots=True)
class DeviceWrite:
    device_id: str
    # Device columns to set; "idfa"/"gaid"/"ad_tracking" in `reported` mark values carried.
    columns: dict[str, Any]
    reported: frozenset[str]


@dataclass(slots=True)
class ProfileWrite:
    array: str
    index: int
    ident: Ident
    create: bool
    # Columns set on a profile this write creates (its identifier), before `columns`.
    identity: dict[str, Any]
    columns: dict[str, Any]
    # (name, op, value): op is "set", "unset", "inc" or "addremove" (value = (add, remove)).
    custom: list[tuple[str, str, Any]]
    # "email"/"phone" -> raw value (trimmed; "" removes it), normalized when applied.
    contact: dict[str, str] = field(default_factory=dict)
    devices: list[DeviceWrite] = field(default_factory=list)
    clear_devices: bool = False


@dataclass(slots=True)
class ActivityWrite:
    array: str
    index: int
    ident: Ident
    create: bool
    identity: dict[str, Any]
    kind: str  # ProfileActivity.Kind value
    name: str
    at: dt.datetime
    count: int


@dataclass(slots=True)
class TrackBatch:
    profile_writes: list[ProfileWrite]
    activity_writes: list[ActivityWrite]
    errors: list[dict]
    # Number of objects per array present in the request (absent arrays are not reported).
    sizes: dict[str, int]


def object_error(message: str, array: str, index: int) -> dict:
    return {"type": message, "input_array": array, "index": index}


def parse_track_body(body: Any, *, default_country: str, now: dt.datetime) -> TrackBatch:
    """Validate a `/users/track` body. Raises TrackFatal for request-level problems."""
    if not isinstance(body, dict):
        raise TrackFatal("Request body must be a JSON object")
    arrays: dict[str, list] = {}
    for name in ARRAYS:
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, list):
            raise TrackFatal(f"'{name}' must be an array")
        if len(value) > MAX_OBJECTS_PER_ARRAY:
            raise TrackFatal(
                f"Max Input Length Exceeded: at most {MAX_OBJECTS_PER_ARRAY} {name} per request"
            )
        arrays[name] = value
    if not any(arrays.values()):
        raise TrackFatal("Received no attributes, events, or purchases")

    batch = TrackBatch([], [], [], {name: len(items) for name, items in arrays.items()})
    for index, obj in enumerate(arrays.get("attributes", ())):
        try:
            batch.profile_writes.append(
                parse_attributes_object(
                    obj, array="attributes", index=index, default_country=default_country
                )
            )
        except FieldError as exc:
            batch.errors.append(object_error(str(exc), "attributes", index))
    for array, kind in (("events", "event"), ("purchases", "purchase")):
        for index, obj in enumerate(arrays.get(array, ())):
            try:
                batch.activity_writes.append(
                    parse_activity_object(
                        obj,
                        array=array,
                        index=index,
                        kind=kind,
                        default_country=default_country,
                        now=now,
                    )
                )
            except FieldError as exc:
                batch.errors.append(object_error(str(exc), array, index))
    return batch


def parse_identifier(obj: dict, *, default_country: str) -> tuple[Ident, bool, dict]:
    """The object's identifier, whether it may create a profile, and the identity columns of a
    profile it creates."""
    given = [key for key in PRIMARY_IDENTIFIERS if key in obj]
    if len(given) > 1:
        raise FieldError("only one of external_id, user_alias or braze_id may be given")
    update_only = obj.get("_update_existing_only")
    if update_only is not None and not isinstance(update_only, bool):
        raise FieldError("'_update_existing_only' must be a boolean")

    if given == ["external_id"]:
        value = clean_identifier(
            obj["external_id"], field="external_id", max_length=EXTERNAL_ID_MAX_LENGTH
        )
        return ("external_id", value), update_only is not True, {"external_id": value}
    if given == ["user_alias"]:
        alias = obj["user_alias"]
        if not isinstance(alias, dict):
            raise FieldError("'user_alias' must be an object with alias_name and alias_label")
        name = clean_identifier(alias.get("alias_name"), field="user_alias.alias_name")
        label = clean_identifier(alias.get("alias_label"), field="user_alias.alias_label")
        # Braze: with a user_alias, "Update Only" mode is the default.
        return (
            ("alias", (name, label)),
            update_only is False,
            {"alias_name": name, "alias_label": label},
        )
    if given == ["braze_id"]:
        value = clean_identifier(obj["braze_id"], field="braze_id", max_length=64)
        return ("braze_id", value), False, {}

    if obj.get("email") is not None:
        raw = clean_text(obj["email"], field="email")
        normalized = identifiers.normalize_email(raw)
        if not normalized.is_valid:
            raise FieldError("'email' is not a valid email address")
        identity = {
            "email": raw.strip(),
            "email_sha256": normalized.sha256,
            "email_invalid_reason": "",
        }
        return ("email", normalized.sha256), update_only is not True, identity
    if obj.get("phone") is not None:
        raw = clean_text(obj["phone"], field="phone")
        normalized = identifiers.normalize_phone(raw, default_country=default_country)
        if not normalized.is_valid:
            # Braze: "This endpoint only works if you include a valid phone number."
            raise FieldError("'phone' is not a valid phone number")
        identity = {
            "phone": raw.strip(),
            "phone_e164": normalized.value,
            "phone_sha256": normalized.sha256,
            "phone_invalid_reason": "",
        }
        return ("phone", normalized.sha256), update_only is not True, identity
    raise FieldError("missing identifier: one of external_id, user_alias, braze_id, email or phone")


def parse_attributes_object(
    obj: Any, *, array: str, index: int, default_country: str
) -> ProfileWrite:
    """One Braze user attributes object. Raises FieldError when it must be skipped."""
    if not isinstance(obj, dict):
        raise FieldError("each attributes item must be an object")
    ident, create, identity = parse_identifier(obj, default_country=default_country)
    columns: dict[str, Any] = {}
    custom: list[tuple[str, str, Any]] = []
    write = ProfileWrite(array, index, ident, create, identity, columns, custom)
    for key, value in obj.items():
        if key in _SKIPPED:
            continue
        if key in CONTACT_FIELDS:
            write.contact[key] = (
                ""
                if value is None
                else clean_text(value, field=key, max_length=CONTACT_FIELDS[key]).strip()
            )
            continue
        setter = _OTHER_STANDARD_FIELDS.get(key)
        if setter is not None:
            columns.update(setter(value, default_country))
            continue
        if key == DEVICES_KEY:
            if value is None:
                write.clear_devices = True
                write.devices = []
            else:
                write.devices = _parse_devices(value)
            continue
        kind = type(value)
        if (
            (kind is str and len(value) <= TEXT_MAX_LENGTH and "\x00" not in value)
            or kind is bool
            or (kind is int and INT_MIN <= value <= INT_MAX)
        ):
            # The common case (a plain value) without the general parser's calls.
            if not 0 < len(key) <= TEXT_MAX_LENGTH or "\x00" in key or key.isspace():
                clean_attribute_name(key)
            custom.append((key, "set", value))
        else:
            custom.append(_parse_custom(key, value))
    return write


def _parse_custom(name: str, value: Any) -> tuple[str, str, Any]:
    clean_attribute_name(name)
    if value is None:
        return (name, "unset", None)
    if isinstance(value, list):
        # Braze truncates arrays longer than the cap (clean_array does).
        return (name, "set", clean_array(value, field=name))
    if isinstance(value, dict):
        keys = set(value)
        if keys == {"inc"}:
            amount = value["inc"]
            if isinstance(amount, bool) or not isinstance(amount, int):
                raise FieldError(f"'{name}': inc takes an integer")
            if not INT_MIN <= amount <= INT_MAX:
                raise FieldError(f"'{name}': inc is out of the 64-bit integer range")
            return (name, "inc", amount)
        if keys and keys <= {"add", "remove"}:
            # Adding keeps the newest items: the last ones of a long list.
            add = clean_array(value.get("add", []), field=f"{name}.add", newest=True)
            remove = clean_array(value.get("remove", []), field=f"{name}.remove")
            return (name, "addremove", (add, remove))
        raise FieldError(
            f'\'{name}\': objects are only accepted as {{"inc": n}} or {{"add"/"remove": [...]}}'
        )
    return (name, "set", clean_scalar(value, field=name))


def _parse_devices(value: Any) -> list[DeviceWrite]:
    if not isinstance(value, list):
        raise FieldError("'devices' must be an array of device objects or null")
    if len(value) > MAX_DEVICES_PER_OBJECT:
        raise FieldError(f"'devices' holds at most {MAX_DEVICES_PER_OBJECT} devices")
    devices: dict[str, DeviceWrite] = {}
    for item in value:
        if not isinstance(item, dict):
            raise FieldError("each device must be an object")
        unknown = set(item) - DEVICE_FIELDS
        if unknown:
            raise FieldError(f"unknown device field '{sorted(unknown)[0][:50]}'")
        device_id = clean_identifier(item.get("device_id"), field="devices.device_id")
        columns: dict[str, Any] = {}
        reported: set[str] = set()
        for key, column, max_length in (("os", "os", 64), ("model", "model", 128)):
            if key in item:
                raw = item[key]
                columns[column] = (
                    ""
                    if raw is None
                    else clean_text(raw, field=f"devices.{key}", max_length=max_length).strip()
                )
        if "idfa" in item:
            columns.update(_ad_id_columns(item["idfa"], "idfa", "idfa"))
            reported.add("idfa")
        if "google_ad_id" in item:
            columns.update(_ad_id_columns(item["google_ad_id"], "google_ad_id", "gaid"))
            reported.add("gaid")
        if "ad_tracking_enabled" in item:
            enabled = item["ad_tracking_enabled"]
            if enabled is not None and not isinstance(enabled, bool):
                raise FieldError("'devices.ad_tracking_enabled' must be a boolean or null")
            columns["ad_tracking_enabled"] = enabled
            reported.add("ad_tracking")
        previous = devices.get(device_id)
        if previous is not None:
            # The same device twice in one object: later keys win, as in a sequence of writes.
            columns = previous.columns | columns
            reported |= previous.reported
        devices[device_id] = DeviceWrite(device_id, columns, frozenset(reported))
    return list(devices.values())


def _ad_id_columns(raw: Any, field: str, prefix: str) -> dict:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {field: "", f"{prefix}_sha256": None, f"{prefix}_invalid_reason": ""}
    raw = clean_text(raw, field=f"devices.{field}", max_length=AD_ID_RAW_MAX_LENGTH).strip()
    normalized = identifiers.normalize_ad_id(raw)
    return {
        field: raw,
        f"{prefix}_sha256": normalized.sha256,
        f"{prefix}_invalid_reason": normalized.invalid_reason,
    }


def parse_time(value: Any, *, field: str, now: dt.datetime) -> dt.datetime:
    """ISO 8601; no offset means UTC; Braze moves times in the future to now."""
    text = clean_text(value, field=field, max_length=64).strip()
    try:
        moment = dt.datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        moment = moment.astimezone(dt.UTC)
    except (ValueError, OverflowError) as exc:
        raise FieldError(f"'{field}' must be an ISO 8601 time") from exc
    return min(moment, now)


def parse_activity_object(
    obj: Any, *, array: str, index: int, kind: str, default_country: str, now: dt.datetime
) -> ActivityWrite:
    if not isinstance(obj, dict):
        raise FieldError(f"each {array} item must be an object")
    ident, create, identity = parse_identifier(obj, default_country=default_country)
    if "app_id" in obj and obj["app_id"] is not None:
        clean_text(obj["app_id"], field="app_id")
    if "time" not in obj:
        raise FieldError("'time' is required")
    at = parse_time(obj["time"], field="time", now=now)
    properties = obj.get("properties")
    if properties is not None:
        if not isinstance(properties, dict):
            raise FieldError("'properties' must be an object")
        if len(orjson.dumps(properties)) > PROPERTIES_MAX_BYTES:
            raise FieldError("'properties' is larger than 50 KB")
    if kind == "event":
        if "name" not in obj:
            raise FieldError("'name' is required")
        name = clean_identifier(obj["name"], field="name")
        count = 1
    else:
        if "product_id" not in obj:
            raise FieldError("'product_id' is required")
        name = clean_identifier(obj["product_id"], field="product_id")
        currency = obj.get("currency")
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
            raise FieldError("'currency' must be a three-letter ISO 4217 code")
        price = obj.get("price")
        if isinstance(price, bool) or not isinstance(price, (int, float)):
            raise FieldError("'price' must be a number")
        if not math.isfinite(price):
            raise FieldError("'price' must be a finite number")
        count = obj.get("quantity", 1)
        if isinstance(count, bool) or not isinstance(count, int):
            raise FieldError("'quantity' must be an integer")
        if not 1 <= count <= PURCHASE_MAX_QUANTITY:
            raise FieldError(f"'quantity' must be between 1 and {PURCHASE_MAX_QUANTITY}")
    return ActivityWrite(array, index, ident, create, identity, kind, name, at, count)
