"""Template helpers of the Canvas pages, and `{% canvas_flow %}` for pages that show a flow
(the builder, the Summary, journeys' analytics page)."""

from __future__ import annotations

from django import template
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext, pgettext_lazy

from canvas.audience import audience_filter_labels
from canvas.models import MatchField
from canvas.selectors import canvas_flow as build_flow
from canvas.services import MESSAGE_CHANNELS
from core.i18n import number_grouped

register = template.Library()

_UNITS = [
    (86400, lambda n: ngettext("%(count)s day", "%(count)s days", n)),
    (3600, lambda n: ngettext("%(count)s hour", "%(count)s hours", n)),
    (60, lambda n: ngettext("%(count)s minute", "%(count)s minutes", n)),
    (1, lambda n: ngettext("%(count)s second", "%(count)s seconds", n)),
]


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
    for size, words in _UNITS:
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return words(count) % {"count": count}
    return ngettext("%(count)s second", "%(count)s seconds", seconds) % {"count": seconds}


@register.filter
def filter_labels(filters) -> list[str]:
    return audience_filter_labels(filters or [])


@register.filter
def and_join(labels) -> str:
    """Filters that must all match, in one line: "Has an email address AND Country is DE"."""
    # Translators: the word between a Decision Split's filters, all of which must match.
    word = pgettext("between audience filters", "AND")
    return f" {word} ".join(str(label) for label in labels or [])


@register.filter
def channel_label(channel) -> str:
    """A Message step's channel in words ("email" → "Email")."""
    channel = channel or "email"
    label = dict(MESSAGE_CHANNELS).get(channel)
    return str(label) if label is not None else capfirst(str(channel))


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
        ("entered", _("Entered")),
        ("proceeded", _("Proceeded to Next Step")),
        ("synced", _("Users Synced")),
        ("not_synced", _("Users Not Synced")),
        ("pending", _("Users Pending")),
        ("errored", _("Users Errored")),
        ("exited", _("Exited Canvas")),
    ],
    "delay": [
        ("entered", _("Entered")),
        ("proceeded", _("Proceeded to Next Step")),
        ("exited", _("Exited Canvas")),
    ],
    "decision_split": [
        ("entered", _("Entered")),
        ("yes", pgettext_lazy("Decision Split branch", "Yes")),
        ("no", pgettext_lazy("Decision Split branch", "No")),
        ("exited", _("Exited Canvas")),
    ],
    "message": [
        ("entered", _("Entries")),
        ("proceeded", _("Proceeded to Next Step")),
        ("sends", _("Sends")),
        ("exited", _("Exited Canvas")),
    ],
}


@register.filter
def metric_rows(node) -> list[tuple[str, object]]:
    """(label, value) of the metrics a flow node's step shows; absent ones are left out."""
    rows = []
    for name, label in METRICS_BY_TYPE.get(node.step.step_type, []):
        value = metric(node.metrics, name)
        if value is not None:
            rows.append(
                (
                    label,
                    number_grouped(value) if isinstance(value, int) else value,
                )
            )
    return rows
