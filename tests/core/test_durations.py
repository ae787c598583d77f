"""A configured length of time in the unit a person would say it in."""

import pytest

from core.durations import duration_words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 seconds"),
        (1, "1 second"),
        (30, "30 seconds"),
        (119, "119 seconds"),
        (120, "2 minutes"),
        (61 * 60, "61 minutes"),
        (150, "about 2 minutes"),
        (2 * 3600, "2 hours"),
        (13 * 3600, "13 hours"),
        (13 * 3600 + 1, "about 13 hours"),
        (3600 * 24 * 2, "48 hours"),
    ],
)
def test_duration_words(seconds, words):
    assert duration_words(seconds) == words
