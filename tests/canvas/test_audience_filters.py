"""The audience filter format: validation, labels, and audience_filter_q on real profiles
written through /users/track's parser (so the hash columns are the normalizer's)."""

import pytest
from django.core.exceptions import ValidationError

from canvas.audience import (
    AudienceFilterError,
    audience_filter_label,
    audience_filter_q,
    audience_filters_clean,
)
from tests.factories import profile_track
from users.models import Profile

IDFA = "6D92078A-8246-4BA4-AE5B-76104861E7DC"
GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"


@pytest.fixture
def people(app_group):
    """Five profiles with different identifiers, consent, countries and attributes."""
    profile_track(
        app_group,
        external_id="ana",
        email="Ana@Example.com",
        phone="+1 415 555 0100",
        country="US",
        plan="gold",
        visits=3,
        vip=True,
        devices=[{"device_id": "ios-1", "idfa": IDFA, "ad_tracking_enabled": True}],
    )
    profile_track(
        app_group,
        external_id="ben",
        email="ben@example.com",
        country="DE",
        plan="silver",
        visits="3",
        devices=[{"device_id": "android-1", "google_ad_id": GAID, "ad_tracking_enabled": False}],
    )
    profile_track(app_group, external_id="cho", phone="+44 20 7946 0958", country="GB")
    profile_track(app_group, external_id="dan", email="not-an-email", country="us")
    profile_track(app_group, external_id="eve", plan__weird="x")
    return app_group


def matching(app_group, filters) -> list[str]:
    profiles = Profile.objects.filter(app_group=app_group).filter(audience_filter_q(filters))
    return sorted(profiles.values_list("external_id", flat=True))


def test_an_empty_filter_list_matches_everyone(people):
    assert matching(people, []) == ["ana", "ben", "cho", "dan", "eve"]


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("has_email", True, ["ana", "ben"]),  # dan's email could not be normalized
        ("has_email", False, ["cho", "dan", "eve"]),
        ("has_phone", True, ["ana", "cho"]),
        ("has_idfa", True, ["ana"]),
        ("has_gaid", True, ["ben"]),
        ("has_gaid", False, ["ana", "cho", "dan", "eve"]),
        ("ad_tracking_enabled", True, ["ana"]),
        # False or never reported: consent must be explicit.
        ("ad_tracking_enabled", False, ["ben", "cho", "dan", "eve"]),
    ],
)
def test_flag_filters_test_the_matchable_columns(people, field, value, expected):
    filters = audience_filters_clean([{"field": field, "value": value}])
    assert matching(people, filters) == expected


def test_country_compares_upper_case_and_not_equals_includes_profiles_without_one(people):
    equals = audience_filters_clean([{"field": "country", "op": "equals", "value": "us"}])
    not_equals = audience_filters_clean([{"field": "country", "op": "not_equals", "value": "US"}])

    assert equals == [{"field": "country", "op": "equals", "value": "US"}]
    assert matching(people, equals) == ["ana", "dan"]
    assert matching(people, not_equals) == ["ben", "cho", "eve"]


def test_custom_attribute_equals_matches_text_numbers_and_booleans(people):
    def q(key, value, op="equals"):
        filters = audience_filters_clean(
            [{"field": "custom_attribute", "op": op, "key": key, "value": value}]
        )
        return matching(people, filters)

    assert q("plan", "gold") == ["ana"]
    # "3" matches the number 3 (ana) and the text "3" (ben).
    assert q("visits", "3") == ["ana", "ben"]
    assert q("vip", "true") == ["ana"]
    # A key with a double underscore is a key, not a Django lookup path.
    assert q("plan__weird", "x") == ["eve"]
    # not_equals keeps profiles that lack the attribute.
    assert q("plan", "gold", op="not_equals") == ["ben", "cho", "dan", "eve"]


def test_filters_are_anded(people):
    filters = audience_filters_clean(
        [
            {"field": "has_email", "value": "true"},
            {"field": "ad_tracking_enabled", "value": "false"},
        ]
    )
    assert matching(people, filters) == ["ben"]


def test_audience_filter_q_is_one_sql_query_whatever_the_number_of_profiles(
    people, django_assert_num_queries
):
    filters = audience_filters_clean(
        [{"field": "has_email", "value": True}, {"field": "country", "value": "DE"}]
    )
    with django_assert_num_queries(1):
        assert (
            Profile.objects.filter(app_group=people).filter(audience_filter_q(filters)).count() == 1
        )


@pytest.mark.parametrize(
    "raw, message",
    [
        ([{"field": "favourite_colour", "value": "red"}], "Choose what to filter on."),
        ([{"field": "has_email", "value": "maybe"}], "Choose true or false."),
        ([{"field": "country", "value": "USA"}], "two-letter country code"),
        ([{"field": "country", "op": "contains", "value": "US"}], "“is” or “is not”"),
        ([{"field": "custom_attribute", "value": "gold"}], "custom attribute's name"),
        ([{"field": "custom_attribute", "key": "plan", "value": " "}], "value to compare"),
        ([{"field": "custom_attribute", "key": "p" * 256, "value": "x"}], "at most 255"),
        ("has_email", "must be a list"),
        ([{"field": "has_email", "value": True}] * 31, "at most 30 filters"),
    ],
)
def test_invalid_filters_are_refused_with_words(raw, message):
    with pytest.raises(ValidationError) as caught:
        audience_filters_clean(raw)
    assert message in " ".join(caught.value.messages)


def test_a_filter_list_that_bypassed_validation_raises_instead_of_matching_everyone():
    with pytest.raises(AudienceFilterError):
        audience_filter_q([{"field": "has_email", "value": "yes"}])
    with pytest.raises(AudienceFilterError):
        audience_filter_q([{"field": "nope"}])
    with pytest.raises(AudienceFilterError):
        audience_filter_q({"field": "has_email", "value": True})


@pytest.mark.parametrize(
    "filter_, label",
    [
        ({"field": "has_email", "op": "is", "value": True}, "Has an email address"),
        ({"field": "has_gaid", "op": "is", "value": False}, "Has no Android GAID"),
        (
            {"field": "ad_tracking_enabled", "op": "is", "value": True},
            "Ad Tracking Enabled is true",
        ),
        ({"field": "country", "op": "not_equals", "value": "DE"}, "Country is not DE"),
        (
            {"field": "custom_attribute", "op": "equals", "key": "plan", "value": "gold"},
            "Custom attribute “plan” is “gold”",
        ),
    ],
)
def test_filters_have_plain_labels(filter_, label):
    assert audience_filter_label(filter_) == label
