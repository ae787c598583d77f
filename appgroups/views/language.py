"""The Language select: the sign-in page's switch and the user menu's choice (issue 16)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from appgroups.services.language import user_language_set


@login_not_required
@require_POST
def language_set(request):
    """Remember the chosen language and go back to the page it was chosen on.

    Django's set_language gives everyone the language cookie, which LocaleMiddleware reads
    before sign-in (so the sign-in page keeps the language after signing out), and refuses an
    off-site `next`. A signed-in user's choice is also stored on the user, where it wins over
    the browser on every device. An unknown language changes nothing: the select only offers
    settings.LANGUAGES.
    """
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        user_language_set(user=request.user, language=language)
    return set_language(request)
