"""Template helpers of the Canvas pages, and `{% canvas_flow %}` for pages that show a flow
(the builder, the Summary, journeys' analytics page)."""

from __future__ import annotations

from django import template

from canvas.audience import audience_filter_labels
from canvas.models import MatchField
from canvas.selectors import canvas_flow as build_flow

register = template.Library()

_UNITS = [("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)]


@register.inclusion_tag("canvas/_flow.html", takes_context=True)
def canvas_flow(context, canvas, step_metrics=None, problems=None):
    """Draw a Canvas's flow read-only: `{% canvas_flow canvas step_metrics=metrics %}`.

    `step_metrics` maps step id → an object with entered, proceeded, exited, synced,
    not_synced, pending, errored (yes, no, sends where they apply); each card shows the
    numbers of its step. Missing attributes are left out.
    """
    return {
        "flow": build_flow(canvas=canvas, step_metrics=step_metrics, problems=problems),
        "canvas": canvas,
        "editable": False,
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def delay_label(seconds) -> str:
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        return "—"
    for name, size in _UNITS:
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {name}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


@register.filter
def filter_labels(filters) -> list[str]:
    return audience_filter_labels(filters or [])


@register.filter
def match_field_labels(fields) -> str:
    labels = dict(MatchField.choices)
    return ", ".join(str(labels.get(f, f)) for f in fields or []) or "—"


@register.filter
def metric(metrics, name):
    """A metric of a step, or None when the metrics object does not have it."""
    if metrics is None:
        return None
    if isinstance(metrics, dict):
        return metrics.get(name)
    return getattr(metrics, name, None)


# Metrics each kind of step shows, in Braze's order and words (docs/ARCHITECTURE.md B1).
METRICS_BY_TYPE = {
    "audience_sync": [
        ("entered", "Entered"),
        ("proceeded", "Proceeded to Next Step"),
        ("synced", "Users Synced"),
        ("not_synced", "Users Not Synced"),
        ("pending", "Users Pending"),
        ("errored", "Users Errored"),
        ("exited", "Exited Canvas"),
    ],
    "delay": [
        ("entered", "Entered"),
        ("proceeded", "Proceeded to Next Step"),
        ("exited", "Exited Canvas"),
    ],
    "decision_split": [
        ("entered", "Entered"),
        ("yes", "Yes"),
        ("no", "No"),
        ("exited", "Exited Canvas"),
    ],
    "message": [
        ("entered", "Entries"),
        ("proceeded", "Proceeded to Next Step"),
        ("sends", "Sends"),
        ("exited", "Exited Canvas"),
    ],
}


@register.filter
def metric_rows(node) -> list[tuple[str, object]]:
    """(label, value) of the metrics a flow node's step shows; absent ones are left out."""
    rows = []
    for name, label in METRICS_BY_TYPE.get(node.step.step_type, []):
        value = metric(node.metrics, name)
        if value is not None:
            rows.append((label, f"{value:,}" if isinstance(value, int) else value))
    return rows
