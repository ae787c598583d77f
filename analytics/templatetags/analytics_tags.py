"""The analytics page's chart."""

from django import template

register = template.Library()

CHART_WIDTH, CHART_HEIGHT = 720, 150
SERIES = (("entered", "Entered"), ("synced", "Users Synced"), ("errored", "Users Errored"))


@register.inclusion_tag("analytics/_activity_chart.html")
def activity_chart(series, title: str):
    """An SVG line chart of an ActivitySeries (our own: no chart library, nothing fetched)."""
    count = max(len(series.starts) - 1, 1)
    peak = series.peak

    def points(values: list[int]) -> str:
        return " ".join(
            f"{i * CHART_WIDTH / count:.1f},{CHART_HEIGHT - v * (CHART_HEIGHT - 10) / peak:.1f}"
            for i, v in enumerate(values)
        )

    fmt = "%H:%M" if series.period == "minute" else "%b %d"
    return {
        "title": title,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "peak": peak,
        "lines": [
            {
                "key": key,
                "label": label,
                "points": points(getattr(series, key)),
                "total": series.totals[key],
            }
            for key, label in SERIES
        ],  # fmt: skip
        "first": series.starts[0].strftime(fmt) if series.starts else "",
        "last": series.starts[-1].strftime(fmt) if series.starts else "",
        "period": series.period,
    }
