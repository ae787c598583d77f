from __future__ import annotations

from datetime import datetime

from django import template

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    """12 s, 4 min 10 s, 3 h 5 min, 2 d 4 h: ages on a page that refreshes every 5 s."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@register.filter
def ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    return f"{duration(max((now - moment).total_seconds(), 0))} ago"
