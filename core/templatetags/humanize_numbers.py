from django import template
from django.conf import settings

from core.durations import duration_words
from core.i18n import number_grouped

register = template.Library()


@register.filter
def intcomma_plain(value) -> str:
    """12345 → "12,345" in English, "12.345" in German, "12 345" in French: grouped the way
    the active language writes numbers (Django's locale formats)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return "0" if value in (None, "") else str(value)
    return number_grouped(number)


@register.simple_tag
def retry_window() -> str:
    """The sync's retry window as configured (AUDIENCE_SYNC_RETRY_WINDOW_SECONDS), in words."""
    return duration_words(settings.AUDIENCE_SYNC_RETRY_WINDOW_SECONDS)
