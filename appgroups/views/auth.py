"""The sign-in page, with failed sign-ins rate limited per email and per client address."""

from __future__ import annotations

import math

from django.contrib.auth import views as auth_views

from appgroups.loginlimit import client_address, login_attempt_begin, login_attempt_succeeded


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
            form = self.get_form_class()(request, initial={"username": email[:254]})
            context = self.get_context_data(
                form=form,
                locked_out=True,
                retry_after_minutes=math.ceil(attempt.retry_after_seconds / 60),
            )
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(attempt.retry_after_seconds)
            return response
        form = self.get_form()
        if form.is_valid():
            login_attempt_succeeded(attempt)
            return self.form_valid(form)
        return self.form_invalid(form)


login = LoginView.as_view()
