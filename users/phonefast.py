"""A faster, exact path through phonenumbers for plain numbers ("+16502530000", "6502530000").

phonenumbers spends ~50 µs per number, most of it on Unicode-aware normalization and on trying
every regex of every region sharing a country code; CSV imports need ~5 µs. For input made only of
ASCII digits with an optional leading "+", this module runs the same steps as
`phonenumbers.parse` (same order, same metadata, same helpers where they are cheap) and answers
`is_valid_number` from per-region patterns compiled once. Anything else, and every case where
`parse` would raise or retry, returns UNSURE and the caller uses phonenumbers itself.

tests/users/test_phonefast.py compares both paths on metadata examples and random numbers.
"""

from __future__ import annotations

import re
from functools import cache

from phonenumbers import PhoneMetadata
from phonenumbers import phonenumberutil as pnu

UNSURE = object()
_SIMPLE = re.compile(r"\+?[0-9]{2,17}")
_NOT_LONG_ENOUGH = (
    pnu.ValidationResult.TOO_SHORT,
    pnu.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    pnu.ValidationResult.INVALID_LENGTH,
)
# The descs _number_type_helper tries after general_desc; any match means "not UNKNOWN".
_TYPE_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)


def valid_e164(number: str, region: str):
    """E.164 of a valid number, None for a parsed but invalid one, UNSURE to ask phonenumbers.

    `number` has had separators removed; `region` is an upper-case supported region.
    """
    if not _SIMPLE.fullmatch(number):
        return UNSURE
    parsed = _parse(number, region)
    if parsed is UNSURE:
        return UNSURE
    country_code, nsn = parsed
    if not _is_valid(country_code, nsn):
        return None
    return f"+{country_code}{nsn}"


def _parse(number: str, region: str):
    """(country code, national significant number) as phonenumbers.parse(number, region) finds
    them, for `+digits` / `digits`; UNSURE where parse would raise.

    The national significant number is the digit string itself: parse stores int(digits) plus
    its leading zeros ("Italian leading zero"), which national_significant_number puts back.
    """
    if number[0] == "+" and len(number) < 4:
        # Not viable ("+12"): parse raises NOT_A_NUMBER; let it.
        return UNSURE
    metadata = _metadata_for_region(region)
    if metadata is None:
        return UNSURE
    extracted = _maybe_extract_country_code(number, metadata)
    if extracted is UNSURE:
        return UNSURE
    country_code, national = extracted
    if country_code != 0:
        number_region = pnu.region_code_for_country_code(country_code)
        if number_region != region:
            metadata = PhoneMetadata.metadata_for_region_or_calling_code(
                country_code, number_region
            )
    else:
        # No country code: the whole (digit-only) input is the national number.
        national += number
        country_code = metadata.country_code
    if len(national) < pnu._MIN_LENGTH_FOR_NSN:
        return UNSURE
    _, potential, _ = pnu._maybe_strip_national_prefix_carrier_code(national, metadata)
    if _test_number_length(potential, metadata) not in _NOT_LONG_ENOUGH:
        national = potential
    if not pnu._MIN_LENGTH_FOR_NSN <= len(national) <= pnu._MAX_LENGTH_FOR_NSN:
        return UNSURE
    return country_code, national


# Lookups that phonenumbers repeats for every number, answered once: its metadata never changes
# once loaded: 4.08 against 4.70 µs a US number (docs/PERFORMANCE.md, sitting 11).
@cache
def _metadata_for_region(region: str):
    return PhoneMetadata.metadata_for_region(region, None)


# (region, country code, length) -> pnu._test_number_length's answer. The metadata is keyed by
# region and country code (non-geographic entities share the region "001"); at most a few
# thousand keys.
_LENGTH_RESULTS: dict[tuple[str, int, int], object] = {}


def _test_number_length(number: str, metadata):
    """pnu._test_number_length, which reads only the number's length and the metadata."""
    key = (metadata.id, metadata.country_code, len(number))
    result = _LENGTH_RESULTS.get(key)
    if result is None:
        result = _LENGTH_RESULTS[key] = pnu._test_number_length(number, metadata)
    return result


# Country calling codes as the digit strings _extract_country_code tries (1 to 3 digits).
_COUNTRY_CODES = {str(code): code for code in pnu.COUNTRY_CODE_TO_REGION_CODE}


def _extract_country_code(number: str) -> tuple[int, str]:
    """pnu._extract_country_code: the shortest known code at the start, else (0, number)."""
    if not number or number[0] == "0":
        return 0, number
    for length in range(1, min(len(number), pnu._MAX_LENGTH_COUNTRY_CODE) + 1):
        code = _COUNTRY_CODES.get(number[:length])
        if code is not None:
            return code, number[length:]
    return 0, number


def _maybe_extract_country_code(number: str, metadata):
    """pnu._maybe_extract_country_code for ASCII input, where normalizing is the identity."""
    if number[0] == "+":
        source_is_default, full_number = False, number[1:]
    else:
        stripped, full_number = _parse_prefix_as_idd(
            _compiled(metadata.international_prefix or "NonMatch"), number
        )
        source_is_default = not stripped
    if not source_is_default:
        if len(full_number) <= pnu._MIN_LENGTH_FOR_NSN:
            return UNSURE  # TOO_SHORT_AFTER_IDD
        country_code, rest = _extract_country_code(full_number)
        if country_code == 0:
            return UNSURE  # INVALID_COUNTRY_CODE, and parse's retry without the "+"
        return country_code, rest
    default_code = str(metadata.country_code)
    if full_number.startswith(default_code):
        general = metadata.general_desc
        _, potential, _ = pnu._maybe_strip_national_prefix_carrier_code(
            full_number[len(default_code) :], metadata
        )
        if (
            not pnu._match_national_number(full_number, general, False)
            and pnu._match_national_number(potential, general, False)
        ) or _test_number_length(full_number, metadata) == pnu.ValidationResult.TOO_LONG:
            return metadata.country_code, potential
    return 0, ""


@cache
def _compiled(pattern: str) -> re.Pattern:
    # What pnu.re_compile returns, without its per-call cache lookup overhead.
    return re.compile(pattern)


def _parse_prefix_as_idd(idd_pattern, number: str) -> tuple[bool, str]:
    match = idd_pattern.match(number)
    if not match:
        return False, number
    rest = number[match.end() :]
    # Country codes never start with 0: then the prefix was not an IDD.
    if rest and rest[0] == "0":
        return False, number
    return True, rest


# --- validity -----------------------------------------------------------------------------------


@cache
def _desc_matcher(region: str):
    """(general pattern, general lengths, {length: combined type regex}, leading digits)."""
    return _compile(PhoneMetadata.metadata_for_region(region, None))


@cache
def _non_geo_matcher(country_code: int):
    return _compile(PhoneMetadata.metadata_for_nongeo_region(country_code, None))


def _compile(metadata):
    if metadata is None:
        return None
    general = metadata.general_desc
    by_length: dict[int, re.Pattern | None] = {}
    types = [getattr(metadata, name) for name in _TYPE_DESCS]
    types = [d for d in types if d is not None and d.national_number_pattern]
    for length in range(1, pnu._MAX_LENGTH_FOR_NSN + 1):
        patterns = [
            d.national_number_pattern
            for d in types
            if not d.possible_length or length in d.possible_length
        ]
        # A full match of an alternation is a full match of one of its branches.
        by_length[length] = re.compile("(?:" + ")|(?:".join(patterns) + ")") if patterns else None
    general_pattern = (
        re.compile(general.national_number_pattern)
        if general is not None and general.national_number_pattern
        else None
    )
    general_lengths = frozenset(general.possible_length) if general is not None else frozenset()
    leading = re.compile(metadata.leading_digits) if metadata.leading_digits else None
    return general_pattern, general_lengths, by_length, leading


def _type_known(matcher, nsn: str) -> bool:
    """_number_type_helper(nsn, metadata) != UNKNOWN."""
    general_pattern, general_lengths, by_length, _ = matcher
    if general_pattern is None:
        return False
    if general_lengths and len(nsn) not in general_lengths:
        return False
    if not general_pattern.fullmatch(nsn):
        return False
    combined = by_length.get(len(nsn))
    return combined is not None and combined.fullmatch(nsn) is not None


def _is_valid(country_code: int, nsn: str) -> bool:
    """phonenumbers.is_valid_number for a number of `country_code` with this national number:
    find the region as region_code_for_number does, then validate against that region."""
    regions = pnu.COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if not regions:
        return False
    if len(regions) == 1:
        region = regions[0]
    else:
        region = None
        for candidate in regions:
            matcher = _desc_matcher(candidate)
            if matcher is None:
                continue
            leading = matcher[3]
            if leading is not None:
                if leading.match(nsn):
                    region = candidate
                    break
            elif _type_known(matcher, nsn):
                # Found by the same test is_valid_number_for_region would now repeat.
                return country_code == _metadata_for_region(candidate).country_code
        if region is None:
            return False
    if region == pnu.REGION_CODE_FOR_NON_GEO_ENTITY:
        matcher = _non_geo_matcher(country_code)
    else:
        if country_code != _metadata_for_region(region).country_code:
            return False
        matcher = _desc_matcher(region)
    return matcher is not None and _type_known(matcher, nsn)
