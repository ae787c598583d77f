"""The sign-in pages, the dashboard's and Django admin's, with failed sign-ins rate limited per
email and per client address (appgroups.loginlimit: both pages share the counters)."""

from __future__ import annotations

import math

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache

from appgroups.loginlimit import client_address, login_attempt_begin, login_attempt_succeeded


def locked_out_message(minutes: int) -> str:
    # The words of templates/registration/login.html's refusal.
    return ngettext(
        "Too many failed sign-ins. Signing in is paused for a while: "
        "please try again in %(minutes)s minute.",
        "Too many failed sign-ins. Signing in is paused for a while: "
        "please try again in %(minutes)s minutes.",
        minutes,
    ) % {"minutes": minutes}


class LoginView(auth_views.LoginView):
    """Django's LoginView; a sign-in over the limit answers 429 with the form and a message.

    The refusal does not check the password and reads the same whether or not an account has
    that email (appgroups.loginlimit).
    """

    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        email = request.POST.get("username", "")
        attempt = login_attempt_begin(email=email, address=client_address(request))
        if not attempt.allowed:
            return self.locked_out(email, attempt.retry_after_seconds)
        form = self.get_form()
        if form.is_valid():
            login_attempt_succeeded(attempt)
            return self.form_valid(form)
        return self.form_invalid(form)

    def locked_out(self, email: str, retry_after_seconds: int):
        """429 with an unbound form (the password is never checked) and the message: the
        dashboard's template shows it for `locked_out`, Django admin's as the form's error."""
        minutes = math.ceil(retry_after_seconds / 60)
        form = self.get_form_class()(self.request, initial={"username": email[:254]})
        # An unbound form runs no validation (so never authenticate()); add_error needs the
        # cleaned_data that validation would have made.
        form.cleaned_data = {}
        form.add_error(None, locked_out_message(minutes))
        context = self.get_context_data(form=form, locked_out=True, retry_after_minutes=minutes)
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(retry_after_seconds)
        return response


login = LoginView.as_view()


class AdminLoginView(LoginView):
    """Django admin's sign-in form and page, on the same limiter and counters."""

    # As AdminSite.login: a signed-in user without admin access sees the form, to switch.
    redirect_authenticated_user = False


@never_cache
@login_not_required
def admin_login(request):
    """Django admin's sign-in (AdminSite.login, Django 5.2) with AdminLoginView.

    braze_sync/urls.py routes /admin/login/ here ahead of admin.site.urls, so reverse(
    "admin:login") and the admin's redirects of anonymous users land on this view.
    """
    site = admin.site
    if request.method == "GET" and site.has_permission(request):
        return HttpResponseRedirect(reverse("admin:index", current_app=site.name))

    from django.contrib.admin.forms import AdminAuthenticationForm

    context = {
        **site.each_context(request),
        "title": _("Log in"),
        "subtitle": None,
        "app_path": request.get_full_path(),
        "username": request.user.get_username(),
    }
    if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
        context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=site.name)
    request.current_app = site.name
    return AdminLoginView.as_view(
        extra_context=context,
        authentication_form=site.login_form or AdminAuthenticationForm,
        template_name=site.login_template or "admin/login.html",
    )(request)
