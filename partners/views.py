from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from appgroups.decorators import app_group_required
from appgroups.middleware import SESSION_KEY
from appgroups.models import Permission
from partners import catalog, selectors, services
from partners.forms import AdAccountPickerForm
from partners.models import TikTokAdAccount, TikTokConnection
from partners.tiktok.client import TikTokError

ATTEMPT_SESSION_KEY = "tiktok_oauth_attempt"


def _tiktok_unreachable(exc: TikTokError) -> str:
    """TikTok's failure, its code and message as TikTok sent them, in a sentence."""
    if exc.code is not None:
        # Translators: TikTok's error code and message follow, as TikTok sent them.
        error = _("TikTok code %(code)s: %(message)s") % {"code": exc.code, "message": exc.message}
    else:
        error = f"TikTok: {exc.message}"
    return _("TikTok could not be reached (%(error)s). Please try again in a moment.") % {
        "error": error
    }


@app_group_required()
def technology_partners(request):
    query = request.GET.get("q", "").strip()
    connection = selectors.tiktok_connection_get(app_group=request.app_group)
    return render(
        request,
        "partners/technology_partners.html",
        {
            "partners": catalog.partner_tiles(query=query, tiktok_connection=connection),
            "query": query,
        },
    )


@app_group_required()
def tiktok_page(request):
    app_group = request.app_group
    connection = selectors.tiktok_connection_get(app_group=app_group)
    return render(
        request,
        "partners/tiktok.html",
        {
            "connection": connection,
            "ad_accounts": selectors.tiktok_ad_account_list(app_group=app_group, active_only=True),
            "problems": selectors.tiktok_problems(app_group=app_group),
            "can_manage": request.membership.has_permission(Permission.MANAGE_PARTNERS),
            "is_configured": services.tiktok_client().is_configured,
        },
    )


def _redirect_uri(request) -> str:
    return settings.TIKTOK_REDIRECT_URI or request.build_absolute_uri(
        reverse("partners:tiktok-callback")
    )


@require_POST
@app_group_required(Permission.MANAGE_PARTNERS)
def tiktok_connect(request):
    """Connect TikTok and Change Account both start a trip to TikTok's consent page."""
    try:
        url = services.tiktok_oauth_start(
            actor=request.membership, redirect_uri=_redirect_uri(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("partners:tiktok")
    return redirect(url)


def tiktok_callback(request):
    """TikTok sends the browser back here after Confirm (auth_code) or Cancel (error)."""
    state = request.GET.get("state", "")
    # OAuthStateError (a PermissionDenied) answers 403 and nothing is stored.
    if request.GET.get("error") or request.GET.get("error_code"):
        attempt = services.tiktok_oauth_cancel(user=request.user, state=state)
        request.session[SESSION_KEY] = attempt.app_group_id
        messages.warning(request, _("TikTok was not connected: the authorization was cancelled."))
        return redirect("partners:tiktok")
    auth_code = request.GET.get("auth_code") or request.GET.get("code", "")
    try:
        attempt = services.tiktok_oauth_complete(
            user=request.user, state=state, auth_code=auth_code,
            redirect_uri=_redirect_uri(request),
        )  # fmt: skip
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("partners:tiktok")
    except TikTokError as exc:
        messages.error(request, _tiktok_unreachable(exc))
        return redirect("partners:tiktok")
    request.session[SESSION_KEY] = attempt.app_group_id
    request.session[ATTEMPT_SESSION_KEY] = attempt.pk
    return redirect("partners:tiktok-accounts")


@app_group_required(Permission.MANAGE_PARTNERS)
def tiktok_ad_account_picker(request):
    attempt = selectors.tiktok_attempt_for_picker(
        user=request.user,
        app_group=request.app_group,
        attempt_id=request.session.get(ATTEMPT_SESSION_KEY),
    )
    if attempt is None:
        messages.warning(request, _("That TikTok authorization has expired. Connect TikTok again."))
        return redirect("partners:tiktok")
    form = AdAccountPickerForm(request.POST or None, advertisers=attempt.advertisers)
    if request.method == "POST" and form.is_valid():
        try:
            services.tiktok_connection_save(
                actor=request.membership,
                attempt=attempt,
                advertiser_ids=form.cleaned_data["advertiser_ids"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            request.session.pop(ATTEMPT_SESSION_KEY, None)
            count = len(form.cleaned_data["advertiser_ids"])
            messages.success(
                request,
                ngettext(
                    "You successfully connected %(count)d TikTok account.",
                    "You successfully connected %(count)d TikTok accounts.",
                    count,
                )
                % {"count": count},
            )
            return redirect("partners:tiktok")
    return render(
        request, "partners/tiktok_ad_account_picker.html", {"form": form, "attempt": attempt}
    )


@require_POST
@app_group_required(Permission.MANAGE_PARTNERS)
def tiktok_ad_account_disconnect(request, pk: int):
    try:
        ad_account = services.tiktok_ad_account_disconnect(
            actor=request.membership, ad_account_id=pk
        )
    except TikTokAdAccount.DoesNotExist as exc:
        raise Http404("No such ad account") from exc
    messages.success(
        request, _("Disconnected the ad account %(name)s.") % {"name": ad_account.name}
    )
    return redirect("partners:tiktok")


@require_POST
@app_group_required(Permission.MANAGE_PARTNERS)
def tiktok_disconnect(request):
    try:
        services.tiktok_disconnect(actor=request.membership)
    except TikTokConnection.DoesNotExist as exc:
        raise Http404("TikTok is not connected") from exc
    messages.success(request, _("TikTok is disconnected and its access token revoked."))
    return redirect("partners:tiktok")


@require_POST
@app_group_required(Permission.MANAGE_PARTNERS)
def tiktok_check(request):
    try:
        services.tiktok_connection_check_by(actor=request.membership)
    except TikTokConnection.DoesNotExist as exc:
        raise Http404("TikTok is not connected") from exc
    if selectors.tiktok_problems(app_group=request.app_group):
        messages.error(request, _("The TikTok connection has a problem: see below."))
    else:
        messages.success(request, _("The TikTok connection works."))
    return redirect("partners:tiktok")
