"""Puts the signed-in user's language and current app group on every request."""

from __future__ import annotations

from django.utils import translation

from appgroups.selectors import membership_for_user, membership_list_for_user

SESSION_KEY = "app_group_id"


class UserLanguageMiddleware:
    """A signed-in user's own language (the user menu's choice) wins over the browser's.

    LocaleMiddleware, earlier in the chain, has already activated the language from the
    sign-in page's cookie or Accept-Language; it runs before authentication, so the user's
    stored choice is applied here. Its response handling then labels the answer with the
    language used (Content-Language).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


class CurrentAppGroupMiddleware:
    """Set `request.membership` and `request.app_group` for signed-in users.

    The choice is kept in the session (the header's switcher changes it). A stale choice (the
    membership was removed) falls back to the user's first app group; a user with no app group
    gets None, and views decorated with `app_group_required` explain that.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = None
        request.app_group = None
        if request.user.is_authenticated:
            membership = membership_for_user(
                user=request.user, app_group_id=request.session.get(SESSION_KEY)
            )
            if membership is None:
                membership = membership_list_for_user(user=request.user).first()
                if membership is not None:
                    request.session[SESSION_KEY] = membership.app_group_id
            request.membership = membership
            request.app_group = membership.app_group if membership else None
        return self.get_response(request)
