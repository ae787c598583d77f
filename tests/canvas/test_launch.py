"""Launch rules (every refusal reason), state changes, and creating the draft audiences on
TikTok exactly once. TikTok is the in-memory fake here; test_launch_sandbox.py repeats the
critical paths against the sandbox over HTTP."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from canvas import launch, services
from canvas.launch import canvas_launch_problems
from canvas.models import Branch, CanvasState, EntryType, StepType
from partners.models import AdAccountStatus, AudienceStatus, ConnectionStatus, TikTokAudience
from partners.tiktok import audiences
from partners.tiktok.client import (
    TikTokAuthError,
    TikTokPermanentError,
    TikTokTransientError,
)

from .conftest import ADVERTISER_ID


def add(actor, canvas, step_type, parent=None, branch=Branch.NEXT, name=""):
    return services.step_add(
        actor=actor, canvas=canvas, step_type=step_type,
        parent_id=parent.pk if parent else None, branch=branch, name=name,
    )  # fmt: skip


def new_audience(actor, step, ad_account, name, fields=("email", "phone")):
    return services.audience_draft_create(
        actor=actor, step=step, ad_account_id=ad_account.pk, name=name, match_fields=list(fields)
    ).audience


def messages_of(canvas, check_tiktok=True):
    return [p.message for p in canvas_launch_problems(canvas=canvas, check_tiktok=check_tiktok)]


@pytest.fixture
def ready_canvas(marketer, canvas, ad_account, fake_tiktok):
    """Sync (new audience, email + phone) → Delay → Sync removing from the first's draft."""
    first = add(marketer, canvas, StepType.AUDIENCE_SYNC, name="Add buyers")
    draft = new_audience(marketer, first, ad_account, "Cart abandoners")
    delay = add(marketer, canvas, StepType.DELAY, first)
    second = add(marketer, canvas, StepType.AUDIENCE_SYNC, delay, name="Remove buyers")
    services.audience_sync_step_save(
        actor=marketer, step=second, ad_account_id=ad_account.pk,
        audience_choice=f"local:{draft.pk}", action="remove", match_fields=["email"],
    )  # fmt: skip
    return canvas


def test_a_complete_canvas_has_no_launch_problem(ready_canvas):
    assert messages_of(ready_canvas) == []


def test_launch_creates_each_draft_once_and_goes_active(marketer, ready_canvas, fake_tiktok):
    canvas = launch.canvas_launch(actor=marketer, canvas=ready_canvas)

    assert canvas.state == CanvasState.ACTIVE
    assert canvas.launched_at is not None
    assert fake_tiktok.created == [(ADVERTISER_ID, "Cart abandoners")]
    audience = TikTokAudience.objects.get(name="Cart abandoners")
    assert audience.status == AudienceStatus.CREATED
    assert audience.tiktok_audience_id == fake_tiktok.audiences[ADVERTISER_ID][0].audience_id

    # A double click, or a retried request: nothing more happens.
    launch.canvas_launch(actor=marketer, canvas=ready_canvas)
    assert fake_tiktok.created == [(ADVERTISER_ID, "Cart abandoners")]


def test_launch_is_refused_when_tiktok_is_not_connected(marketer, canvas):
    add(marketer, canvas, StepType.AUDIENCE_SYNC)

    problems = messages_of(canvas)

    assert any(m.startswith("TikTok is not connected.") for m in problems)
    with pytest.raises(launch.LaunchRefused) as refused:
        launch.canvas_launch(actor=marketer, canvas=canvas)
    assert refused.value.problems
    canvas.refresh_from_db()
    assert canvas.state == CanvasState.DRAFT


def test_launch_is_refused_when_the_token_is_invalid(ready_canvas, connection):
    connection.status = ConnectionStatus.INVALID
    connection.invalid_code = 40105
    connection.invalid_message = "Access token is incorrect or has been revoked."
    connection.save()

    assert any(
        m.startswith("Invalid Token:") and "40105" in m and "reconnect" in m
        for m in messages_of(ready_canvas)
    )


def test_a_token_rejected_while_checking_marks_the_connection_invalid_and_refuses(
    ready_canvas, connection, fake_tiktok
):
    fake_tiktok.errors["list_audiences"] = [TikTokAuthError("Access token revoked", code=40105)]

    problems = messages_of(ready_canvas)

    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.INVALID
    assert any(m.startswith("Invalid Token:") for m in problems)


def test_each_step_problem_is_listed_next_to_its_step(marketer, canvas, ad_account, fake_tiktok):
    bare = add(marketer, canvas, StepType.AUDIENCE_SYNC, name="Bare")
    no_fields = add(marketer, canvas, StepType.AUDIENCE_SYNC, bare, name="No fields")
    services.audience_sync_step_save(
        actor=marketer, step=no_fields, ad_account_id=ad_account.pk, audience_choice="",
        action="add", match_fields=[],
    )  # fmt: skip

    problems = {
        (p.step_label, p.message.split(":")[0])
        for p in canvas_launch_problems(canvas=canvas, check_tiktok=True)
    }

    assert problems == {
        ("Bare", "No ad account"),
        ("Bare", "No audience name"),
        ("Bare", "No field to match"),
        ("No fields", "No audience name"),
        ("No fields", "No field to match"),
    }


def test_launch_is_refused_when_the_ad_account_would_pass_400_audiences(
    marketer, ready_canvas, ad_account, fake_tiktok
):
    for i in range(399):
        fake_tiktok.add(ADVERTISER_ID, f"Existing {i}")

    # 399 on TikTok + 1 draft = 400 is allowed; one more audience on TikTok tips it over.
    assert canvas_launch_problems(canvas=ready_canvas) == []
    fake_tiktok.add(ADVERTISER_ID, "One too many")
    problems = canvas_launch_problems(canvas=ready_canvas)
    assert [p.step_label for p in problems] == ["Add buyers"]
    assert "400" in problems[0].message and "Northwind US has 400 audiences" in problems[0].message
    with pytest.raises(launch.LaunchRefused):
        launch.canvas_launch(actor=marketer, canvas=ready_canvas)
    assert fake_tiktok.created == []


def test_launch_is_refused_when_a_remove_step_names_a_draft_no_step_creates(marketer, ready_canvas):
    creator = ready_canvas.steps.get(name="Add buyers")

    services.step_delete(actor=marketer, step=creator)

    problems = canvas_launch_problems(canvas=ready_canvas)
    assert [p.step_label for p in problems] == ["Remove buyers"]
    assert "removes users from “Cart abandoners”, a draft audience that no step" in (
        problems[0].message
    )


def test_launch_is_refused_when_an_existing_audience_was_deleted_on_tiktok(
    marketer, canvas, ad_account, fake_tiktok
):
    existing = fake_tiktok.add(ADVERTISER_ID, "Newsletter readers")
    step = add(marketer, canvas, StepType.AUDIENCE_SYNC, name="Remove readers")
    services.audience_sync_step_save(
        actor=marketer, step=step, ad_account_id=ad_account.pk,
        audience_choice=f"tiktok:{existing.audience_id}", action="remove", match_fields=["email"],
    )  # fmt: skip
    assert messages_of(canvas) == []

    fake_tiktok.audiences[ADVERTISER_ID].clear()

    problems = messages_of(canvas)
    assert len(problems) == 1
    assert problems[0].startswith("Audience Does Not Exist: “Newsletter readers”")


def test_launch_is_refused_when_the_ad_account_was_disconnected(ready_canvas, ad_account):
    ad_account.status = AdAccountStatus.DISCONNECTED
    ad_account.save()

    problems = messages_of(ready_canvas)
    assert sum("is no longer connected" in m for m in problems) == 2


def test_other_launch_checks(marketer, canvas):
    assert messages_of(canvas) == ["The Canvas has no step: add one in Build Canvas."]

    add(marketer, canvas, StepType.DECISION_SPLIT, name="Split")
    canvas.entry_type = EntryType.SCHEDULED
    canvas.schedule_at = timezone.now() - timedelta(minutes=1)
    canvas.save()

    problems = messages_of(canvas)
    assert any(m.startswith("The scheduled entry time has passed") for m in problems)
    assert any(m.startswith("Decision Split without a filter") for m in problems)


def test_a_tiktok_error_stops_the_launch_half_way_and_a_retry_creates_only_the_rest(
    marketer, canvas, ad_account, fake_tiktok
):
    first = add(marketer, canvas, StepType.AUDIENCE_SYNC, name="One")
    new_audience(marketer, first, ad_account, "Audience one")
    second = add(marketer, canvas, StepType.AUDIENCE_SYNC, first, name="Two")
    new_audience(marketer, second, ad_account, "Audience two")
    original = fake_tiktok.create_audience
    calls = []

    def fail_on_second(**kwargs):
        calls.append(kwargs["name"])
        if kwargs["name"] == "Audience two" and calls.count("Audience two") == 1:
            raise TikTokPermanentError("Invalid parameters: custom_audience_name", code=40002)
        return original(**kwargs)

    fake_tiktok.create_audience = fail_on_second

    with pytest.raises(ValidationError) as caught:
        launch.canvas_launch(actor=marketer, canvas=canvas)

    assert "TikTok refused to create the audience “Audience two”: Invalid parameters" in (
        " ".join(caught.value.messages)
    )
    canvas.refresh_from_db()
    assert canvas.state == CanvasState.DRAFT
    assert TikTokAudience.objects.get(name="Audience one").status == AudienceStatus.CREATED
    failed = TikTokAudience.objects.get(name="Audience two")
    assert failed.status == AudienceStatus.FAILED
    assert "Invalid parameters" in failed.error_message

    launch.canvas_launch(actor=marketer, canvas=canvas)

    canvas.refresh_from_db()
    assert canvas.state == CanvasState.ACTIVE
    assert fake_tiktok.names(ADVERTISER_ID) == ["Audience one", "Audience two"]
    assert calls == ["Audience one", "Audience two", "Audience two"]


def test_a_timeout_that_created_the_audience_anyway_is_found_on_retry_not_duplicated(
    marketer, ready_canvas, fake_tiktok
):
    original = fake_tiktok.create_audience

    def created_but_timed_out(**kwargs):
        original(**kwargs)
        raise TikTokTransientError("/segment/audience/ timed out")

    fake_tiktok.create_audience = created_but_timed_out
    with pytest.raises(ValidationError, match="could not be reached"):
        launch.canvas_launch(actor=marketer, canvas=ready_canvas)
    fake_tiktok.create_audience = original

    launch.canvas_launch(actor=marketer, canvas=ready_canvas)

    assert fake_tiktok.names(ADVERTISER_ID) == ["Cart abandoners"]
    audience = TikTokAudience.objects.get(name="Cart abandoners")
    assert audience.tiktok_audience_id == fake_tiktok.audiences[ADVERTISER_ID][0].audience_id


def test_a_stale_claim_of_a_dead_process_is_resolved_by_looking_the_name_up(
    marketer, ready_canvas, fake_tiktok
):
    # A launch claimed the draft, TikTok created the audience, and the process died before
    # recording the id.
    draft = TikTokAudience.objects.get(name="Cart abandoners")
    on_tiktok = fake_tiktok.add(
        ADVERTISER_ID, "Cart abandoners", create_time=timezone.now().strftime("%Y-%m-%d %H:%M:%S")
    )
    TikTokAudience.objects.filter(pk=draft.pk).update(
        status=AudienceStatus.CREATING, creating_since=timezone.now() - timedelta(minutes=5)
    )

    launch.canvas_launch(actor=marketer, canvas=ready_canvas)

    draft.refresh_from_db()
    assert draft.status == AudienceStatus.CREATED
    assert draft.tiktok_audience_id == on_tiktok.audience_id
    assert fake_tiktok.created == []


def test_an_old_audience_with_the_same_name_is_not_mistaken_for_the_draft(
    marketer, ready_canvas, fake_tiktok
):
    draft = TikTokAudience.objects.get(name="Cart abandoners")
    fake_tiktok.add(ADVERTISER_ID, "Cart abandoners", create_time="2019-05-01 10:00:00")
    TikTokAudience.objects.filter(pk=draft.pk).update(status=AudienceStatus.FAILED)

    launch.canvas_launch(actor=marketer, canvas=ready_canvas)

    assert fake_tiktok.created == [(ADVERTISER_ID, "Cart abandoners")]
    draft.refresh_from_db()
    assert draft.tiktok_audience_id == fake_tiktok.audiences[ADVERTISER_ID][1].audience_id


def test_a_fresh_claim_held_elsewhere_makes_the_launch_wait_then_say_so(
    marketer, ready_canvas, fake_tiktok, monkeypatch
):
    monkeypatch.setattr(audiences, "AUDIENCE_CLAIM_WAIT_SECONDS", 0.3)
    TikTokAudience.objects.filter(name="Cart abandoners").update(
        status=AudienceStatus.CREATING, creating_since=timezone.now()
    )

    with pytest.raises(ValidationError, match="being created by another launch"):
        launch.canvas_launch(actor=marketer, canvas=ready_canvas)

    assert fake_tiktok.created == []
    ready_canvas.refresh_from_db()
    assert ready_canvas.state == CanvasState.DRAFT


def test_stop_resume_and_archive_follow_the_state_rules(marketer, ready_canvas, fake_tiktok):
    with pytest.raises(ValidationError, match="Only an Active Canvas can be stopped"):
        launch.canvas_stop(actor=marketer, canvas=ready_canvas)
    with pytest.raises(ValidationError, match="Only a Stopped Canvas can be resumed"):
        launch.canvas_resume(actor=marketer, canvas=ready_canvas)

    launch.canvas_launch(actor=marketer, canvas=ready_canvas)
    launch.canvas_stop(actor=marketer, canvas=ready_canvas)
    assert ready_canvas.state == CanvasState.STOPPED and ready_canvas.stopped_at
    with pytest.raises(ValidationError, match="Only a Draft Canvas can be launched"):
        launch.canvas_launch(actor=marketer, canvas=ready_canvas)

    launch.canvas_resume(actor=marketer, canvas=ready_canvas)
    assert ready_canvas.state == CanvasState.ACTIVE and ready_canvas.stopped_at is None

    launch.canvas_archive(actor=marketer, canvas=ready_canvas)
    assert ready_canvas.state == CanvasState.ARCHIVED
    with pytest.raises(ValidationError, match="Archived Canvases cannot be changed"):
        add(marketer, ready_canvas, StepType.DELAY)
    with pytest.raises(ValidationError, match="Only a Stopped Canvas"):
        launch.canvas_resume(actor=marketer, canvas=ready_canvas)
    assert fake_tiktok.created == [(ADVERTISER_ID, "Cart abandoners")]


def test_resume_runs_the_launch_checks_again(marketer, ready_canvas, ad_account):
    launch.canvas_launch(actor=marketer, canvas=ready_canvas)
    launch.canvas_stop(actor=marketer, canvas=ready_canvas)
    ad_account.status = AdAccountStatus.DISCONNECTED
    ad_account.save()

    with pytest.raises(launch.LaunchRefused):
        launch.canvas_resume(actor=marketer, canvas=ready_canvas)
    assert ready_canvas.state == CanvasState.STOPPED


def test_a_new_audience_in_a_launched_canvas_is_created_on_tiktok_at_once(
    marketer, ready_canvas, ad_account, fake_tiktok
):
    launch.canvas_launch(actor=marketer, canvas=ready_canvas)
    last = ready_canvas.steps.get(name="Remove buyers")
    step = add(marketer, ready_canvas, StepType.AUDIENCE_SYNC, last, name="Late")

    result = services.audience_draft_create(
        actor=marketer, step=step, ad_account_id=ad_account.pk, name="Late joiners",
        match_fields=["email"],
    )  # fmt: skip

    assert result.notice == "Audience “Late joiners” was created on TikTok."
    assert result.audience.status == AudienceStatus.CREATED
    assert fake_tiktok.names(ADVERTISER_ID) == ["Cart abandoners", "Late joiners"]


def test_a_launched_canvas_keeps_its_audience_sync_steps_complete(
    marketer, ready_canvas, ad_account
):
    launch.canvas_launch(actor=marketer, canvas=ready_canvas)
    step = ready_canvas.steps.get(name="Remove buyers")

    with pytest.raises(ValidationError) as caught:
        services.audience_sync_step_save(
            actor=marketer, step=step, ad_account_id=ad_account.pk,
            audience_choice=f"local:{step.audience_sync.audience_id}", action="remove",
            match_fields=[],
        )  # fmt: skip
    assert caught.value.message_dict == {"match_fields": ["Tick at least one field to match."]}


def test_viewers_and_other_app_groups_cannot_launch(viewer, ready_canvas, other_app_group):
    from appgroups.models import Role
    from tests.factories import MembershipFactory

    with pytest.raises(PermissionDenied):
        launch.canvas_launch(actor=viewer, canvas=ready_canvas)
    outsider = MembershipFactory(app_group=other_app_group, role=Role.ADMIN)
    with pytest.raises(PermissionDenied):
        launch.canvas_launch(actor=outsider, canvas=ready_canvas)
    with pytest.raises(PermissionDenied):
        services.step_add(actor=outsider, canvas=ready_canvas, step_type=StepType.DELAY)
    ready_canvas.refresh_from_db()
    assert ready_canvas.state == CanvasState.DRAFT
