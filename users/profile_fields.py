"""Validation of profile fields, shared by the REST API and the CSV import.

Codes are matched exactly (country, language and gender in either case); the CSV import trims
its cells before calling these, the REST API does not trim for the caller.

Standard fields follow Braze's user attributes object (docs/ARCHITECTURE.md B6). Each cleaner takes
one raw value and returns the profile columns it sets, or raises FieldError with a message that
is safe to show (it never repeats the value: it may be an email or a phone number).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import orjson
from django.utils.translation import gettext_noop

from users import identifiers
from users.messages import Message
from users.models import Gender, SubscriptionState

# ISO 3166-1 alpha-2, plus XK (Kosovo, user-assigned but widely used).
COUNTRY_CODES = frozenset(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC
    EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK
    HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB
    LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
    NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU
    RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN
    TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW""".split()
)
# ISO 639-1.
LANGUAGE_CODES = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy
    da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy
    hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li
    ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa
    pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th
    ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu""".split()
)

TEXT_MAX_LENGTH = 255
EXTERNAL_ID_MAX_LENGTH = 512
EMAIL_RAW_MAX_LENGTH = 255
PHONE_RAW_MAX_LENGTH = 64
AD_ID_RAW_MAX_LENGTH = 64
# Braze's default cap on custom attribute arrays; longer arrays are truncated, as Braze does.
ARRAY_MAX_ITEMS = 25
# Integers stay within 64 bits so every database and JSON reader agrees on them.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_DOB = re.compile(r"\d{4}-\d{2}-\d{2}")


class FieldError(ValueError):
    """A value that cannot be stored; the message names the field, never the value.

    `str()` is the English text (what the REST API answers); `message` keeps the msgid and its
    parameters, so that the CSV import's page can show it in its reader's language."""

    def __init__(self, msgid: str, **params):
        self.message = Message(msgid, params)
        super().__init__(str(self.message))


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def clean_text(value: Any, *, field: str, max_length: int = TEXT_MAX_LENGTH) -> str:
    if not isinstance(value, str):
        raise FieldError(gettext_noop("'%(field)s' must be a string"), field=field)
    if len(value) > max_length:
        raise FieldError(
            gettext_noop("'%(field)s' is longer than %(max)s characters"),
            field=field,
            max=max_length,
        )
    if "\x00" in value:
        raise FieldError(gettext_noop("'%(field)s' contains a NUL character"), field=field)
    return value


def clean_identifier(value: Any, *, field: str, max_length: int = TEXT_MAX_LENGTH) -> str:
    value = clean_text(value, field=field, max_length=max_length)
    if not value.strip():
        raise FieldError(gettext_noop("'%(field)s' must not be empty"), field=field)
    return value


# --- standard fields: each returns the columns it sets ------------------------------------------


def _text_setter(column: str) -> Callable[[Any, str], dict]:
    def setter(value: Any, default_country: str) -> dict:
        return {column: "" if value is None else clean_text(value, field=column).strip()}

    return setter


def _set_country(value: Any, default_country: str) -> dict:
    if value is None:
        return {"country": ""}
    code = clean_text(value, field="country").upper()
    if code not in COUNTRY_CODES:
        raise FieldError(gettext_noop("'country' must be an ISO 3166-1 alpha-2 code"))
    return {"country": code}


def _set_language(value: Any, default_country: str) -> dict:
    if value is None:
        return {"language": ""}
    code = clean_text(value, field="language").lower()
    if code not in LANGUAGE_CODES:
        raise FieldError(gettext_noop("'language' must be an ISO 639-1 code"))
    return {"language": code}


def parse_dob(value: Any) -> dt.date:
    text = clean_text(value, field="dob")
    try:
        if not _DOB.fullmatch(text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise FieldError(gettext_noop("'dob' must be a date in the form YYYY-MM-DD")) from exc


def _set_dob(value: Any, default_country: str) -> dict:
    return {"dob": None if value is None else parse_dob(value)}


def _set_gender(value: Any, default_country: str) -> dict:
    if value is None:
        return {"gender": ""}
    code = clean_text(value, field="gender").upper()
    if code not in Gender.values:
        raise FieldError(gettext_noop("'gender' must be one of M, F, O, N, P"))
    return {"gender": code}


def _set_time_zone(value: Any, default_country: str) -> dict:
    if value is None:
        return {"time_zone": ""}
    name = clean_text(value, field="time_zone")
    if name not in time_zones():
        raise FieldError(gettext_noop("'time_zone' must be an IANA time zone name"))
    return {"time_zone": name}


def _subscription_setter(column: str) -> Callable[[Any, str], dict]:
    def setter(value: Any, default_country: str) -> dict:
        if value is None:
            return {column: ""}
        state = clean_text(value, field=column)
        if state not in SubscriptionState.values:
            raise FieldError(
                gettext_noop("'%(field)s' must be one of opted_in, subscribed, unsubscribed"),
                field=column,
            )
        return {column: state}

    return setter


def email_columns(raw: str | None) -> dict:
    """The email columns for a raw value: kept as given, with its hash or the reason it has none."""
    if raw is None or not raw.strip():
        return {"email": "", "email_sha256": None, "email_invalid_reason": ""}
    raw = raw.strip()
    normalized = identifiers.normalize_email(raw)
    return {
        "email": raw,
        "email_sha256": normalized.sha256,
        "email_invalid_reason": normalized.invalid_reason,
    }


def phone_columns(raw: str | None, default_country: str) -> dict:
    if raw is None or not raw.strip():
        return {"phone": "", "phone_e164": None, "phone_sha256": None, "phone_invalid_reason": ""}
    raw = raw.strip()
    normalized = identifiers.normalize_phone(raw, default_country=default_country)
    return {
        "phone": raw,
        "phone_e164": normalized.value,
        "phone_sha256": normalized.sha256,
        "phone_invalid_reason": normalized.invalid_reason,
    }


def _set_email(value: Any, default_country: str) -> dict:
    if value is None:
        return email_columns(None)
    return email_columns(clean_text(value, field="email", max_length=EMAIL_RAW_MAX_LENGTH))


def _set_phone(value: Any, default_country: str) -> dict:
    if value is None:
        return phone_columns(None, default_country)
    raw = clean_text(value, field="phone", max_length=PHONE_RAW_MAX_LENGTH)
    return phone_columns(raw, default_country)


STANDARD_FIELDS: dict[str, Callable[[Any, str], dict]] = {
    "first_name": _text_setter("first_name"),
    "last_name": _text_setter("last_name"),
    "home_city": _text_setter("home_city"),
    "country": _set_country,
    "language": _set_language,
    "dob": _set_dob,
    "gender": _set_gender,
    "time_zone": _set_time_zone,
    "email_subscribe": _subscription_setter("email_subscribe"),
    "push_subscribe": _subscription_setter("push_subscribe"),
    "email": _set_email,
    "phone": _set_phone,
}


# --- custom attributes ---------------------------------------------------------------------------


def clean_attribute_name(name: str) -> str:
    if not name or not name.strip():
        raise FieldError(gettext_noop("custom attribute names must not be empty"))
    if len(name) > TEXT_MAX_LENGTH:
        raise FieldError(
            gettext_noop("custom attribute names have at most %(max)s characters"),
            max=TEXT_MAX_LENGTH,
        )
    if "\x00" in name:
        raise FieldError(gettext_noop("custom attribute names must not contain a NUL character"))
    return name


def clean_scalar(value: Any, *, field: str) -> str | int | float | bool:
    """A custom attribute value or array item: string, integer, float or boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise FieldError(
                gettext_noop("'%(field)s' is out of the 64-bit integer range"), field=field
            )
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FieldError(gettext_noop("'%(field)s' must be a finite number"), field=field)
        return value
    if isinstance(value, str):
        return clean_text(value, field=field)
    raise FieldError(
        gettext_noop("'%(field)s' must be a string, number, boolean, array, or null"),
        field=field,
    )


def clean_array(items: Any, *, field: str, newest: bool = False) -> list:
    """Arrays are sets of scalars in Braze, of at most ARRAY_MAX_ITEMS: longer ones are
    truncated (to the first items, or with `newest` to the last ones, as `add` keeps the newest),
    then duplicates are dropped, order of first sight kept.

    The cap comes first and duplicates are found through a set, so a request can make this no
    slower than an array of ARRAY_MAX_ITEMS: items past the cap are not even looked at. (An
    85 KB body of long arrays took 5.2 s when every item was compared with every one kept.)
    """
    if not isinstance(items, list):
        raise FieldError(gettext_noop("'%(field)s' must be an array"), field=field)
    window = items[-ARRAY_MAX_ITEMS:] if newest else items[:ARRAY_MAX_ITEMS]
    kept: list = []
    seen: set = set()
    for item in window:
        if isinstance(item, (list, dict)) or item is None:
            raise FieldError(
                gettext_noop("'%(field)s' may only hold strings, numbers and booleans"),
                field=field,
            )
        item = clean_scalar(item, field=field)
        identity = _identity(item)
        if identity not in seen:
            seen.add(identity)
            kept.append(item)
    return kept


def _identity(value: Any) -> tuple:
    # JSON tells true from 1 and 1 from 1.0; Python's == does not. A stored value we would not
    # write today (a nested array) is told apart by its JSON text.
    if isinstance(value, (list, dict)):
        return (type(value), orjson.dumps(value))
    return (type(value), value)


def array_add(current: list, items: list) -> list:
    """Append each item, moving one already present to the end; keep the newest items."""
    adding = {_identity(item) for item in items}
    result = [value for value in current if _identity(value) not in adding]
    result.extend(items)
    return result[-ARRAY_MAX_ITEMS:]


def array_remove(current: list, items: list) -> list:
    removing = {_identity(item) for item in items}
    return [value for value in current if _identity(value) not in removing]
