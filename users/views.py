"""Audience > Users (search, profile) and Audience > Import Users (CSV upload and report)."""

from __future__ import annotations

import csv

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from appgroups.decorators import app_group_required
from appgroups.models import Permission
from core.ids import parse_id
from users import tasks
from users.csv_import.lifecycle import report_rows, user_import_create
from users.forms import UserImportForm
from users.hooks import canvas_history_for
from users.models import Profile, UserImport
from users.selectors.imports import user_import_get, user_import_issues, user_import_list
from users.selectors.profiles import (
    PAGE_SIZE,
    profile_activities,
    profile_devices,
    profile_get,
    profile_page,
    profile_search,
)


@require_http_methods(["GET", "POST"])
@app_group_required()
def user_list(request):
    # The search is a POST: an email or phone in a query string would be written to every
    # web server and proxy access log (docs/ARCHITECTURE.md D14: no raw email or phone in logs).
    # NUL matches nothing stored (and PostgreSQL refuses it in a query).
    query = request.POST.get("q", "").replace("\x00", "").strip()[:255]
    before = request.GET.get("before", "")
    if query:
        profiles = profile_search(app_group=request.app_group, query=query)
        next_before = None
    else:
        before_id = parse_id(before)
        profiles = profile_page(app_group=request.app_group, before_id=before_id)
        next_before = profiles[-1].id if len(profiles) == PAGE_SIZE else None
    context = {
        "query": query,
        "profiles": profiles,
        "next_before": next_before,
        "paged": bool(before) and not query,
        "can_import": request.membership.has_permission(Permission.MANAGE_USERS),
    }
    return render(request, "users/user_list.html", context)


@require_GET
@app_group_required()
def user_detail(request, profile_id: int):
    try:
        profile = profile_get(app_group=request.app_group, profile_id=profile_id)
    except Profile.DoesNotExist as exc:
        raise Http404("No such user") from exc
    activities = profile_activities(profile=profile)
    context = {
        "profile": profile,
        "devices": profile_devices(profile=profile),
        "events": [a for a in activities if a.kind == "event"],
        "purchases": [a for a in activities if a.kind == "purchase"],
        "custom_attributes": sorted(profile.custom_attributes.items()),
        "canvas_history": canvas_history_for(profile),
    }
    return render(request, "users/user_detail.html", context)


@require_http_methods(["GET", "POST"])
@app_group_required(Permission.MANAGE_USERS)
def user_import(request):
    if request.method == "POST":
        form = UserImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                created = user_import_create(
                    actor=request.membership, file_name=upload.name, chunks=upload.chunks()
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                # Queued once the stored file is committed, so the worker finds it.
                transaction.on_commit(lambda: tasks.user_import_run.delay(created.pk))
                return redirect("users:user-import-detail", user_import_id=created.id)
    else:
        form = UserImportForm()
    context = {"form": form, "imports": user_import_list(app_group=request.app_group)}
    return render(request, "users/user_import.html", context)


def _import_or_404(request, user_import_id: int) -> UserImport:
    try:
        return user_import_get(app_group=request.app_group, user_import_id=user_import_id)
    except UserImport.DoesNotExist as exc:
        raise Http404("No such import") from exc


@require_GET
@app_group_required(Permission.MANAGE_USERS)
def user_import_detail(request, user_import_id: int):
    user_import = _import_or_404(request, user_import_id)
    context = {
        "user_import": user_import,
        "issues": user_import_issues(user_import=user_import) if user_import.is_finished else [],
    }
    # htmx polls the progress panel alone; the full page works without JavaScript.
    template = (
        "users/_user_import_progress.html" if request.htmx else "users/user_import_detail.html"
    )
    return render(request, template, context)


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@app_group_required(Permission.MANAGE_USERS)
def user_import_report(request, user_import_id: int):
    """Rejected rows and unusable values as CSV, streamed."""
    user_import = _import_or_404(request, user_import_id)
    writer = csv.writer(_Echo())
    rows = report_rows(user_import_issues(user_import=user_import, limit=None))
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    name = f"import-{user_import.id}-report.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
