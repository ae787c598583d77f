from django import template
from django.conf import settings

from core.durations import duration_words

register = template.Library()


@register.filter
def intcomma_plain(value) -> str:
    """12345 → "12,345" (without django.contrib.humanize's locale machinery)."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return "0" if value in (None, "") else str(value)


@register.simple_tag
def retry_window() -> str:
    """The sync's retry window as configured (AUDIENCE_SYNC_RETRY_WINDOW_SECONDS), in words."""
    return duration_words(settings.AUDIENCE_SYNC_RETRY_WINDOW_SECONDS)
