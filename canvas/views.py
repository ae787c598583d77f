"""Messaging > Canvas: the list, the builder's tabs, the flow and its step editors.

Views parse, call a service or selector, and render. Flow actions answer htmx requests with
the builder's workspace (flow + editor) and plain posts with a redirect, so every button
works without JavaScript too.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST
from django_htmx.http import push_url

from appgroups.decorators import app_group_required
from appgroups.models import Permission
from canvas import audience_picker, launch, selectors, services
from canvas.audience import audience_filter_labels
from canvas.forms import (
    SCHEDULE_AT_LAUNCH,
    SCHEDULE_AT_TIME,
    AudienceSyncForm,
    CanvasBasicsForm,
    CanvasEntryForm,
    DelayForm,
    FilterAddForm,
    MessageForm,
    StepNameForm,
    TargetAudienceForm,
)
from canvas.models import (
    Branch,
    Canvas,
    CanvasState,
    EntryType,
    MatchField,
    Step,
    StepType,
    SyncAction,
)
from partners.catalog import AUDIENCE_SYNC_PARTNERS
from partners.models import AudienceStatus
from partners.selectors import tiktok_connection_get, tiktok_problems
from partners.tiktok.health import connection_health

NOTICE_SESSION_KEY = "canvas_editor_notice"
TABS = [
    ("basics", gettext_lazy("Basics")),
    ("entry", gettext_lazy("Entry Schedule")),
    ("audience", gettext_lazy("Target Audience")),
    ("build", gettext_lazy("Build Canvas")),
    ("summary", gettext_lazy("Summary")),
]


def _can_manage(request) -> bool:
    return request.membership.has_permission(Permission.MANAGE_CANVASES)


def _require_manage(request) -> None:
    if not _can_manage(request):
        raise PermissionDenied(_("Your role does not allow this: build, launch and stop canvases."))


def _canvas(request, pk: int) -> Canvas:
    try:
        return selectors.canvas_get(app_group=request.app_group, canvas_id=pk)
    except Canvas.DoesNotExist as exc:
        raise Http404("No such Canvas") from exc


def _step(canvas: Canvas, step_id: int) -> Step:
    try:
        return selectors.step_get(canvas=canvas, step_id=step_id)
    except Step.DoesNotExist as exc:
        raise Http404("No such step") from exc


def _add_errors(form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: keyed messages on their fields when the
    form has them, everything else on top."""
    if hasattr(exc, "error_dict"):
        for key, errors in exc.message_dict.items():
            form.add_error(key if key in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _errors_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _builder_context(request, canvas: Canvas, tab: str) -> dict:
    can_manage = _can_manage(request)
    uses_tiktok = selectors.canvas_uses_tiktok(canvas=canvas)
    problems = []
    if canvas.state == CanvasState.ACTIVE and uses_tiktok:
        # docs/ARCHITECTURE.md D7: every active Canvas that uses a broken connection says so.
        problems = tiktok_problems(app_group=request.app_group)
    return {
        "canvas": canvas,
        "tab": tab,
        "tabs": TABS,
        "can_manage": can_manage,
        "editable": can_manage and canvas.state != CanvasState.ARCHIVED,
        "problems": problems,
        "uses_tiktok": uses_tiktok,
    }


# The list


@app_group_required()
def canvas_list(request):
    state = request.GET.get("state", "")
    if state not in CanvasState.values:
        state = ""
    canvases = selectors.canvas_list(app_group=request.app_group, state=state)
    counts = selectors.canvas_state_counts(app_group=request.app_group)
    return render(
        request,
        "canvas/canvas_list.html",
        {
            "canvases": canvases,
            "state": state,
            "state_filters": [
                (value, label, counts.get(value, 0)) for value, label in selectors.STATE_FILTERS
            ],
            "can_manage": _can_manage(request),
        },
    )


@app_group_required()
def canvas_create(request):
    _require_manage(request)
    form = CanvasBasicsForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            canvas = services.canvas_create(
                actor=request.membership,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                tags=form.cleaned_data["tags"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(
                request, _("Canvas “%(name)s” created as a draft.") % {"name": canvas.name}
            )
            return redirect("canvas:entry", pk=canvas.pk)
    return render(request, "canvas/canvas_create.html", {"form": form})


@app_group_required()
def canvas_detail(request, pk: int):
    canvas = _canvas(request, pk)
    return redirect("canvas:build", pk=canvas.pk)


# Tabs


@app_group_required()
def canvas_basics(request, pk: int):
    canvas = _canvas(request, pk)
    initial = {
        "name": canvas.name,
        "description": canvas.description,
        "tags": ", ".join(canvas.tags or []),
    }
    form = CanvasBasicsForm(request.POST or None, initial=initial)
    if request.method == "POST":
        _require_manage(request)
        if form.is_valid():
            try:
                services.canvas_basics_update(
                    actor=request.membership, canvas=canvas, **form.cleaned_data
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("Basics saved."))
                return redirect("canvas:basics", pk=canvas.pk)
    context = _builder_context(request, canvas, "basics") | {"form": form}
    return render(request, "canvas/canvas_basics.html", context)


def _trigger_curl(request, canvas: Canvas) -> str:
    url = request.build_absolute_uri("/api/canvas/trigger/send")
    return (
        f"curl -X POST '{url}' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        "  -H 'Authorization: Bearer YOUR-REST-API-KEY' \\\n"
        "  -d '{\n"
        f'    "canvas_id": "{canvas.pk}",\n'
        '    "recipients": [\n'
        '      {"external_user_id": "user-123", "canvas_entry_properties": {"source": "checkout"}}\n'
        "    ]\n"
        "  }'"
    )


@app_group_required()
def canvas_entry(request, pk: int):
    canvas = _canvas(request, pk)
    initial = {
        "entry_type": canvas.entry_type,
        "schedule_mode": SCHEDULE_AT_TIME if canvas.schedule_at else SCHEDULE_AT_LAUNCH,
        "schedule_at": canvas.schedule_at,
    }
    form = CanvasEntryForm(request.POST or None, initial=initial)
    if request.method == "POST":
        _require_manage(request)
        if form.is_valid():
            try:
                services.canvas_entry_update(
                    actor=request.membership,
                    canvas=canvas,
                    entry_type=form.cleaned_data["entry_type"],
                    schedule_at=form.cleaned_data["schedule_at"],
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("Entry schedule saved."))
                return redirect("canvas:entry", pk=canvas.pk)
    context = _builder_context(request, canvas, "entry") | {
        "form": form,
        "curl": _trigger_curl(request, canvas),
        "EntryType": EntryType,
    }
    return render(request, "canvas/canvas_entry.html", context)


def _filter_rows(filters: list[dict]) -> list[tuple[int, str]]:
    return list(enumerate(audience_filter_labels(filters)))


@app_group_required()
def canvas_audience(request, pk: int):
    """Target Audience: filters (one at a time, each with its own Add/Remove button) and
    re-entry. Any button of the form also saves the re-entry box."""
    canvas = _canvas(request, pk)
    form = TargetAudienceForm(request.POST or None, initial={"allow_reentry": canvas.allow_reentry})
    filter_form = FilterAddForm(request.POST if "add_filter" in request.POST else None)
    if request.method == "POST":
        _require_manage(request)
        filters = list(canvas.audience_filters or [])
        ok = form.is_valid()
        if "add_filter" in request.POST:
            ok = filter_form.is_valid() and ok
            if ok and "filter" not in filter_form.cleaned_data:
                filter_form.add_error("filter_field", _("Choose what to filter on."))
                ok = False
            if ok:
                try:
                    filters = services.filters_with(filters, filter_form.cleaned_data["filter"])
                except ValidationError as exc:
                    filter_form.add_error(None, exc.messages)
                    ok = False
        elif "remove_filter" in request.POST:
            try:
                filters = services.filters_without(filters, int(request.POST["remove_filter"]))
            except ValueError:
                pass
        if ok:
            try:
                services.canvas_audience_update(
                    actor=request.membership,
                    canvas=canvas,
                    filters=filters,
                    allow_reentry=form.cleaned_data["allow_reentry"],
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("Target audience saved."))
                return redirect("canvas:audience", pk=canvas.pk)
    context = _builder_context(request, canvas, "audience") | {
        "form": form,
        "filter_form": filter_form,
        "filter_rows": _filter_rows(canvas.audience_filters),
        "population": selectors.canvas_filter_population(canvas=canvas),
    }
    return render(request, "canvas/canvas_audience.html", context)


# Build Canvas: the flow and step editors


def _workspace_context(request, canvas: Canvas, *, step: Step | None = None, **editor) -> dict:
    problems = launch.canvas_launch_problems(canvas=canvas, check_tiktok=False)
    context = _builder_context(request, canvas, "build") | {
        "flow": selectors.canvas_flow(canvas=canvas, problems=problems),
        "selected_step": step,
        "step_types": StepType.choices,
    }
    if step is not None:
        context |= _editor_context(request, canvas, step, **editor)
    return context


def _render_build(request, canvas: Canvas, *, step: Step | None = None, status=200, **editor):
    context = _workspace_context(request, canvas, step=step, **editor)
    template = "canvas/_build_workspace.html" if request.htmx else "canvas/canvas_build.html"
    return render(request, template, context, status=status)


def _after_flow_change(request, canvas: Canvas, *, step: Step | None = None):
    if step is not None:
        url = reverse("canvas:step-edit", args=[canvas.pk, step.pk])
    else:
        url = reverse("canvas:build", args=[canvas.pk])
    if request.htmx:
        # The address bar follows the workspace, so a reload shows what is on screen.
        return push_url(_render_build(request, canvas, step=step), url)
    return redirect(url)


@app_group_required()
def canvas_build(request, pk: int):
    canvas = _canvas(request, pk)
    return _render_build(request, canvas)


@require_POST
@app_group_required(Permission.MANAGE_CANVASES)
def step_add(request, pk: int):
    canvas = _canvas(request, pk)
    parent_id = request.POST.get("parent") or None
    try:
        step = services.step_add(
            actor=request.membership,
            canvas=canvas,
            step_type=request.POST.get("step_type", ""),
            parent_id=int(parent_id) if parent_id else None,
            branch=request.POST.get("branch") or Branch.NEXT,
        )
    except (ValidationError, ValueError) as exc:
        text = _errors_text(exc) if isinstance(exc, ValidationError) else _("That step is unknown.")
        messages.error(request, text)
        return _after_flow_change(request, canvas)
    return _after_flow_change(request, canvas, step=step)


@require_POST
@app_group_required(Permission.MANAGE_CANVASES)
def step_delete(request, pk: int, step_id: int):
    canvas = _canvas(request, pk)
    step = _step(canvas, step_id)
    try:
        deleted = services.step_delete(
            actor=request.membership, step=step, keep_branch=request.POST.get("keep") or Branch.YES
        )
    except ValidationError as exc:
        messages.error(request, _errors_text(exc))
    else:
        others = len(deleted) - 1
        if others:
            text = ngettext(
                "Deleted “%(step)s” and %(count)s step of its other branch.",
                "Deleted “%(step)s” and %(count)s steps of its other branch.",
                others,
            ) % {"step": step, "count": others}
        else:
            text = _("Deleted “%(step)s”.") % {"step": step}
        messages.success(request, text)
    return _after_flow_change(request, canvas)


def _editor_notice(request, step: Step) -> dict | None:
    notice = request.session.pop(NOTICE_SESSION_KEY, None)
    if notice and notice.get("step") == step.pk:
        return notice
    return None


def _remember_notice(request, step: Step, level: str, text: str) -> None:
    request.session[NOTICE_SESSION_KEY] = {"step": step.pk, "level": level, "text": text}


def _split_filter_form(request):
    return FilterAddForm(request.POST if "add_filter" in request.POST else None)


def _step_form(data, step: Step):
    config = step.config or {}
    if step.step_type == StepType.DELAY:
        initial = {"name": step.name} | DelayForm.initial_for(int(config.get("seconds") or 0))
        return DelayForm(data, initial=initial)
    if step.step_type == StepType.MESSAGE:
        initial = {"name": step.name, "channel": config.get("channel"), "body": config.get("body")}
        return MessageForm(data, initial=initial)
    return StepNameForm(data, initial={"name": step.name})


def _editor_context(request, canvas: Canvas, step: Step, *, form=None, notice=None, **extra):
    context = {
        "step_form": form or _step_form(None, step),
        "notice": notice or _editor_notice(request, step),
        "sync": selectors.audience_sync_settings_of(step),
    }
    if step.step_type == StepType.DECISION_SPLIT:
        context["filter_form"] = extra.pop("filter_form", None) or FilterAddForm()
        context["filter_rows"] = _filter_rows((step.config or {}).get("filters") or [])
    return context | extra


@app_group_required()
def step_edit(request, pk: int, step_id: int):
    """The editor of a Delay, Decision Split or Message step (and the Audience Sync step's
    name with its Custom Audience button)."""
    canvas = _canvas(request, pk)
    step = _step(canvas, step_id)
    if request.method != "POST":
        return _render_build(request, canvas, step=step)
    _require_manage(request)
    form = _step_form(request.POST, step)
    filter_form = _split_filter_form(request) if step.step_type == StepType.DECISION_SPLIT else None
    try:
        if not form.is_valid():
            raise ValidationError(_("Check the fields below."))
        data = form.cleaned_data
        if step.step_type == StepType.DELAY:
            services.step_delay_update(
                actor=request.membership, step=step, name=data["name"], seconds=data["seconds"]
            )
        elif step.step_type == StepType.MESSAGE:
            services.step_message_update(
                actor=request.membership,
                step=step,
                name=data["name"],
                channel=data["channel"],
                body=data["body"],
            )
        elif step.step_type == StepType.DECISION_SPLIT:
            filters = list((step.config or {}).get("filters") or [])
            if "add_filter" in request.POST:
                if not filter_form.is_valid() or "filter" not in filter_form.cleaned_data:
                    if not filter_form.errors:
                        filter_form.add_error("filter_field", _("Choose what to filter on."))
                    raise ValidationError(_("Check the new filter."))
                filters = services.filters_with(filters, filter_form.cleaned_data["filter"])
            elif "remove_filter" in request.POST:
                try:
                    filters = services.filters_without(filters, int(request.POST["remove_filter"]))
                except ValueError:
                    pass
            services.step_split_update(
                actor=request.membership, step=step, name=data["name"], filters=filters
            )
        else:
            services.step_rename(actor=request.membership, step=step, name=data["name"])
    except ValidationError as exc:
        if form.is_bound and hasattr(exc, "error_dict"):
            _add_errors(form, exc)
        notice = {"level": "error", "text": _errors_text(exc)}
        return _render_build(
            request,
            canvas,
            step=step,
            form=form,
            notice=notice,
            filter_form=filter_form,
            status=200,
        )
    step = _step(canvas, step.pk)
    if request.htmx:
        notice = {"level": "success", "text": _("Step saved.")}
        return _render_build(request, canvas, step=step, notice=notice)
    _remember_notice(request, step, "success", _("Step saved."))
    return redirect("canvas:step-edit", pk=canvas.pk, step_id=step.pk)


# The Audience Sync step editor


def _initial_sync_choice(canvas: Canvas, sync) -> tuple[str, str]:
    """(audience choice, type-ahead text) for a saved step."""
    if sync is None or sync.audience is None:
        return "", ""
    audience = sync.audience
    if sync.creates_audience and audience.status != AudienceStatus.CREATED:
        return "new", audience.name
    if audience.pk in selectors.canvas_draft_audience_ids(canvas=canvas):
        return f"local:{audience.pk}", audience.name
    return f"tiktok:{audience.tiktok_audience_id}", audience.name


def _own_draft(step: Step):
    """The step's own new audience while it is only a draft (not yet on TikTok)."""
    sync = selectors.audience_sync_settings_of(step)
    if sync and sync.creates_audience and sync.audience:
        if sync.audience.status != AudienceStatus.CREATED:
            return sync.audience
    return None


def _audience_choice_context(request, canvas: Canvas, step: Step, values: dict, ad_accounts):
    """What the audience part of the editor shows for the current values: the type-ahead's
    options, the chosen one, and which section follows (new audience / existing / none)."""
    health = connection_health(tiktok_connection_get(app_group=request.app_group))
    connection_problem = None if health.ok else health.sentence()
    account = next((a for a in ad_accounts if str(a.pk) == values["ad_account"]), None)
    if account is not None and connection_problem is None:
        # Security issue 5: a page view reuses the ad account's remembered TikTok list, and a
        # Viewer's never asks TikTok, so reloading the editor does not slow the sync.
        options = audience_picker.audience_options(
            canvas=canvas,
            ad_account=account,
            query=values["audience_query"],
            own_draft=_own_draft(step),
            ask_tiktok=_can_manage(request),
        )
    else:
        options = audience_picker.AudienceOptions(query=values["audience_query"])
    offered = {o.value for o in options.drafts + options.existing}
    if options.new_name:
        offered.add("new")
    choice = values["audience"] if values["audience"] in offered else ""
    if not choice and options.new_name and not options.existing and not options.drafts:
        # The typed name matches nothing: it is offered (and preselected) as a new audience.
        choice = "new"
    return {
        "connection_problem": connection_problem,
        "options": options,
        "choice": choice,
        "mode": "new" if choice == "new" else ("existing" if choice else ""),
        "values": values,
        "match_field_choices": MatchField.choices,
    }


def _sync_editor(request, canvas: Canvas, step: Step, *, form=None, notice=None, status=200):
    sync = selectors.audience_sync_settings_of(step)
    ad_accounts = list(selectors.usable_ad_accounts(app_group=request.app_group))
    if form is None:
        choice, query = _initial_sync_choice(canvas, sync)
        initial = {
            "name": step.name,
            "partner": "tiktok",
            "ad_account": str(sync.ad_account_id) if sync and sync.ad_account_id else "",
            "audience_query": query,
            "audience": choice,
            "action": sync.action if sync else SyncAction.ADD,
            "match_fields": sync.match_fields if sync else [],
        }
        if not initial["ad_account"] and len(ad_accounts) == 1:
            initial["ad_account"] = str(ad_accounts[0].pk)
        form = AudienceSyncForm(initial=initial, ad_accounts=ad_accounts)
    values = _sync_form_values(form)
    context = _workspace_context(
        request,
        canvas,
        step=step,
        form=StepNameForm(initial={"name": step.name}),
        notice=notice or _editor_notice(request, step),
    ) | {
        "sync_form": form,
        "sync_editor": True,
        "ad_accounts": ad_accounts,
        "other_partners": [(k, n) for k, n, _about in AUDIENCE_SYNC_PARTNERS if k != "tiktok"],
    }
    context |= _audience_choice_context(request, canvas, step, values, ad_accounts)
    template = "canvas/_build_workspace.html" if request.htmx else "canvas/canvas_build.html"
    return render(request, template, context, status=status)


def _sync_form_values(form) -> dict:
    """The editor's current values, whether the form is bound or initial."""
    if form.is_bound:
        data = form.data
        return {
            "ad_account": data.get("ad_account", ""),
            "audience_query": data.get("audience_query", ""),
            "audience": data.get("audience", ""),
            "action": data.get("action") or SyncAction.ADD,
            "match_fields": data.getlist("match_fields"),
        }
    initial = form.initial
    return {
        "ad_account": initial.get("ad_account", ""),
        "audience_query": initial.get("audience_query", ""),
        "audience": initial.get("audience", ""),
        "action": initial.get("action") or SyncAction.ADD,
        "match_fields": list(initial.get("match_fields") or []),
    }


@app_group_required()
def audience_sync_editor(request, pk: int, step_id: int):
    """ "Set up Audience Sync". Buttons: op=refresh (re-render with the typed values: search,
    ad account or audience picked), op=create_audience, op=save."""
    canvas = _canvas(request, pk)
    step = _step(canvas, step_id)
    if step.step_type != StepType.AUDIENCE_SYNC:
        raise Http404("Not an Audience Sync step")
    if request.method != "POST":
        return _sync_editor(request, canvas, step)
    _require_manage(request)
    ad_accounts = list(selectors.usable_ad_accounts(app_group=request.app_group))
    form = AudienceSyncForm(request.POST, ad_accounts=ad_accounts)
    op = request.POST.get("op", "refresh")
    if op not in ("create_audience", "save"):
        return _sync_editor(request, canvas, step, form=form)
    if not form.is_valid():
        notice = {"level": "error", "text": _("Check the fields below.")}
        return _sync_editor(request, canvas, step, form=form, notice=notice)
    data = form.cleaned_data
    try:
        if op == "create_audience":
            result = services.audience_draft_create(
                actor=request.membership,
                step=step,
                ad_account_id=data["ad_account"],
                name=data["audience_query"],
                match_fields=data["match_fields"],
                step_name=data["name"],
            )
            text = result.notice
        else:
            choice = data["audience"]
            if choice == "new":
                raise ValidationError(
                    {"audience": _("Click Create Audience to create the new audience.")}
                )
            services.audience_sync_step_save(
                actor=request.membership,
                step=step,
                ad_account_id=data["ad_account"],
                audience_choice=choice,
                action=data["action"],
                match_fields=data["match_fields"],
                step_name=data["name"],
            )
            text = _("Audience Sync settings saved.")
    except ValidationError as exc:
        _add_errors(form, exc)
        notice = {"level": "error", "text": _errors_text(exc)}
        return _sync_editor(request, canvas, step, form=form, notice=notice)
    step = _step(canvas, step.pk)
    if request.htmx:
        return _sync_editor(request, canvas, step, notice={"level": "success", "text": text})
    _remember_notice(request, step, "success", text)
    return redirect("canvas:audience-sync", pk=canvas.pk, step_id=step.pk)


@app_group_required(Permission.MANAGE_CANVASES)
def audience_sync_options(request, pk: int, step_id: int):
    """The type-ahead's answer (an htmx fragment): the options for the typed name, with the
    editor's current choice still ticked when it is among them."""
    canvas = _canvas(request, pk)
    step = _step(canvas, step_id)
    if step.step_type != StepType.AUDIENCE_SYNC:
        raise Http404("Not an Audience Sync step")
    values = {
        "ad_account": request.GET.get("ad_account", ""),
        "audience_query": request.GET.get("audience_query", ""),
        "audience": request.GET.get("audience", ""),
        "action": request.GET.get("action") or SyncAction.ADD,
        "match_fields": request.GET.getlist("match_fields"),
    }
    ad_accounts = list(selectors.usable_ad_accounts(app_group=request.app_group))
    context = _audience_choice_context(request, canvas, step, values, ad_accounts) | {
        "canvas": canvas,
        "selected_step": step,
        "editable": True,
    }
    return render(request, "canvas/_audience_options.html", context)


# Summary and gear actions


@app_group_required()
def canvas_summary(request, pk: int):
    canvas = _canvas(request, pk)
    # Security issue 5: the check reuses TikTok's remembered audience lists (a short while),
    # and a Viewer's visit never asks TikTok; Launch and Resume always do.
    check = (
        launch.canvas_launch_check(canvas=canvas, ask_tiktok=_can_manage(request))
        if canvas.state != CanvasState.ARCHIVED
        else launch.LaunchCheck()
    )
    problems = check.problems
    context = _builder_context(request, canvas, "summary") | {
        "launch_check": check,
        "launch_problems": problems,
        "flow": selectors.canvas_flow(canvas=canvas, problems=problems),
        "filter_labels": audience_filter_labels(canvas.audience_filters),
        "curl": _trigger_curl(request, canvas),
        "pending_drafts": list(selectors.canvas_pending_drafts(canvas=canvas)),
    }
    return render(request, "canvas/canvas_summary.html", context)


def _gear_action(request, pk: int, action, done: str):
    canvas = _canvas(request, pk)
    try:
        action(actor=request.membership, canvas=canvas)
    except ValidationError as exc:
        messages.error(request, _errors_text(exc))
        return redirect("canvas:summary", pk=canvas.pk)
    messages.success(request, done % {"name": canvas.name})
    return redirect("canvas:summary", pk=canvas.pk)


@require_POST
@app_group_required(Permission.MANAGE_CANVASES)
def canvas_launch(request, pk: int):
    return _gear_action(request, pk, launch.canvas_launch, _("Canvas “%(name)s” is Active."))


@require_POST
@app_group_required(Permission.MANAGE_CANVASES)
def canvas_stop(request, pk: int):
    return _gear_action(request, pk, launch.canvas_stop, _("Canvas “%(name)s” is Stopped."))


@require_POST
@app_group_required(Permission.MANAGE_CANVASES)
def canvas_resume(request, pk: int):
    return _gear_action(request, pk, launch.canvas_resume, _("Canvas “%(name)s” is Active again."))


@require_POST
@app_group_required(Permission.MANAGE_CANVASES)
def canvas_archive(request, pk: int):
    return _gear_action(request, pk, launch.canvas_archive, _("Canvas “%(name)s” is Archived."))
