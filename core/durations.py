"""A length of time in the unit a person would say it in ("30 seconds", "13 hours").

For texts that name a configured window (the sync's retry window): they must state the one
the product runs with, not the default's "about 13 hours"."""

from __future__ import annotations

from django.utils.translation import gettext, ngettext

MINUTE, HOUR = 60, 60 * 60


def duration_words(seconds: int | float) -> str:
    """Seconds under two minutes, minutes under two hours, hours beyond; "about" when the
    length is not a whole number of that unit."""
    seconds = max(round(seconds), 0)
    if seconds < 2 * MINUTE:
        return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    unit = MINUTE if seconds < 2 * HOUR else HOUR
    count = round(seconds / unit)
    if unit == MINUTE:
        words = ngettext("%(count)d minute", "%(count)d minutes", count) % {"count": count}
    else:
        words = ngettext("%(count)d hour", "%(count)d hours", count) % {"count": count}
    if seconds % unit:
        return gettext("about %(duration)s") % {"duration": words}
    return words
