"""The analytics page's chart, and its stored texts in the reader's language."""

from django import template
from django.utils import formats
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from analytics.wording import not_synced_reason_text, sync_message_text
from core.i18n import number_grouped

register = template.Library()

CHART_WIDTH, CHART_HEIGHT = 720, 150
# Braze's metric names.
SERIES = (("entered", _("Entered")), ("synced", _("Users Synced")), ("errored", _("Users Errored")))


@register.inclusion_tag("analytics/_activity_chart.html")
def activity_chart(series, title: str):
    """An SVG line chart of an ActivitySeries (our own: no chart library, nothing fetched).
    Drawn here, so its figures and dates are written in the active language."""
    count = max(len(series.starts) - 1, 1)
    peak = series.peak

    def points(values: list[int]) -> str:
        return " ".join(
            f"{i * CHART_WIDTH / count:.1f},{CHART_HEIGHT - v * (CHART_HEIGHT - 10) / peak:.1f}"
            for i, v in enumerate(values)
        )

    if series.period == "minute":
        fmt = "H:i"
    else:
        # Translators: the day under the analytics chart, in Django's date format ("M d":
        # "Jan 05"); reorder it as your language writes a short day and month.
        fmt = pgettext("chart day", "M d")
    return {
        "title": title,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "peak": number_grouped(peak),
        "lines": [
            {
                "key": key,
                "label": label,
                "points": points(getattr(series, key)),
                "total": series.totals[key],
                "total_text": number_grouped(series.totals[key]),
            }
            for key, label in SERIES
        ],  # fmt: skip
        "first": formats.date_format(series.starts[0], fmt) if series.starts else "",
        "last": formats.date_format(series.starts[-1], fmt) if series.starts else "",
        "period": series.period,
    }


@register.filter
def not_synced_reason(stored: str) -> str:
    """A stored Not Synced reason ("No Email or Phone") in the active language."""
    return not_synced_reason_text(stored)


@register.filter
def sync_message(stored: str) -> str:
    """A step's last error or a sync-log message: ours translated, TikTok's as it sent them."""
    return sync_message_text(stored)
