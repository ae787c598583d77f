"""The dashboard's languages: which one a person reads (issue 16).

LocaleMiddleware picks the language from the browser's Accept-Language (or the sign-in page's
switch, a cookie) before sign-in; after sign-in the user's own choice (``User.language``, set in
the user menu) wins. Text written for one person outside a request, such as a notification or its
email, is rendered in that person's language with ``translation.override(language_for(user))``.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import get_supported_language_variant


def language_for(user) -> str:
    """The language to write to ``user`` in: their choice, else the site's default."""
    chosen = getattr(user, "language", "") or ""
    if chosen:
        try:
            return get_supported_language_variant(chosen)
        except LookupError:
            pass
    return settings.LANGUAGE_CODE


def number_grouped(value: int) -> str:
    """12345 as the active language groups it: "12,345", "12.345", "12 345"."""
    return number_format(value, force_grouping=True)
