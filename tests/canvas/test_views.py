"""The Canvas pages through HTTP: roles (Marketer writes, Viewer reads), app-group scoping,
htmx answers vs plain posts, and forms that show errors instead of failing."""

import pytest
from django.urls import reverse

from appgroups.models import Role
from canvas import services
from canvas.models import Canvas, CanvasState, EntryType, Step, StepType
from partners.models import ConnectionStatus
from tests.factories import CanvasFactory, MembershipFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, *args):
    return reverse(f"canvas:{name}", args=args)


def test_the_list_shows_this_app_groups_canvases_with_their_columns(
    marketer_client, canvas, other_app_group
):
    CanvasFactory(app_group=other_app_group, name="Globex secret")
    Canvas.objects.filter(pk=canvas.pk).update(total_entries=1234, state=CanvasState.ACTIVE)
    CanvasFactory(app_group=canvas.app_group, name="Old one", state=CanvasState.ARCHIVED)

    page = marketer_client.get(url("list")).content.decode()

    assert "Cart abandoners" in page and "Globex secret" not in page
    assert "1234" in page and "Active" in page and "API-Triggered" in page
    assert "Old one" not in page  # archived Canvases only under their filter
    assert "Create Canvas" in page
    archived = marketer_client.get(url("list"), {"state": "archived"}).content.decode()
    assert "Old one" in archived and "Cart abandoners" not in archived
    # A state that does not exist is ignored, not an error.
    assert marketer_client.get(url("list"), {"state": "nope"}).status_code == 200


def test_create_canvas_makes_a_draft_and_refuses_a_blank_name(marketer_client, marketer):
    blank = marketer_client.post(url("create"), {"name": "  ", "tags": ""})
    assert blank.status_code == 200
    assert "This field is required." in blank.content.decode() or "needs a name" in (
        blank.content.decode()
    )

    response = marketer_client.post(
        url("create"),
        {"name": "Welcome", "description": "First week", "tags": "onboarding, tiktok"},
    )

    canvas = Canvas.objects.get(name="Welcome")
    assert response.status_code == 302 and response.url == url("entry", canvas.pk)
    assert canvas.state == CanvasState.DRAFT
    assert canvas.tags == ["onboarding", "tiktok"]
    assert canvas.app_group == marketer.app_group and canvas.created_by == marketer.user


def test_viewers_read_every_tab_without_edit_controls(viewer_client, marketer, canvas):
    step = services.step_add(actor=marketer, canvas=canvas, step_type=StepType.DELAY)

    assert "Create Canvas" not in viewer_client.get(url("list")).content.decode()
    for tab in ["basics", "entry", "audience", "build", "summary"]:
        response = viewer_client.get(url(tab, canvas.pk))
        page = response.content.decode()
        assert response.status_code == 200, tab
        assert "your role does not allow changing it" in page
        assert ">Save<" not in page and "Launch Canvas" not in page and "Add a step" not in page
    editor = viewer_client.get(url("step-edit", canvas.pk, step.pk)).content.decode()
    assert "disabled" in editor and ">Save<" not in editor


@pytest.mark.parametrize(
    "name, needs_step, data",
    [
        ("create", False, {"name": "X"}),
        ("basics", True, {"name": "Renamed"}),
        ("entry", True, {"entry_type": "scheduled"}),
        ("audience", True, {"allow_reentry": "on"}),
        ("step-add", True, {"step_type": "delay"}),
        ("step-edit", True, {"name": "Renamed", "amount": "2", "unit": "hours"}),
        ("step-delete", True, {}),
        ("launch", True, {}),
        ("stop", True, {}),
        ("resume", True, {}),
        ("archive", True, {}),
    ],
)
def test_viewers_get_limited_access_on_every_write(
    viewer_client, marketer, canvas, name, needs_step, data
):
    step = services.step_add(actor=marketer, canvas=canvas, step_type=StepType.DELAY, name="Wait")
    args = []
    if needs_step:
        args = (
            [canvas.pk, step.pk] if name.startswith("step-") and name != "step-add" else [canvas.pk]
        )
    before = (Canvas.objects.values().get(pk=canvas.pk), list(Step.objects.values()))

    response = viewer_client.post(url(name, *args), data)

    assert response.status_code == 403
    assert "Limited access" in response.content.decode()
    assert (Canvas.objects.values().get(pk=canvas.pk), list(Step.objects.values())) == before


def test_a_viewer_cannot_use_the_audience_sync_editor(viewer_client, marketer, canvas):
    step = services.step_add(actor=marketer, canvas=canvas, step_type=StepType.AUDIENCE_SYNC)

    assert (
        viewer_client.post(url("audience-sync", canvas.pk, step.pk), {"op": "save"}).status_code
        == 403
    )
    assert viewer_client.get(url("audience-options", canvas.pk, step.pk)).status_code == 403


def test_another_app_groups_canvas_and_steps_answer_404(
    marketer_client, marketer, canvas, other_app_group
):
    foreign = CanvasFactory(app_group=other_app_group, name="Globex")
    outsider = MembershipFactory(app_group=other_app_group, role=Role.ADMIN)
    foreign_step = services.step_add(
        actor=outsider, canvas=foreign, step_type=StepType.AUDIENCE_SYNC
    )
    mine = services.step_add(actor=marketer, canvas=canvas, step_type=StepType.DELAY)

    for tab in ["detail", "basics", "entry", "audience", "build", "summary"]:
        assert marketer_client.get(url(tab, foreign.pk)).status_code == 404, tab
    for action in ["launch", "stop", "resume", "archive", "step-add"]:
        assert marketer_client.post(url(action, foreign.pk)).status_code == 404, action
    # A foreign step under my own Canvas's URL is not found either.
    assert marketer_client.get(url("step-edit", canvas.pk, foreign_step.pk)).status_code == 404
    assert marketer_client.post(url("step-delete", canvas.pk, foreign_step.pk)).status_code == 404
    assert marketer_client.get(url("audience-sync", foreign.pk, foreign_step.pk)).status_code == 404
    # ...and a foreign parent id cannot be used to hang a step in someone else's tree.
    response = marketer_client.post(
        url("step-add", canvas.pk), {"step_type": "delay", "parent": foreign_step.pk}, follow=True
    )
    assert "That step no longer exists" in response.content.decode()
    assert Step.objects.filter(parent=foreign_step).count() == 0
    assert Step.objects.filter(canvas=canvas).count() == 1 and mine


def test_adding_a_step_answers_htmx_with_the_workspace_and_plain_posts_with_a_redirect(
    marketer_client, canvas
):
    plain = marketer_client.post(url("step-add", canvas.pk), {"step_type": "delay"})
    first = Step.objects.get(canvas=canvas)
    assert plain.status_code == 302 and plain.url == url("step-edit", canvas.pk, first.pk)

    fragment = marketer_client.post(
        url("step-add", canvas.pk), {"step_type": "message", "parent": first.pk}, **HTMX
    )
    body = fragment.content.decode()
    assert fragment.status_code == 200
    assert "<html" not in body and 'id="canvas-flow"' in body and 'id="step-editor"' in body
    # The new step's editor opens fresh, not as if the add had been a save of its form.
    assert "This field is required." not in body
    assert Step.objects.get(canvas=canvas, step_type="message").parent == first
    delay = marketer_client.post(
        url("step-add", canvas.pk), {"step_type": "delay", "parent": first.pk}, **HTMX
    ).content.decode()
    assert 'name="amount" value="1"' in delay and "This field is required." not in delay


def test_bad_input_on_flow_actions_is_answered_not_crashed(marketer_client, canvas):
    assert (
        marketer_client.post(
            url("step-add", canvas.pk), {"step_type": "delay", "parent": "abc"}
        ).status_code
        == 302
    )
    response = marketer_client.post(
        url("step-add", canvas.pk), {"step_type": "teleport"}, follow=True
    )
    assert "Choose a component to add." in response.content.decode()
    assert not Step.objects.filter(canvas=canvas).exists()


def test_entry_schedule_shows_the_canvas_id_and_a_curl_for_the_rest_api(marketer_client, canvas):
    page = marketer_client.get(url("entry", canvas.pk)).content.decode()

    assert f'data-testid="canvas-id">{canvas.pk}<' in page
    assert "curl -X POST &#x27;http://testserver/api/canvas/trigger/send&#x27;" in page
    assert "Authorization: Bearer YOUR-REST-API-KEY" in page
    assert f"&quot;canvas_id&quot;: &quot;{canvas.pk}&quot;" in page
    assert "&quot;recipients&quot;" in page


def test_entry_schedule_at_a_set_time_must_be_in_the_future(marketer_client, canvas):
    past = marketer_client.post(
        url("entry", canvas.pk),
        {"entry_type": "scheduled", "schedule_mode": "time", "schedule_at": "2001-01-01T10:00"},
    )
    assert "Choose a time in the future." in past.content.decode()
    missing = marketer_client.post(
        url("entry", canvas.pk), {"entry_type": "scheduled", "schedule_mode": "time"}
    )
    assert "Choose the entry time." in missing.content.decode()

    marketer_client.post(
        url("entry", canvas.pk),
        {"entry_type": "scheduled", "schedule_mode": "time", "schedule_at": "2999-01-01T10:00"},
    )
    canvas.refresh_from_db()
    assert canvas.entry_type == EntryType.SCHEDULED
    assert canvas.schedule_at.isoformat() == "2999-01-01T10:00:00+00:00"

    marketer_client.post(
        url("entry", canvas.pk), {"entry_type": "scheduled", "schedule_mode": "launch"}
    )
    canvas.refresh_from_db()
    assert canvas.schedule_at is None


def test_target_audience_filters_are_added_and_removed_with_field_errors(marketer_client, canvas):
    bad = marketer_client.post(
        url("audience", canvas.pk),
        {"add_filter": "1", "filter_field": "country", "filter_value": "Germany"},
    )
    assert bad.status_code == 200
    assert "Enter a two-letter country code" in bad.content.decode()

    marketer_client.post(
        url("audience", canvas.pk),
        {"add_filter": "1", "filter_field": "ad_tracking_enabled", "filter_flag": "true"},
    )
    marketer_client.post(
        url("audience", canvas.pk),
        {"add_filter": "1", "filter_field": "country", "filter_op": "not_equals",
         "filter_value": "de", "allow_reentry": "on"},
    )  # fmt: skip
    canvas.refresh_from_db()
    assert canvas.audience_filters == [
        {"field": "ad_tracking_enabled", "op": "is", "value": True},
        {"field": "country", "op": "not_equals", "value": "DE"},
    ]
    assert canvas.allow_reentry is True
    page = marketer_client.get(url("audience", canvas.pk)).content.decode()
    assert "Ad Tracking Enabled is true" in page and "Country is not DE" in page

    marketer_client.post(url("audience", canvas.pk), {"remove_filter": "0", "allow_reentry": "on"})
    marketer_client.post(url("audience", canvas.pk), {"remove_filter": "nope"})
    canvas.refresh_from_db()
    assert canvas.audience_filters == [{"field": "country", "op": "not_equals", "value": "DE"}]
    assert canvas.allow_reentry is False


def test_the_delay_and_split_editors_save_and_show_errors(marketer_client, marketer, canvas):
    delay = services.step_add(actor=marketer, canvas=canvas, step_type=StepType.DELAY)
    split = services.step_add(
        actor=marketer, canvas=canvas, step_type=StepType.DECISION_SPLIT, parent_id=delay.pk
    )

    bad = marketer_client.post(
        url("step-edit", canvas.pk, delay.pk), {"amount": "0", "unit": "days"}
    )
    assert "Ensure this value is greater than or equal to 1." in bad.content.decode()
    marketer_client.post(
        url("step-edit", canvas.pk, delay.pk),
        {"name": "Wait a bit", "amount": "3", "unit": "hours"},
    )
    delay.refresh_from_db()
    assert (delay.name, delay.config) == ("Wait a bit", {"seconds": 3 * 3600})

    marketer_client.post(
        url("step-edit", canvas.pk, split.pk),
        {
            "name": "Has email?",
            "add_filter": "1",
            "filter_field": "has_email",
            "filter_flag": "true",
        },
    )
    split.refresh_from_db()
    assert split.config == {"filters": [{"field": "has_email", "op": "is", "value": True}]}
    build = marketer_client.get(url("build", canvas.pk)).content.decode()
    assert "Wait 3 hours, then continue." in build and "Yes when: Has an email address" in build


def test_launch_refusal_is_listed_on_the_summary_and_next_to_the_step(
    marketer_client, marketer, canvas
):
    step = services.step_add(
        actor=marketer, canvas=canvas, step_type=StepType.AUDIENCE_SYNC, name="Sync"
    )

    response = marketer_client.post(url("launch", canvas.pk), follow=True)

    page = response.content.decode()
    assert response.redirect_chain[-1][0] == url("summary", canvas.pk)
    assert "The Canvas was not launched: 4 problems to fix." in page
    assert "This Canvas can't launch yet" in page
    for reason in [
        "TikTok is not connected.",
        "No ad account",
        "No audience name",
        "No field to match",
    ]:
        assert reason in page
    # Next to the step, in the flow drawn on the Summary (and in Build Canvas).
    assert 'aria-label="Problems of Sync"' in page
    assert (
        'aria-label="Problems of Sync"'
        in marketer_client.get(url("build", canvas.pk)).content.decode()
    )
    canvas.refresh_from_db()
    assert canvas.state == CanvasState.DRAFT and step


def test_an_active_canvas_using_tiktok_shows_the_invalid_token_banner(
    marketer_client, marketer, canvas, connection
):
    services.step_add(actor=marketer, canvas=canvas, step_type=StepType.AUDIENCE_SYNC)
    Canvas.objects.filter(pk=canvas.pk).update(state=CanvasState.ACTIVE)
    assert (
        "TikTok: Invalid Token" not in marketer_client.get(url("build", canvas.pk)).content.decode()
    )

    connection.status = ConnectionStatus.INVALID
    connection.invalid_code = 40105
    connection.invalid_message = "The access token has been revoked."
    connection.save()

    for tab in ["build", "summary", "basics"]:
        page = marketer_client.get(url(tab, canvas.pk)).content.decode()
        assert "TikTok: Invalid Token." in page and "The access token has been revoked." in page
    # A draft, or an active Canvas without TikTok, does not cry wolf.
    other = CanvasFactory(app_group=canvas.app_group, name="No TikTok", state=CanvasState.ACTIVE)
    assert (
        "TikTok: Invalid Token" not in marketer_client.get(url("build", other.pk)).content.decode()
    )


def test_gear_actions_change_state(marketer_client, marketer, canvas):
    Canvas.objects.filter(pk=canvas.pk).update(state=CanvasState.ACTIVE)
    assert "Stop" in marketer_client.get(url("build", canvas.pk)).content.decode()

    marketer_client.post(url("stop", canvas.pk))
    canvas.refresh_from_db()
    assert canvas.state == CanvasState.STOPPED
    wrong = marketer_client.post(url("stop", canvas.pk), follow=True)
    assert wrong.status_code == 200

    marketer_client.post(url("archive", canvas.pk))
    canvas.refresh_from_db()
    assert canvas.state == CanvasState.ARCHIVED
    response = marketer_client.post(url("resume", canvas.pk), follow=True)
    assert "Only a Stopped Canvas can be resumed" in response.content.decode()


@pytest.mark.parametrize(
    "view, data",
    [
        ("basics", {"name": "x" * 201, "tags": "a," * 30}),
        ("basics", {"name": "ok", "tags": ",".join(f"t{i}" for i in range(25))}),
        ("entry", {"entry_type": "whenever"}),
        (
            "entry",
            {"entry_type": "scheduled", "schedule_mode": "time", "schedule_at": "2999-13-40T10:00"},
        ),
        ("audience", {"add_filter": "1", "filter_field": "nope"}),
        ("audience", {"add_filter": "1", "filter_field": "custom_attribute", "filter_value": "x"}),
        ("step-edit", {"amount": "abc", "unit": "fortnights"}),
        ("step-edit", {"amount": str(10**12), "unit": "days"}),
        ("step-delete", {"keep": "maybe"}),
        ("audience-sync", {"op": "save", "ad_account": "abc", "match_fields": ["retina"]}),
        ("audience-sync", {"op": "save", "audience": "tiktok:abc", "action": "shout"}),
        ("audience-sync", {"op": "create_audience", "audience_query": "q" * 500}),
        ("audience-sync", {"op": "save", "partner": "myspace"}),
    ],
)
def test_odd_input_is_answered_with_words_not_a_server_error(
    marketer_client, marketer, canvas, view, data
):
    delay = services.step_add(actor=marketer, canvas=canvas, step_type=StepType.DELAY)
    sync = services.step_add(
        actor=marketer, canvas=canvas, step_type=StepType.AUDIENCE_SYNC, parent_id=delay.pk
    )
    split = services.step_add(
        actor=marketer, canvas=canvas, step_type=StepType.DECISION_SPLIT, parent_id=sync.pk
    )
    args = {
        "step-edit": [canvas.pk, delay.pk],
        "step-delete": [canvas.pk, split.pk],
        "audience-sync": [canvas.pk, sync.pk],
    }.get(view, [canvas.pk])
    before = list(Step.objects.filter(deleted_at__isnull=True).values_list("pk", "config"))

    response = marketer_client.post(url(view, *args), data, follow=True)

    assert response.status_code == 200
    page = response.content.decode()
    assert "field-error" in page or "message-error" in page or "notice-error" in page
    assert list(Step.objects.filter(deleted_at__isnull=True).values_list("pk", "config")) == before
