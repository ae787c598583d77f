"""The one normalizer for the identifiers we hash: email, phone, IDFA and GAID (docs/ARCHITECTURE.md D5).

Every write path (REST API, CSV import, demo seed) calls these functions once, when a profile or
device is written, and stores the result beside the raw value; nothing downstream normalizes
again. TikTok expects SHA-256 in lowercase hex of: the email trimmed and lowercased, the phone in
E.164 with its `+`, and the ad id trimmed and lowercased (docs/TIKTOK_API.md §6).

Nothing here logs: the inputs are personal data (docs/ARCHITECTURE.md D14).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import NamedTuple

import phonenumbers
from django.utils.translation import gettext, gettext_noop

from users import phonefast

# A value that already is a SHA-256 digest is passed through (lowercased), never hashed again.
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
# "Looks like an email": something@something.tld, no whitespace, one @. Mail servers decide the
# rest; TikTok only needs the same bytes Braze would hash.
_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
# RFC 5321: a forward path holds at most 254 characters.
EMAIL_MAX_LENGTH = 254
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# iOS reports this IDFA when the user limits ad tracking; it identifies nobody.
_ZERO_UUID = "00000000-0000-0000-0000-000000000000"
# phonenumbers parses ~20k numbers/s; /users/track and searches repeat numbers, so a bounded
# cache pays for itself. Keys are (raw, country): a few MB at most.
_PHONE_CACHE_SIZE = 200_000

# Why a value cannot be matched: stored in English as written here (on the profile, in the CSV
# import's report, in the sync's Not Synced reasons), shown translated (invalid_reason_text).
REASON_EMAIL = gettext_noop("not an email address")
REASON_PHONE = gettext_noop("not a valid phone number")
REASON_PHONE_COUNTRY = gettext_noop("phone number has an unknown country code")
REASON_AD_ID = gettext_noop("not a UUID")
REASON_AD_ID_ZERO = gettext_noop("all-zero ad id (ad tracking limited on the device)")
REASONS = frozenset(
    {REASON_EMAIL, REASON_PHONE, REASON_PHONE_COUNTRY, REASON_AD_ID, REASON_AD_ID_ZERO}
)


class Normalized(NamedTuple):
    """The outcome of normalizing one raw value.

    `value` is the normalized plaintext (None for a passed-through hash or an invalid value),
    `sha256` what TikTok receives (None when invalid), `invalid_reason` why a non-empty value
    cannot be matched ("" when valid). All three are empty for an empty input. (A NamedTuple:
    imports build millions of these, and a frozen dataclass costs several times more.)
    """

    value: str | None
    sha256: str | None
    invalid_reason: str = ""

    @property
    def is_valid(self) -> bool:
        return self.sha256 is not None


EMPTY = Normalized(None, None, "")


# Copying an empty SHA-256 context skips OpenSSL's setup of a new one: 1.13 against 1.27 µs a
# hash of an email, over 200,000 distinct ones; a CSV import hashes two or three values a row.
# The copies are independent; this one is never updated.
_SHA256_EMPTY = hashlib.sha256()


def sha256_hex(value: str) -> str:
    digest = _SHA256_EMPTY.copy()
    digest.update(value.encode("utf-8"))
    return digest.hexdigest()


def _passthrough(value: str) -> Normalized | None:
    if len(value) == 64 and _SHA256_HEX.fullmatch(value):
        return Normalized(None, value.lower())
    return None


def _settled(raw: str | None) -> tuple[Normalized | None, str]:
    """What every identifier does first: nothing for an absent or blank value, a pass-through
    for a value that already is a SHA-256. Returns (the outcome if settled, the trimmed value)."""
    if raw is None:
        return EMPTY, ""
    value = raw.strip()
    if not value:
        return EMPTY, ""
    return _passthrough(value), value


def normalize_email(raw: str | None) -> Normalized:
    """Trim and lowercase; the result must look like an email (or already be a SHA-256)."""
    settled, value = _settled(raw)
    if settled is not None:
        return settled
    value = value.lower()
    if len(value) > EMAIL_MAX_LENGTH or not _EMAIL_SHAPE.fullmatch(value):
        return Normalized(None, None, REASON_EMAIL)
    return Normalized(value, sha256_hex(value))


def normalize_phone(raw: str | None, *, default_country: str, cache: bool = True) -> Normalized:
    """E.164 with `+`; a number without country code is read in `default_country` (ISO alpha-2).

    Spaces, tabs, dashes, dots and parentheses are removed first (docs/ARCHITECTURE.md D5), then the
    number is parsed and validated as phonenumbers does (users.phonefast for plain digits).
    Without `cache` (a CSV import, whose numbers are mostly distinct), the bounded cache is
    neither read nor filled: a miss costs ~3 µs more than the ~5 µs of normalizing a number.
    """
    settled, value = _settled(raw)
    if settled is not None:
        return settled
    normalize = _normalize_phone_cached if cache else _normalize_phone
    return normalize(value.translate(_PHONE_SEPARATORS), (default_country or "").upper())


_PHONE_SEPARATORS = str.maketrans("", "", " \t-.()")


def _normalize_phone(value: str, default_country: str) -> Normalized:
    if default_country in phonenumbers.SUPPORTED_REGIONS:
        e164 = phonefast.valid_e164(value, default_country)
        if e164 is not phonefast.UNSURE:
            if e164 is None:
                return Normalized(None, None, REASON_PHONE)
            return Normalized(e164, sha256_hex(e164))
    try:
        number = phonenumbers.parse(value, default_country or None)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            return Normalized(None, None, REASON_PHONE_COUNTRY)
        return Normalized(None, None, REASON_PHONE)
    if not phonenumbers.is_valid_number(number):
        return Normalized(None, None, REASON_PHONE)
    # E.164 is "+", the country code and the national significant number (no extension).
    e164 = f"+{number.country_code}{phonenumbers.national_significant_number(number)}"
    return Normalized(e164, sha256_hex(e164))


_normalize_phone_cached = lru_cache(maxsize=_PHONE_CACHE_SIZE)(_normalize_phone)


def normalize_ad_id(raw: str | None) -> Normalized:
    """IDFA or GAID: trim and lowercase; must be a UUID (or already a SHA-256)."""
    settled, value = _settled(raw)
    if settled is not None:
        return settled
    value = value.lower()
    if len(value) != 36 or not _UUID.fullmatch(value):
        return Normalized(None, None, REASON_AD_ID)
    if value == _ZERO_UUID:
        return Normalized(None, None, REASON_AD_ID_ZERO)
    return Normalized(value, sha256_hex(value))


def invalid_reason_text(reason: str) -> str:
    """A stored reason in the active language (one stored before it was worded here: as is)."""
    return gettext(reason) if reason in REASONS else reason


def phone_country_is_known(country: str) -> bool:
    return (country or "").upper() in phonenumbers.SUPPORTED_REGIONS
