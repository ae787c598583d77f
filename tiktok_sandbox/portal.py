"""The pages a person sees: the consent page at /portal/auth, Ads Manager > Audiences,
Business Center > Authorizations and Assets, the fault panel and the request log.

No JavaScript: plain forms that POST and redirect (303) back, so every page works in any browser
and in Playwright without waiting for scripts.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from tiktok_sandbox import seed
from tiktok_sandbox.api import API_PREFIX, format_time
from tiktok_sandbox.faults import FAULT_KINDS, FAULT_LABELS, Faults
from tiktok_sandbox.sandbox import Sandbox, new_request_id

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["time"] = lambda epoch: format_time(epoch) + " UTC" if epoch else ""
templates.env.filters["thousands"] = lambda number: f"{number:,}"
templates.env.filters["mask"] = lambda token: token[:6] + "…" + token[-4:]

CANCEL_ERROR = "access_denied"
CANCEL_DESCRIPTION = "The user cancelled the authorization."


def _sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox


def _render(request: Request, name: str, context: dict, status_code: int = 200) -> Response:
    sandbox = _sandbox(request)
    base = {"app_name": sandbox.settings.app_name, "app_id": sandbox.settings.app_id}
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def _same_origin(request: Request) -> bool:
    """Refuse cross-site form posts: another page in the browser must not drive the sandbox."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host")


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def size_label(size: int, threshold: int) -> str:
    # Ads Manager shows a size only from the threshold up (§5.7).
    return f"{size:,}" if size >= threshold else f"< {threshold:,}"


# -- consent page -----------------------------------------------------------------------------


def _consent_problem(sandbox: Sandbox, app_id: str | None, redirect_uri: str | None) -> str | None:
    if not app_id:
        return "The request has no app_id."
    if app_id != sandbox.settings.app_id:
        return f"App {app_id} does not exist or is not available."
    if not redirect_uri:
        return "The request has no redirect_uri."
    if not sandbox.redirect_uri_allowed(redirect_uri):
        return f"The redirect_uri {redirect_uri} is not registered for this app."
    return None


async def consent(request: Request) -> Response:
    """GET /portal/auth?app_id=&state=&redirect_uri=  (docs/TIKTOK_API.md §2.1)."""
    if request.method == "POST":
        return await _consent_decision(request)
    params = request.query_params
    app_id, redirect_uri = params.get("app_id"), params.get("redirect_uri")
    problem = _consent_problem(_sandbox(request), app_id, redirect_uri)
    if problem:
        return _render(request, "consent_error.html", {"problem": problem}, status_code=400)
    form = {"app_id": app_id, "redirect_uri": redirect_uri, "state": params.get("state") or ""}
    # Which sandbox person is "signed in": the consent page lets the tester choose.
    user = seed.USERS_BY_ID.get(params.get("user", ""), seed.OWNER)
    return _consent_page(request, form, user, list(user.default_advertiser_ids), error=None)


def _consent_page(
    request: Request,
    form: dict[str, str],
    user: seed.TikTokUser,
    ticked: list[str],
    error: str | None,
) -> Response:
    centers = []
    for bc in seed.BUSINESS_CENTERS:
        accounts = [a for a in seed.AD_ACCOUNTS if a.bc_id == bc.bc_id]
        accounts = [a for a in accounts if a.advertiser_id in user.advertiser_ids]
        if accounts:
            centers.append({"bc": bc, "accounts": accounts})
    switch_links = {
        u.user_id: "/portal/auth?" + urlencode({**form, "user": u.user_id}) for u in seed.USERS
    }
    context = {
        "form": form,
        "user": user,
        "users": seed.USERS,
        "switch_links": switch_links,
        "centers": centers,
        "ticked": set(ticked),
        "error": error,
    }
    return _render(request, "consent.html", context, status_code=400 if error else 200)


async def _consent_decision(request: Request) -> Response:
    """POST /portal/auth: Confirm or Cancel, then back to the app's redirect_uri."""
    sandbox = _sandbox(request)
    if not _same_origin(request):
        return PlainTextResponse("Cross-site form post refused.", status_code=403)
    posted = await request.form()
    app_id, redirect_uri = _field(posted, "app_id"), _field(posted, "redirect_uri")
    problem = _consent_problem(sandbox, app_id, redirect_uri)
    if problem:
        return _render(request, "consent_error.html", {"problem": problem}, status_code=400)
    state = _field(posted, "state")
    if _field(posted, "decision") != "confirm":
        cancelled = {"error": CANCEL_ERROR, "error_description": CANCEL_DESCRIPTION, "state": state}
        return _redirect_to_app(redirect_uri, cancelled)
    user = seed.USERS_BY_ID.get(_field(posted, "user_id"))
    if user is None:
        return PlainTextResponse("Unknown user.", status_code=400)
    chosen = [a for a in posted.getlist("advertiser_ids") if a in user.advertiser_ids]
    if not chosen:
        form = {"app_id": app_id, "redirect_uri": redirect_uri, "state": state}
        return _consent_page(request, form, user, [], error="Select at least one ad account.")
    code = sandbox.authorize(user_id=user.user_id, advertiser_ids=chosen, redirect_uri=redirect_uri)
    # TikTok sends the code as auth_code and as code (§2.2).
    return _redirect_to_app(redirect_uri, {"auth_code": code, "code": code, "state": state})


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _redirect_to_app(redirect_uri: str, params: dict[str, str]) -> RedirectResponse:
    parts = urlsplit(redirect_uri)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return RedirectResponse(urlunsplit(parts._replace(query=query)), status_code=302)


# -- Ads Manager ------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    sandbox = _sandbox(request)
    return _render(
        request,
        "home.html",
        {
            "accounts": seed.AD_ACCOUNTS,
            "api_base": str(request.base_url).rstrip("/") + API_PREFIX,
            "tokens": sandbox.tokens(),
            "redirect_uris": sandbox.redirect_uris(),
        },
    )


async def ads_manager(request: Request) -> Response:
    return _back(f"/ads/{seed.AD_ACCOUNTS[0].advertiser_id}/audiences/")


async def audience_list(request: Request) -> Response:
    sandbox = _sandbox(request)
    account = seed.AD_ACCOUNTS_BY_ID.get(request.path_params["advertiser_id"])
    if account is None:
        return PlainTextResponse("404 page not found", status_code=404)
    threshold = sandbox.settings.size_threshold
    rows = []
    for audience in sandbox.store.audience_list(account.advertiser_id):
        size = sandbox.audience_size(audience.audience_id)
        rows.append(
            {
                "audience": audience,
                "size": size_label(size, threshold),
                "ready": size >= threshold,
            }
        )
    context = {"account": account, "accounts": seed.AD_ACCOUNTS, "rows": rows}
    return _render(request, "audience_list.html", context)


async def audience_detail(request: Request) -> Response:
    sandbox = _sandbox(request)
    account = seed.AD_ACCOUNTS_BY_ID.get(request.path_params["advertiser_id"])
    audience = sandbox.store.audience_get(request.path_params["audience_id"])
    if account is None or audience is None or audience.advertiser_id != account.advertiser_id:
        return PlainTextResponse("404 page not found", status_code=404)
    size = sandbox.audience_size(audience.audience_id)
    context = {
        "account": account,
        "audience": audience,
        "size": size_label(size, sandbox.settings.size_threshold),
        "ready": size >= sandbox.settings.size_threshold,
        "counts": sandbox.membership.counts(audience.audience_id),
        "events": sandbox.store.audience_events(audience.audience_id),
    }
    return _render(request, "audience_detail.html", context)


async def audience_delete(request: Request) -> Response:
    sandbox = _sandbox(request)
    if not _same_origin(request):
        return PlainTextResponse("Cross-site form post refused.", status_code=403)
    form = await request.form()
    audience = sandbox.store.audience_get(_field(form, "audience_id"))
    if audience is not None and audience.deleted_at is None:
        sandbox.audience_delete(
            audience.audience_id, editor="business_center", request_id=new_request_id(sandbox.now())
        )
    return _back(_field(form, "next") or "/bc/assets/")


# -- Business Center --------------------------------------------------------------------------


async def authorizations(request: Request) -> Response:
    sandbox = _sandbox(request)
    context = {
        "tokens": sandbox.tokens(),
        "users": seed.USERS_BY_ID,
        "accounts": seed.AD_ACCOUNTS_BY_ID,
    }
    return _render(request, "authorizations.html", context)


async def authorization_remove(request: Request) -> Response:
    """Remove access: the whole token (revoke) or one ad account from it."""
    sandbox = _sandbox(request)
    if not _same_origin(request):
        return PlainTextResponse("Cross-site form post refused.", status_code=403)
    form = await request.form()
    token, advertiser_id = _field(form, "token"), _field(form, "advertiser_id")
    if advertiser_id:
        sandbox.token_remove_advertiser(token, advertiser_id)
    else:
        sandbox.token_revoke(token, by="business_center")
    return _back("/bc/authorizations/")


async def assets(request: Request) -> Response:
    sandbox = _sandbox(request)
    threshold = sandbox.settings.size_threshold
    centers = []
    for bc in seed.BUSINESS_CENTERS:
        accounts = []
        for account in (a for a in seed.AD_ACCOUNTS if a.bc_id == bc.bc_id):
            audiences = [
                {
                    "audience": audience,
                    "size": size_label(sandbox.audience_size(audience.audience_id), threshold),
                }
                for audience in sandbox.store.audience_list(account.advertiser_id)
            ]
            accounts.append({"account": account, "audiences": audiences})
        centers.append({"bc": bc, "accounts": accounts})
    return _render(request, "assets.html", {"centers": centers})


# -- sandbox tools ----------------------------------------------------------------------------


async def fault_panel(request: Request) -> Response:
    sandbox = _sandbox(request)
    error = None
    if request.method == "POST":
        if not _same_origin(request):
            return PlainTextResponse("Cross-site form post refused.", status_code=403)
        form = await request.form()
        if _field(form, "clear"):
            sandbox.faults_set(Faults())
            return _back("/sandbox/faults/")
        if _field(form, "reset_stats"):
            sandbox.traffic.reset()
            return _back("/sandbox/faults/")
        try:
            sandbox.faults_set(_faults_from_form(form))
            return _back("/sandbox/faults/")
        except ValueError as exc:
            error = str(exc)
    stats = sandbox.traffic.stats(sandbox.now(), sandbox.qps_limit)
    peak = max([s["requests"] for s in stats["mapping"]["per_second"]] + [sandbox.qps_limit])
    context = {
        "faults": sandbox.faults,
        "kinds": FAULT_KINDS,
        "labels": FAULT_LABELS,
        "default_qps_limit": sandbox.settings.qps_limit,
        "qps_limit": sandbox.qps_limit,
        "stats": stats,
        "peak": peak,
        "error": error,
    }
    return _render(request, "faults.html", context, status_code=400 if error else 200)


def _faults_from_form(form: FormData) -> Faults:
    def number(name: str, default: float = 0.0) -> float:
        raw = _field(form, name).strip()
        try:
            return float(raw) if raw else default
        except ValueError:
            raise ValueError(f"{name}: not a number") from None

    qps_raw = _field(form, "qps_limit").strip()
    return Faults.from_dict(
        {
            "probabilities": {kind: number(f"p_{kind}") for kind in FAULT_KINDS},
            "latency_ms": int(number("latency_ms")),
            "timeout_seconds": number("timeout_seconds", 30.0),
            "audience_not_ready_seconds": number("audience_not_ready_seconds"),
            "qps_limit": int(qps_raw) if qps_raw.isdigit() and int(qps_raw) > 0 else None,
            "endpoints": [e.strip() for e in _field(form, "endpoints").split(",") if e.strip()],
            "script": [s.strip() for s in _field(form, "script").split(",") if s.strip()],
        }
    )


async def request_log(request: Request) -> Response:
    sandbox = _sandbox(request)
    endpoint = request.query_params.get("endpoint") or None
    entries = [e for e in reversed(sandbox.traffic.log) if endpoint in (None, e.endpoint)]
    refresh = request.query_params.get("refresh")
    context = {
        "entries": entries[:300],
        "endpoint": endpoint,
        "endpoints": sorted({e.endpoint for e in sandbox.traffic.log}),
        "refresh": int(refresh) if refresh and refresh.isdigit() else None,
        "stats": sandbox.traffic.stats(sandbox.now(), sandbox.qps_limit),
    }
    return _render(request, "requests.html", context)


def routes() -> list[Route]:
    return [
        Route("/", home),
        Route("/portal/auth", consent, methods=["GET", "POST"]),
        Route("/ads/", ads_manager),
        Route("/ads/{advertiser_id}/audiences/", audience_list),
        Route("/ads/{advertiser_id}/audiences/{audience_id}/", audience_detail),
        Route("/bc/authorizations/", authorizations),
        Route("/bc/authorizations/remove/", authorization_remove, methods=["POST"]),
        Route("/bc/assets/", assets),
        Route("/bc/assets/delete_audience/", audience_delete, methods=["POST"]),
        Route("/sandbox/faults/", fault_panel, methods=["GET", "POST"]),
        Route("/sandbox/requests/", request_log),
    ]
