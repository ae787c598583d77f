"""A dashboard user's language (the user menu's choice)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from appgroups.models import User


def user_language_set(*, user: User, language: str) -> User:
    """Store ``language`` ('' = the browser's) as the language ``user`` reads the dashboard in."""
    if language and language not in dict(settings.LANGUAGES):
        raise ValidationError(_("Choose one of the languages offered."), code="invalid")
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return user
