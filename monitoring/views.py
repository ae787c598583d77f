from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from appgroups.decorators import app_group_required
from appgroups.models import Permission
from monitoring import health, selectors
from monitoring.metrics import metrics_text


@app_group_required(Permission.MANAGE_SETTINGS)
def sync_status(request: HttpRequest) -> HttpResponse:
    """Settings > Sync Status: what the sync is doing, for Admins. Refreshes every 5 s."""
    now = timezone.now()
    context = {
        "now": now,
        "connections": selectors.sync_status(app_group=request.app_group, now=now),
        "workers": selectors.workers_status(now=now),
        "flush": selectors.flush_last_run(),
        "broker_queue_length": selectors.broker_queue_length(),
        "deployment": selectors.deployment_request_rate(now=now),
        "rate_limit": selectors.rate_limit(),
        "worker_alive_seconds": selectors.WORKER_ALIVE_SECONDS,
        "due_count_cap": selectors.DUE_COUNT_CAP,
    }
    template = (
        "monitoring/_sync_status_body.html" if request.htmx else "monitoring/sync_status.html"
    )
    return render(request, template, context)


def _metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(header.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)


@login_not_required
@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus scrape endpoint: a bearer token (METRICS_TOKEN) or an allowed client
    network (METRICS_ALLOWED_NETWORKS); everyone else gets 403 and nothing else."""
    if not _metrics_allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """Database and broker reachability for load balancers and `make run` users."""
    checks = {"database": health.check_database(), "broker": health.check_broker()}
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )
