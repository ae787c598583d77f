"""The flow partial other pages reuse (analytics' Canvas analytics page): `{% canvas_flow %}`
draws the cards read-only and shows each step's numbers when given `step_metrics`."""

from types import SimpleNamespace

from django.template import Context, Template

from canvas import services
from canvas.models import Branch, StepType

TEMPLATE = Template("{% load canvas_tags %}{% canvas_flow canvas step_metrics=metrics %}")


def render(canvas, metrics=None) -> str:
    return TEMPLATE.render(Context({"canvas": canvas, "metrics": metrics}))


def test_the_flow_partial_shows_each_steps_metrics_read_only(marketer, canvas):
    sync = services.step_add(
        actor=marketer, canvas=canvas, step_type=StepType.AUDIENCE_SYNC, name="Sync"
    )
    split = services.step_add(
        actor=marketer, canvas=canvas, step_type=StepType.DECISION_SPLIT, parent_id=sync.pk,
        name="Split",
    )  # fmt: skip
    services.step_add(
        actor=marketer, canvas=canvas, step_type=StepType.DELAY, parent_id=split.pk,
        branch=Branch.NO, name="Wait",
    )  # fmt: skip
    metrics = {
        sync.pk: SimpleNamespace(
            entered=1200, proceeded=1200, exited=0, synced=900, not_synced=100, pending=150,
            errored=50,
        ),
        split.pk: {"entered": 1200, "yes": 700, "no": 500, "exited": 700},
    }  # fmt: skip

    html = render(canvas, metrics)

    sync_card = html.split('aria-label="Metrics of Sync"')[1].split("</dl>")[0]
    for label, value in [
        ("Entered", "1,200"), ("Proceeded to Next Step", "1,200"), ("Users Synced", "900"),
        ("Users Not Synced", "100"), ("Users Pending", "150"), ("Users Errored", "50"),
        ("Exited Canvas", "0"),
    ]:  # fmt: skip
        assert f"<dt>{label}</dt><dd>{value}</dd>" in sync_card
    split_card = html.split('aria-label="Metrics of Split"')[1].split("</dl>")[0]
    assert "<dt>Yes</dt><dd>700</dd>" in split_card and "<dt>No</dt><dd>500</dd>" in split_card
    # A step without metrics shows none; nothing to edit in this read-only flow.
    assert 'aria-label="Metrics of Wait"' not in html
    assert "Add a step" not in html and ">Delete<" not in html and ">Edit<" not in html


def test_without_metrics_the_partial_draws_just_the_flow(marketer, canvas):
    services.step_add(actor=marketer, canvas=canvas, step_type=StepType.MESSAGE, name="Hi")

    html = render(canvas)

    assert 'aria-label="Message step Hi"' in html and "Metrics of" not in html
    assert "Exit Canvas" in html
