from __future__ import annotations

from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from analytics import selectors
from analytics.models import Period
from appgroups.decorators import app_group_required
from canvas.models import Canvas, CanvasState, StepType
from partners.selectors import tiktok_problems

# The chart: the last three hours minute by minute, the last month day by day.
CHART_MINUTES = 180
CHART_DAYS = 30


@app_group_required()
def canvas_analytics(request, pk: int):
    """Canvas Details: the flow with each step's metrics, Audience Sync figures and sync log."""
    canvas = get_object_or_404(Canvas, pk=pk, app_group=request.app_group)
    now = timezone.now()
    steps = list(selectors.canvas_steps(canvas=canvas))
    metrics = selectors.canvas_step_metrics(canvas=canvas)
    sync_steps = [s for s in steps if s.step_type == StepType.AUDIENCE_SYNC]
    uses_tiktok = bool(sync_steps)
    context = {
        "canvas": canvas,
        "metrics": metrics,
        "sync_rows": [
            (step, metrics.get(step.pk) or selectors.StepMetrics()) for step in sync_steps
        ],
        "sync_log": selectors.canvas_sync_log(canvas=canvas) if uses_tiktok else [],
        "minutes": selectors.canvas_activity(
            canvas=canvas, period=Period.MINUTE, buckets=CHART_MINUTES, now=now
        ),
        "days": selectors.canvas_activity(
            canvas=canvas, period=Period.DAY, buckets=CHART_DAYS, now=now
        ),
        # Braze shows integration errors on every active Canvas that uses the partner.
        "problems": (
            tiktok_problems(app_group=request.app_group)
            if uses_tiktok and canvas.state == CanvasState.ACTIVE
            else []
        ),
    }
    template = (
        "analytics/_analytics_body.html" if request.htmx else "analytics/canvas_analytics.html"
    )
    return render(request, template, context)
