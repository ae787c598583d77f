"""The one normalizer (docs/ARCHITECTURE.md D5): what TikTok receives for each raw value."""

import hashlib

import pytest

from users import identifiers
from users.identifiers import (
    REASON_AD_ID,
    REASON_AD_ID_ZERO,
    REASON_EMAIL,
    REASON_PHONE,
    REASON_PHONE_COUNTRY,
    normalize_ad_id,
    normalize_email,
    normalize_phone,
    sha256_hex,
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_sha256_is_lowercase_hex_of_utf8():
    assert sha256_hex("ana@example.com") == sha("ana@example.com")
    assert sha256_hex("zoë@example.com") == hashlib.sha256("zoë@example.com".encode()).hexdigest()
    assert sha256_hex("x") == sha256_hex("x").lower()


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("ana@example.com", "ana@example.com"),
        ("  Ana.Lopez@Example.COM ", "ana.lopez@example.com"),
        ("\tBOB+promo@Mail.Example.org\n", "bob+promo@mail.example.org"),
        # Dots and plus tags stay: TikTok's current guidance only trims and lowercases.
        ("first.last+tag@gmail.com", "first.last+tag@gmail.com"),
        ("ZOË@EXAMPLE.COM", "zoë@example.com"),
    ],
)
def test_email_is_trimmed_lowercased_and_hashed(raw, normalized):
    result = normalize_email(raw)

    assert result.value == normalized
    assert result.sha256 == sha(normalized)
    assert result.invalid_reason == ""
    assert result.is_valid


@pytest.mark.parametrize(
    "raw",
    [
        "not-an-email",
        "ana@",
        "@example.com",
        "ana@example",
        "ana@@example.com",
        "ana lopez@example.com",
        "ana@exa mple.com",
        "ana@example.",
        "a" * 250 + "@example.com",
    ],
)
def test_email_that_does_not_look_like_one_is_invalid_with_reason(raw):
    result = normalize_email(raw)

    assert (result.value, result.sha256, result.invalid_reason) == (None, None, REASON_EMAIL)
    assert not result.is_valid


@pytest.mark.parametrize("raw", [None, "", "   ", "\n\t"])
def test_empty_values_are_absent_not_invalid(raw):
    for result in (
        normalize_email(raw),
        normalize_phone(raw, default_country="US"),
        normalize_ad_id(raw),
    ):
        assert (result.value, result.sha256, result.invalid_reason) == (None, None, "")


@pytest.mark.parametrize("hexdigest", ["A" * 64, sha("x").upper(), " " + sha("y") + " "])
def test_a_sha256_is_passed_through_lowercased_not_hashed_again(hexdigest):
    expected = hexdigest.strip().lower()

    assert normalize_email(hexdigest).sha256 == expected
    assert normalize_phone(hexdigest, default_country="US").sha256 == expected
    assert normalize_ad_id(hexdigest).sha256 == expected
    assert normalize_email(hexdigest).value is None


def test_63_or_65_hex_characters_are_not_a_hash():
    assert normalize_email("a" * 63).invalid_reason == REASON_EMAIL
    assert normalize_ad_id("a" * 63).invalid_reason == REASON_AD_ID
    assert normalize_ad_id("a" * 65).invalid_reason == REASON_AD_ID
    assert normalize_phone("1" * 63, default_country="US").invalid_reason == REASON_PHONE
    # 64 characters but not all hex: not a hash either.
    assert normalize_email("g" * 64).invalid_reason == REASON_EMAIL


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("+16502530000", "US", "+16502530000"),
        ("+1 (650) 253-0000", "US", "+16502530000"),
        ("650.253.0000", "US", "+16502530000"),
        ("(650) 253-0000", "US", "+16502530000"),
        ("650-253-0000", "US", "+16502530000"),
        ("1 650 253 0000", "US", "+16502530000"),
        ("  6502530000  ", "US", "+16502530000"),
        # National numbers take the app group's default country...
        ("020 8366 1177", "GB", "+442083661177"),
        ("02083661177", "GB", "+442083661177"),
        ("01 42 68 53 00", "FR", "+33142685300"),
        ("030 123456", "DE", "+4930123456"),
        # ...but a number with + keeps its own.
        ("+44 20 8366 1177", "US", "+442083661177"),
        ("+33 1 42 68 53 00", "GB", "+33142685300"),
        # An international prefix of the default country works like +.
        ("011 44 20 8366 1177", "US", "+442083661177"),
        ("00 44 20 8366 1177", "FR", "+442083661177"),
        # Italian numbers keep their leading zero.
        ("+39 06 6988 0000", "US", "+390669880000"),
        # The country code is read in either case.
        ("650 253 0000", "us", "+16502530000"),
    ],
)
def test_phone_becomes_e164_with_plus(raw, country, e164):
    result = normalize_phone(raw, default_country=country)

    if e164 is None:
        assert result.invalid_reason == REASON_PHONE
    else:
        assert (result.value, result.sha256, result.invalid_reason) == (e164, sha(e164), "")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("123", REASON_PHONE),
        ("+1 650 253 000", REASON_PHONE),  # too short
        ("+1 650 253 00000", REASON_PHONE),  # too long
        ("555-0100", REASON_PHONE),  # US number without area code
        ("+1 000 000 0000", REASON_PHONE),
        ("+999 1234 5678", REASON_PHONE_COUNTRY),
        ("phone me", REASON_PHONE),
        ("++--..", REASON_PHONE),
    ],
)
def test_invalid_phone_numbers_are_kept_out_with_a_reason(raw, reason):
    result = normalize_phone(raw, default_country="US")

    assert (result.value, result.sha256, result.invalid_reason) == (None, None, reason)


def test_the_default_country_changes_how_a_national_number_reads():
    us = normalize_phone("2083661177", default_country="US")
    gb = normalize_phone("2083661177", default_country="GB")

    assert us.value == "+12083661177"
    assert gb.value == "+442083661177"


@pytest.mark.parametrize(
    "raw",
    [
        "6D92078A-8246-4BA4-AE5B-76104861E7DC",
        " 6d92078a-8246-4ba4-ae5b-76104861e7dc ",
        "38400000-8cf0-11bd-b23e-10b96e40000d",
    ],
)
def test_ad_ids_are_trimmed_lowercased_and_hashed(raw):
    result = normalize_ad_id(raw)

    assert result.value == raw.strip().lower()
    assert result.sha256 == sha(raw.strip().lower())


@pytest.mark.parametrize(
    "raw",
    [
        "6D92078A82464BA4AE5B76104861E7DC",  # no dashes
        "6D92078A-8246-4BA4-AE5B-76104861E7D",  # one short
        "6D92078A-8246-4BA4-AE5B-76104861E7DCX",
        "{6D92078A-8246-4BA4-AE5B-76104861E7DC}",
        "zzzzzzzz-8246-4ba4-ae5b-76104861e7dc",
        "not a uuid",
    ],
)
def test_ad_ids_that_are_not_uuids_are_invalid(raw):
    assert normalize_ad_id(raw).invalid_reason == REASON_AD_ID


def test_the_all_zero_idfa_of_limited_ad_tracking_identifies_nobody():
    result = normalize_ad_id("00000000-0000-0000-0000-000000000000")

    assert (result.sha256, result.invalid_reason) == (None, REASON_AD_ID_ZERO)


def test_the_normalizer_logs_nothing(caplog):
    with caplog.at_level("DEBUG"):
        normalize_email("secret.person@example.com")
        normalize_phone("+16502530000", default_country="US")
        normalize_ad_id("6D92078A-8246-4BA4-AE5B-76104861E7DC")

    assert caplog.records == []


def test_phone_results_are_cached_per_country():
    identifiers._normalize_phone_cached.cache_clear()
    normalize_phone("650 253 0000", default_country="US")
    normalize_phone("(650) 253-0000", default_country="US")
    normalize_phone("650 253 0000", default_country="GB")

    info = identifiers._normalize_phone_cached.cache_info()
    assert (info.hits, info.misses) == (1, 2)


def test_phones_normalized_without_the_cache_neither_read_nor_fill_it():
    identifiers._normalize_phone_cached.cache_clear()
    numbers = ["650 253 0000", "+44 20 7031 3000", "123", "+999 1234567"]
    uncached = [normalize_phone(n, default_country="US", cache=False) for n in numbers]

    assert identifiers._normalize_phone_cached.cache_info().currsize == 0
    assert uncached == [normalize_phone(n, default_country="US") for n in numbers]
    assert uncached[0].value == "+16502530000" and uncached[2].invalid_reason
