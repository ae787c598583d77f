"""Settings > APIs and Identifiers: REST API keys (Admins create and revoke; everyone sees)."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from appgroups.decorators import app_group_required
from appgroups.forms import ApiKeyCreateForm
from appgroups.models import Permission, RestApiKey
from appgroups.selectors.api_keys import api_key_list
from appgroups.services import membership_require
from appgroups.services.api_keys import api_key_create, api_key_revoke

# Form nonces already used in this session: a reloaded or double-clicked POST must not create a
# second key (the secret is shown in the POST's answer, so there is no redirect to reload).
USED_NONCES_SESSION_KEY = "api_key_form_nonces"
USED_NONCES_KEPT = 20


@never_cache
@app_group_required()
def api_settings(request):
    created = secret = None
    if request.method == "POST":
        membership_require(request.membership, Permission.MANAGE_API_KEYS)
        form = ApiKeyCreateForm(request.POST)
        used = request.session.get(USED_NONCES_SESSION_KEY, [])
        nonce = request.POST.get("nonce", "")
        if nonce and nonce in used:
            messages.info(request, _("This key was already created; its secret was shown then."))
            form = ApiKeyCreateForm()
        elif form.is_valid():
            try:
                created, secret = api_key_create(actor=request.membership, **form.cleaned_data)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                if nonce:
                    request.session[USED_NONCES_SESSION_KEY] = [*used, nonce][-USED_NONCES_KEPT:]
                form = ApiKeyCreateForm()
    else:
        form = ApiKeyCreateForm()
    context = {
        "form": form,
        "nonce": secrets.token_urlsafe(16),
        "api_keys": api_key_list(app_group=request.app_group),
        # The secret is rendered into this one response and stored nowhere (never_cache).
        "created_key": created,
        "created_secret": secret,
        "api_base_url": request.build_absolute_uri("/api"),
        "can_manage": request.membership.has_permission(Permission.MANAGE_API_KEYS),
    }
    return render(request, "appgroups/api_settings.html", context)


@require_POST
@app_group_required(Permission.MANAGE_API_KEYS)
def api_key_revoke_view(request, api_key_id: int):
    try:
        api_key = api_key_revoke(actor=request.membership, api_key_id=api_key_id)
    except RestApiKey.DoesNotExist as exc:
        raise Http404("No such API key") from exc
    messages.success(
        request, _("API key “%(name)s” is revoked: it no longer works.") % {"name": api_key.name}
    )
    return redirect("appgroups:api-settings")
