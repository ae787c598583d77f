"""A custom-attribute filter whose text spells a number no JSON attribute can hold is compared
as text, on every database (it used to break the query and, with it, the engine)."""

import pytest

from canvas.audience import audience_filter_q, audience_filters_clean
from tests.factories import profile_track
from users.models import Profile

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("text", ["1e5000", "1e400", "9223372036854775808", "-1e309"])
def test_huge_numbers_are_compared_as_text(app_group, text):
    profile_track(app_group, external_id="big", plan=text)
    profile_track(app_group, external_id="other", plan="gold")
    filters = audience_filters_clean(
        [{"field": "custom_attribute", "op": "equals", "key": "plan", "value": text}]
    )

    matching = Profile.objects.filter(app_group=app_group).filter(audience_filter_q(filters))

    assert list(matching.values_list("external_id", flat=True)) == ["big"]


def test_ordinary_numbers_still_match_numbers(app_group):
    profile_track(app_group, external_id="three", visits=3)
    filters = audience_filters_clean(
        [{"field": "custom_attribute", "op": "equals", "key": "visits", "value": "3"}]
    )

    assert Profile.objects.filter(audience_filter_q(filters)).get().external_id == "three"
