"""Audience filters: the format stored in `Canvas.audience_filters` (the Target Audience) and in
a Decision Split's `Step.config["filters"]`, its validation, its labels, and the SQL it becomes.

Format: a JSON list of filter objects, all of which must match (AND); an empty list matches
every profile. Each object is one of

    {"field": "has_email",           "op": "is", "value": true | false}
    {"field": "has_phone",           "op": "is", "value": true | false}
    {"field": "has_idfa",            "op": "is", "value": true | false}
    {"field": "has_gaid",            "op": "is", "value": true | false}
    {"field": "ad_tracking_enabled", "op": "is", "value": true | false}
    {"field": "country",             "op": "equals" | "not_equals", "value": "US"}
    {"field": "custom_attribute",    "op": "equals" | "not_equals", "key": "plan",
                                     "value": "gold"}

Meanings (appgroups.models.Profile columns):
- has_email / has_phone / has_idfa / has_gaid: the profile has a *matchable* value, i.e. its
  `email_sha256` / `phone_sha256` / `idfa_sha256` / `gaid_sha256` is set. A value that could
  not be normalized (kept with its reason) does not count: it could not be synced anyway.
- ad_tracking_enabled true: the profile's ad tracking flag is true; false: it is false *or
  unknown* (no device ever reported it), which is what a consent filter needs.
- country: ISO 3166-1 alpha-2, compared upper-case; not_equals includes profiles without one.
- custom_attribute: the attribute `key` equals the typed text. The text also matches a JSON
  number with the same value ("3" matches 3) and a JSON boolean ("true" matches true), since
  the form has only a text box. not_equals includes profiles without the attribute.

Only `audience_filters_clean` output should be stored; `audience_filter_q` trusts it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import F, JSONField, Q, Value
from django.db.models.fields.json import HasKey, KeyTransform
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

# A Canvas or Decision Split with more filters than this is a mistake, not a use case; it also
# bounds the SQL one filter list can produce.
MAX_FILTERS = 30
MAX_CUSTOM_KEY_LENGTH = 255
MAX_TEXT_VALUE_LENGTH = 255

IS = "is"
EQUALS = "equals"
NOT_EQUALS = "not_equals"
# The operators' labels in the filter editor's Operator list.
TEXT_OPS = {
    EQUALS: pgettext_lazy("audience filter operator", "is"),
    NOT_EQUALS: pgettext_lazy("audience filter operator", "is not"),
}

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_TRUE_WORDS = {"true", "1", "yes", "on"}
_FALSE_WORDS = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class FilterField:
    name: str
    label: str | Promise
    # "flag": a yes/no question; "text": equals / not equals a typed value.
    kind: str
    # For flags, the profile column and how it is tested.
    column: str = ""
    true_label: str | Promise = ""
    false_label: str | Promise = ""


FIELDS: dict[str, FilterField] = {
    f.name: f
    for f in (
        FilterField(
            "has_email", gettext_lazy("Has email address"), "flag", "email_sha256",
            gettext_lazy("Has an email address"), gettext_lazy("Has no email address"),
        ),
        FilterField(
            "has_phone", gettext_lazy("Has phone number"), "flag", "phone_sha256",
            gettext_lazy("Has a phone number"), gettext_lazy("Has no phone number"),
        ),
        FilterField(
            "has_idfa", gettext_lazy("Has iOS IDFA"), "flag", "idfa_sha256",
            gettext_lazy("Has an iOS IDFA"), gettext_lazy("Has no iOS IDFA"),
        ),
        FilterField(
            "has_gaid", gettext_lazy("Has Android GAID"), "flag", "gaid_sha256",
            gettext_lazy("Has an Android GAID"), gettext_lazy("Has no Android GAID"),
        ),
        FilterField(
            "ad_tracking_enabled", gettext_lazy("Ad Tracking Enabled"), "flag",
            "ad_tracking_enabled",
            gettext_lazy("Ad Tracking Enabled is true"),
            gettext_lazy("Ad Tracking Enabled is not true"),
        ),
        FilterField("country", gettext_lazy("Country"), "text"),
        FilterField("custom_attribute", gettext_lazy("Custom attribute"), "text"),
    )
}  # fmt: skip
FIELD_CHOICES = [(f.name, f.label) for f in FIELDS.values()]


class AudienceFilterError(ValueError):
    """A stored filter list is not in the format above (it bypassed audience_filters_clean)."""


def _as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    return None


def audience_filter_clean(raw: object) -> dict:
    """One filter, normalized; ValidationError keyed by form field ("field", "op", "key",
    "value") so a form can show each message next to its input."""
    if not isinstance(raw, dict):
        raise ValidationError(_("A filter must be an object."))
    field = FIELDS.get(str(raw.get("field") or ""))
    if field is None:
        raise ValidationError({"field": _("Choose what to filter on.")})
    if field.kind == "flag":
        value = _as_bool(raw.get("value"))
        if value is None:
            raise ValidationError({"value": _("Choose true or false.")})
        return {"field": field.name, "op": IS, "value": value}

    op = raw.get("op") or EQUALS
    if op not in TEXT_OPS:
        raise ValidationError({"op": _("Choose “is” or “is not”.")})
    value = raw.get("value")
    value = "" if value is None else str(value).strip()
    if field.name == "country":
        value = value.upper()
        if not _COUNTRY.match(value):
            raise ValidationError(
                {"value": _("Enter a two-letter country code, such as US or DE.")}
            )
        return {"field": field.name, "op": op, "value": value}

    key = str(raw.get("key") or "").strip()
    errors = {}
    if not key:
        errors["key"] = _("Enter the custom attribute's name.")
    elif len(key) > MAX_CUSTOM_KEY_LENGTH:
        errors["key"] = _("Attribute names have at most %(max)s characters.") % {
            "max": MAX_CUSTOM_KEY_LENGTH
        }
    if not value:
        errors["value"] = _("Enter the value to compare with.")
    elif len(value) > MAX_TEXT_VALUE_LENGTH:
        errors["value"] = _("Values have at most %(max)s characters.") % {
            "max": MAX_TEXT_VALUE_LENGTH
        }
    if errors:
        raise ValidationError(errors)
    return {"field": field.name, "op": op, "key": key, "value": value}


def audience_filters_clean(raw: object) -> list[dict]:
    """A whole filter list, normalized, or ValidationError listing what is wrong."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise ValidationError(_("Filters must be a list."))
    if len(raw) > MAX_FILTERS:
        raise ValidationError(_("Use at most %(max)s filters.") % {"max": MAX_FILTERS})
    cleaned = []
    for position, item in enumerate(raw, start=1):
        try:
            cleaned.append(audience_filter_clean(item))
        except ValidationError as exc:
            raise ValidationError(
                # Translators: a filter's position in the list, then what is wrong with it.
                _("Filter %(position)s: %(problems)s")
                % {"position": position, "problems": " ".join(exc.messages)}
            ) from exc
    return cleaned


def audience_filter_label(filter_: dict) -> str:
    """Plain words for one cleaned filter, e.g. 'Country is not DE'."""
    field = FIELDS.get(filter_.get("field", ""))
    if field is None:
        return _("Unknown filter")
    if field.kind == "flag":
        return str(field.true_label if filter_.get("value") else field.false_label)
    negated = filter_.get("op", EQUALS) == NOT_EQUALS
    value = filter_.get("value", "")
    if field.name == "country":
        if negated:
            return _("Country is not %(country)s") % {"country": value}
        return _("Country is %(country)s") % {"country": value}
    key = filter_.get("key", "")
    if negated:
        return _("Custom attribute “%(key)s” is not “%(value)s”") % {"key": key, "value": value}
    return _("Custom attribute “%(key)s” is “%(value)s”") % {"key": key, "value": value}


def audience_filter_labels(filters: list[dict]) -> list[str]:
    return [audience_filter_label(f) for f in filters or []]


def _custom_value_candidates(text: str) -> list[object]:
    """The JSON values the typed text stands for: itself, and a number or boolean it spells."""
    candidates: list[object] = [text]
    flag = _as_bool(text)
    if flag is not None and text.strip().lower() in ("true", "false"):
        candidates.append(flag)
    try:
        number = Decimal(text)
    except InvalidOperation:
        return candidates
    if number.is_finite():
        # Only numbers a JSON attribute can hold: a 64-bit integer, a finite double. Text like
        # "1e5000" is compared as text only (as a number it breaks JSON encoding on SQLite and
        # becomes Infinity, which PostgreSQL refuses).
        if number == number.to_integral_value() and -(2**63) <= number < 2**63:
            candidates.append(int(number))
        as_float = float(number)
        if math.isfinite(as_float):
            candidates.append(as_float)
    return candidates


def _custom_equals_q(key: str, text: str) -> Q:
    # The expression API (not `custom_attributes__<key>=`) so any key works, even one with
    # "__"; the Value carries JSONField so the database compares JSON to JSON.
    attribute = KeyTransform(key, "custom_attributes")
    q = Q()
    for candidate in _custom_value_candidates(text):
        exact = attribute.get_lookup("exact")(attribute, Value(candidate, output_field=JSONField()))
        q |= Q(exact)
    return q


def _filter_q(filter_: dict) -> Q:
    field = FIELDS.get(filter_.get("field", "")) if isinstance(filter_, dict) else None
    if field is None:
        raise AudienceFilterError(f"unknown audience filter: {filter_!r}")
    value = filter_.get("value")
    if field.kind == "flag":
        if not isinstance(value, bool):
            raise AudienceFilterError(f"flag filter without a boolean value: {filter_!r}")
        if field.name == "ad_tracking_enabled":
            # Unknown (NULL) counts as not enabled: consent must be explicit.
            return Q(ad_tracking_enabled=True) if value else ~Q(ad_tracking_enabled=True)
        return Q(**{f"{field.column}__isnull": not value})

    op = filter_.get("op")
    if op not in TEXT_OPS or not isinstance(value, str):
        raise AudienceFilterError(f"malformed audience filter: {filter_!r}")
    if field.name == "country":
        equals = Q(country=value.upper())
        return equals if op == EQUALS else ~equals
    key = filter_.get("key")
    if not isinstance(key, str) or not key:
        raise AudienceFilterError(f"custom attribute filter without a key: {filter_!r}")
    equals = _custom_equals_q(key, value)
    if op == EQUALS:
        return equals
    # Spelled out: a plain ~equals would drop profiles that lack the attribute (SQL NULL).
    return ~Q(HasKey(F("custom_attributes"), key)) | ~equals


def audience_filter_q(filters: list[dict]) -> Q:
    """The Q over appgroups.models.Profile that selects the profiles matching every filter.

    Usage (journeys/: scheduled entry, API-trigger eligibility, Decision Split routing):

        Profile.objects.filter(app_group=canvas.app_group).filter(
            audience_filter_q(canvas.audience_filters)
        )

    It is plain SQL on Profile's own columns (the hash columns, ad_tracking_enabled, country
    and the custom_attributes JSON), so it can sit inside an INSERT … SELECT or an UPDATE …
    WHERE over millions of profiles; no Python runs per profile. It does not scope by app
    group: the caller does. An empty list is Q() (everyone). Raises AudienceFilterError for
    a list that is not in the cleaned format.
    """
    if filters in (None, []):
        return Q()
    if not isinstance(filters, list):
        raise AudienceFilterError(f"audience filters must be a list, not {type(filters)}")
    q = Q()
    for filter_ in filters:
        q &= _filter_q(filter_)
    return q
