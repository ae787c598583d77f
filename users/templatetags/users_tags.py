"""Template filters for profile pages."""

from __future__ import annotations

import orjson
from django import template

register = template.Library()


@register.filter
def attribute_value(value) -> str:
    """A custom attribute as JSON would write it: true/false, arrays with their brackets."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()
