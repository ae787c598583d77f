from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from appgroups.decorators import app_group_required
from notifications import selectors, services

PAGE_SIZE = 50


@app_group_required()
def notification_list(request):
    notifications = selectors.notification_list(user=request.user, app_group=request.app_group)
    page = Paginator(notifications, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "notifications/notification_list.html", {"page": page})


@require_POST
@app_group_required()
def notification_read(request, pk: int):
    # Another user's (or app group's) notification is not found, like any unknown id.
    notification = get_object_or_404(
        selectors.notification_list(user=request.user, app_group=request.app_group), pk=pk
    )
    services.notification_mark_read(actor=request.membership, notification=notification)
    return redirect("notifications:list")


@require_POST
@app_group_required()
def notifications_read_all(request):
    services.notifications_mark_all_read(actor=request.membership)
    return redirect("notifications:list")
