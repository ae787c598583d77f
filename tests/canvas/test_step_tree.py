"""The step tree: adding at the top, inserting between, branches of a Decision Split,
deleting (the step below takes the place; a split keeps one branch)."""

import pytest
from django.core.exceptions import ValidationError

from canvas import services
from canvas.models import AudienceSyncSettings, Branch, Step, StepType
from canvas.selectors import canvas_flow
from tests.factories import CanvasFactory


def add(actor, canvas, step_type, parent=None, branch=Branch.NEXT, name=""):
    return services.step_add(
        actor=actor, canvas=canvas, step_type=step_type,
        parent_id=parent.pk if parent else None, branch=branch, name=name,
    )  # fmt: skip


def shape(canvas):
    """The flow as nested tuples of step names: (name, next) or (name, yes, no)."""

    def node_shape(node):
        if node is None:
            return None
        if node.is_split:
            return (node.step.name, node_shape(node.yes), node_shape(node.no))
        return (node.step.name, node_shape(node.next))

    return node_shape(canvas_flow(canvas=canvas).root)


def test_steps_added_under_each_other_form_a_chain(marketer, canvas):
    a = add(marketer, canvas, StepType.AUDIENCE_SYNC, name="A")
    b = add(marketer, canvas, StepType.DELAY, a, name="B")
    add(marketer, canvas, StepType.MESSAGE, b, name="C")

    assert shape(canvas) == ("A", ("B", ("C", None)))
    # An Audience Sync step gets its (empty) settings; a Delay a default of one day.
    assert AudienceSyncSettings.objects.filter(step=a).exists()
    assert Step.objects.get(pk=b.pk).config == {"seconds": 86400}


def test_adding_under_a_step_that_has_a_next_step_inserts_between(marketer, canvas):
    a = add(marketer, canvas, StepType.DELAY, name="A")
    add(marketer, canvas, StepType.MESSAGE, a, name="C")

    add(marketer, canvas, StepType.DELAY, a, name="B")

    assert shape(canvas) == ("A", ("B", ("C", None)))


def test_adding_at_the_top_puts_the_old_first_step_under_the_new_one(marketer, canvas):
    add(marketer, canvas, StepType.DELAY, name="B")

    add(marketer, canvas, StepType.MESSAGE, name="A")

    assert shape(canvas) == ("A", ("B", None))


def test_a_split_inserted_above_steps_keeps_them_on_its_yes_branch(marketer, canvas):
    a = add(marketer, canvas, StepType.DELAY, name="A")
    add(marketer, canvas, StepType.MESSAGE, a, name="C")

    split = add(marketer, canvas, StepType.DECISION_SPLIT, a, name="S")
    add(marketer, canvas, StepType.AUDIENCE_SYNC, split, Branch.NO, name="N")

    assert shape(canvas) == ("A", ("S", ("C", None), ("N", None)))


def test_steps_hang_only_on_the_branches_their_parent_has(marketer, canvas):
    split = add(marketer, canvas, StepType.DECISION_SPLIT, name="S")
    delay = add(marketer, canvas, StepType.DELAY, split, Branch.YES, name="D")

    with pytest.raises(ValidationError, match="cannot be added on that branch"):
        add(marketer, canvas, StepType.MESSAGE, split, Branch.NEXT)
    with pytest.raises(ValidationError, match="cannot be added on that branch"):
        add(marketer, canvas, StepType.MESSAGE, delay, Branch.NO)
    with pytest.raises(ValidationError, match="Choose a component"):
        add(marketer, canvas, "exit")


def test_a_step_of_another_canvas_cannot_be_a_parent(marketer, canvas, app_group):
    other = CanvasFactory(app_group=app_group, name="Other")
    foreign = add(marketer, other, StepType.DELAY)

    with pytest.raises(ValidationError, match="no longer exists"):
        add(marketer, canvas, StepType.DELAY, foreign)


def test_deleting_a_step_moves_the_step_below_into_its_place(marketer, canvas):
    a = add(marketer, canvas, StepType.DELAY, name="A")
    b = add(marketer, canvas, StepType.DELAY, a, name="B")
    add(marketer, canvas, StepType.MESSAGE, b, name="C")

    deleted = services.step_delete(actor=marketer, step=b)

    assert [s.name for s in deleted] == ["B"]
    assert shape(canvas) == ("A", ("C", None))
    # Kept for analytics, marked deleted.
    assert Step.objects.get(pk=b.pk).deleted_at is not None


def test_deleting_the_first_step_makes_the_next_one_first(marketer, canvas):
    a = add(marketer, canvas, StepType.DELAY, name="A")
    add(marketer, canvas, StepType.MESSAGE, a, name="B")

    services.step_delete(actor=marketer, step=a)

    assert shape(canvas) == ("B", None)


def test_deleting_the_last_step_ends_the_branch_at_its_parent(marketer, canvas):
    a = add(marketer, canvas, StepType.DELAY, name="A")
    b = add(marketer, canvas, StepType.MESSAGE, a, name="B")

    services.step_delete(actor=marketer, step=b)

    assert shape(canvas) == ("A", None)


@pytest.mark.parametrize(
    "keep, expected", [(Branch.YES, ("Y1", ("Y2", None))), (Branch.NO, ("N1", None))]
)
def test_deleting_a_split_keeps_the_chosen_branch_and_deletes_the_other(
    marketer, canvas, keep, expected
):
    top = add(marketer, canvas, StepType.DELAY, name="Top")
    split = add(marketer, canvas, StepType.DECISION_SPLIT, top, name="S")
    y1 = add(marketer, canvas, StepType.DELAY, split, Branch.YES, name="Y1")
    add(marketer, canvas, StepType.MESSAGE, y1, name="Y2")
    add(marketer, canvas, StepType.MESSAGE, split, Branch.NO, name="N1")

    deleted = services.step_delete(actor=marketer, step=split, keep_branch=keep)

    assert shape(canvas) == ("Top", expected)
    dropped = {"yes": ["N1"], "no": ["Y1", "Y2"]}[keep]
    assert sorted(s.name for s in deleted) == sorted(["S", *dropped])
    assert set(
        Step.objects.filter(canvas=canvas, deleted_at__isnull=False).values_list("name", flat=True)
    ) == {"S", *dropped}


def test_a_branch_can_be_filled_again_after_its_step_was_deleted(marketer, canvas):
    split = add(marketer, canvas, StepType.DECISION_SPLIT, name="S")
    old = add(marketer, canvas, StepType.DELAY, split, Branch.NO, name="old")
    services.step_delete(actor=marketer, step=old)

    add(marketer, canvas, StepType.MESSAGE, split, Branch.NO, name="new")

    assert shape(canvas) == ("S", None, ("new", None))


def test_a_long_chain_renders_without_deep_recursion(marketer, canvas, marketer_client):
    from django.urls import reverse

    parent = None
    for i in range(services.MAX_STEPS):
        parent = add(marketer, canvas, StepType.DELAY, parent, name=f"D{i}")

    with pytest.raises(ValidationError, match="at most 200 steps"):
        add(marketer, canvas, StepType.DELAY, parent)
    response = marketer_client.get(reverse("canvas:build", args=[canvas.pk]))
    assert response.status_code == 200
    assert "D199" in response.content.decode()
