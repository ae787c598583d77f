"""Template filters for profile pages."""

from __future__ import annotations

import orjson
from django import template

from users.identifiers import invalid_reason_text

register = template.Library()


@register.filter
def attribute_value(value) -> str:
    """A custom attribute as JSON would write it: true/false, arrays with their brackets."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


@register.filter
def invalid_reason(reason: str) -> str:
    """Why an identifier cannot be matched (stored in English), in the active language."""
    return invalid_reason_text(reason)
