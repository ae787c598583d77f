from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from appgroups.decorators import app_group_required
from appgroups.forms import AppGroupSettingsForm
from appgroups.middleware import SESSION_KEY
from appgroups.models import AppGroup, Permission
from appgroups.selectors import membership_for_user
from appgroups.services import app_group_settings_update, membership_require
from appgroups.signals import workspace_settings_notices
from core.ids import parse_id


@app_group_required()
def home(request):
    return render(request, "appgroups/home.html")


@require_POST
def app_group_switch(request):
    app_group_id = parse_id(request.POST.get("app_group", ""))
    membership = membership_for_user(user=request.user, app_group_id=app_group_id)
    if membership is None:
        # Another group's id looks exactly like an id that does not exist.
        raise Http404("No such app group")
    request.session[SESSION_KEY] = membership.app_group_id
    messages.info(request, _("Switched to %(name)s.") % {"name": membership.app_group.name})
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "home"
    return redirect(next_url)


@app_group_required()
def app_group_settings(request):
    """Every member sees the settings (as in Braze); only Admins change them."""
    app_group = request.app_group
    can_manage = request.membership.has_permission(Permission.MANAGE_SETTINGS)
    if request.method == "POST":
        membership_require(request.membership, Permission.MANAGE_SETTINGS)
        form = AppGroupSettingsForm(request.POST)
        if form.is_valid():
            try:
                app_group_settings_update(actor=request.membership, **form.cleaned_data)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, _("Workspace settings saved."))
                return redirect("appgroups:settings")
    else:
        form = AppGroupSettingsForm(
            initial={"name": app_group.name, "default_country": app_group.default_country}
        )
        if not can_manage:
            for field in form.fields.values():
                field.disabled = True
    # Work a settings change started elsewhere (re-reading phone numbers, in users): while any is
    # in progress the notices refresh themselves with htmx (hx-select on this same page).
    notices = [
        notice
        for _receiver, notice in workspace_settings_notices.send(
            sender=AppGroup, app_group=app_group
        )
        if notice is not None
    ]
    return render(
        request,
        "appgroups/settings.html",
        {
            "form": form,
            "notices": notices,
            "notices_in_progress": any(notice.in_progress for notice in notices),
            "can_manage": can_manage,
        },
    )


def permission_denied(request, exception=None):
    """The "Limited access" page (handler403)."""
    reason = str(exception) if isinstance(exception, PermissionDenied) and str(exception) else ""
    return render(request, "403.html", {"reason": reason}, status=403)
