"""Launch and the Audience Sync editor against the TikTok sandbox over HTTP: the draft
audiences are created on TikTok exactly once, however the launch is raced, retried or broken
off half-way."""

import threading
import time

import pytest
from django.db import connection as db_connection

from canvas import launch, services
from canvas.audience_picker import audience_options
from canvas.launch import canvas_launch_problems
from canvas.models import Branch, CanvasState, StepType
from partners.models import AudienceStatus, ConnectionStatus, TikTokAudience
from partners.tiktok import audiences
from partners.tiktok.client import TikTokClient

from .conftest import sandbox_audiences


def add(actor, canvas, step_type, parent=None, branch=Branch.NEXT, name=""):
    return services.step_add(
        actor=actor, canvas=canvas, step_type=step_type,
        parent_id=parent.pk if parent else None, branch=branch, name=name,
    )  # fmt: skip


@pytest.fixture
def ad_account(sandbox_connection):
    return sandbox_connection.ad_accounts.get()


@pytest.fixture
def two_drafts(marketer, canvas, ad_account):
    first = add(marketer, canvas, StepType.AUDIENCE_SYNC, name="One")
    services.audience_draft_create(
        actor=marketer, step=first, ad_account_id=ad_account.pk, name="Cart abandoners",
        match_fields=["email", "phone"],
    )  # fmt: skip
    second = add(marketer, canvas, StepType.AUDIENCE_SYNC, first, name="Two")
    services.audience_draft_create(
        actor=marketer, step=second, ad_account_id=ad_account.pk, name="Big spenders",
        match_fields=["idfa"],
    )  # fmt: skip
    return canvas


def names_on_tiktok(tiktok_sandbox, ad_account) -> list[str]:
    return sorted(a["name"] for a in sandbox_audiences(tiktok_sandbox, ad_account.advertiser_id))


def test_launch_creates_the_drafts_on_tiktok(marketer, two_drafts, ad_account, tiktok_sandbox):
    launch.canvas_launch(actor=marketer, canvas=two_drafts)

    on_tiktok = {a["name"]: a for a in sandbox_audiences(tiktok_sandbox, ad_account.advertiser_id)}
    assert sorted(on_tiktok) == ["Big spenders", "Cart abandoners"]
    for audience in TikTokAudience.objects.all():
        assert audience.status == AudienceStatus.CREATED
        assert audience.tiktok_audience_id == on_tiktok[audience.name]["audience_id"]
    two_drafts.refresh_from_db()
    assert two_drafts.state == CanvasState.ACTIVE


@pytest.mark.django_db(transaction=True)
def test_two_launches_racing_create_one_tiktok_audience_per_draft(
    marketer, two_drafts, ad_account, tiktok_sandbox, monkeypatch
):
    # Each create waits a little at TikTok's door, so the second launch arrives while the
    # first holds the claim.
    real_create = TikTokClient.create_audience
    calls = []

    def slow_create(self, **kwargs):
        calls.append(kwargs["name"])
        time.sleep(0.3)
        return real_create(self, **kwargs)

    monkeypatch.setattr(TikTokClient, "create_audience", slow_create)
    start = threading.Barrier(2)
    outcomes = []

    def launch_once():
        try:
            start.wait()
            launch.canvas_launch(
                actor=marketer, canvas=type(two_drafts).objects.get(pk=two_drafts.pk)
            )
            outcomes.append("launched")
        except Exception as exc:  # noqa: BLE001 - the assertion below shows it
            outcomes.append(repr(exc))
        finally:
            db_connection.close()

    threads = [threading.Thread(target=launch_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert outcomes == ["launched", "launched"]
    # Both launches went through every draft; only the claim holder called TikTok.
    assert sorted(calls) == ["Big spenders", "Cart abandoners"]
    assert names_on_tiktok(tiktok_sandbox, ad_account) == ["Big spenders", "Cart abandoners"]
    creates = [r for r in tiktok_sandbox.requests("/segment/audience/") if r.get("code") == 0]
    assert len(creates) == 2
    two_drafts.refresh_from_db()
    assert two_drafts.state == CanvasState.ACTIVE


def test_a_launch_broken_off_half_way_and_retried_creates_each_audience_once(
    marketer, two_drafts, ad_account, tiktok_sandbox
):
    tiktok_sandbox.set_faults(endpoints=["/segment/audience/"], script=["none", "50000"])

    with pytest.raises(audiences.AudienceCreateError) as caught:
        launch.canvas_launch(actor=marketer, canvas=two_drafts)

    message = " ".join(caught.value.messages)
    assert "TikTok could not be reached to create the audience “Big spenders”" in message
    two_drafts.refresh_from_db()
    assert two_drafts.state == CanvasState.DRAFT
    assert names_on_tiktok(tiktok_sandbox, ad_account) == ["Cart abandoners"]

    launch.canvas_launch(actor=marketer, canvas=two_drafts)

    assert names_on_tiktok(tiktok_sandbox, ad_account) == ["Big spenders", "Cart abandoners"]
    two_drafts.refresh_from_db()
    assert two_drafts.state == CanvasState.ACTIVE


def test_a_create_that_landed_but_timed_out_is_found_on_retry_not_made_twice(
    marketer, two_drafts, ad_account, tiktok_sandbox
):
    # TikTok applies the first create, then never answers: the client gets a 504.
    tiktok_sandbox.set_faults(
        endpoints=["/segment/audience/"], script=["timeout"], timeout_seconds=0.2
    )

    with pytest.raises(audiences.AudienceCreateError, match="could not be reached"):
        launch.canvas_launch(actor=marketer, canvas=two_drafts)
    assert names_on_tiktok(tiktok_sandbox, ad_account) == ["Cart abandoners"]
    assert TikTokAudience.objects.get(name="Cart abandoners").status == AudienceStatus.FAILED

    launch.canvas_launch(actor=marketer, canvas=two_drafts)

    assert names_on_tiktok(tiktok_sandbox, ad_account) == ["Big spenders", "Cart abandoners"]
    found = {
        a["name"]: a["audience_id"]
        for a in sandbox_audiences(tiktok_sandbox, ad_account.advertiser_id)
    }
    assert (
        TikTokAudience.objects.get(name="Cart abandoners").tiktok_audience_id
        == found["Cart abandoners"]
    )


def test_a_revoked_token_refuses_the_launch_and_marks_the_connection_invalid(
    marketer, two_drafts, sandbox_connection, tiktok_sandbox
):
    tiktok_sandbox.revoke()

    problems = [p.message for p in canvas_launch_problems(canvas=two_drafts)]

    assert len(problems) == 1 and problems[0].startswith("Invalid Token:")
    sandbox_connection.refresh_from_db()
    assert sandbox_connection.status == ConnectionStatus.INVALID
    with pytest.raises(launch.LaunchRefused):
        launch.canvas_launch(actor=marketer, canvas=two_drafts)
    assert tiktok_sandbox.requests("/segment/audience/") == []


def test_the_type_ahead_finds_audiences_past_tiktoks_first_page(
    canvas, ad_account, sandbox_connection, tiktok_sandbox
):
    token = sandbox_connection.access_token
    for i in range(120):
        tiktok_sandbox.create_audience(token, ad_account.advertiser_id, f"Segment {i:03d}")

    everything = audience_options(canvas=canvas, ad_account=ad_account, query="")
    late = audience_options(canvas=canvas, ad_account=ad_account, query="segment 119")

    assert len({o.name for o in everything.existing}) == 25  # the list is capped for display
    assert [o.name for o in late.existing] == ["Segment 119"]
    assert late.new_name == ""  # an existing name is not offered as new


def test_create_audience_is_refused_at_the_400_cap_and_the_launch_counts_drafts(
    marketer, canvas, ad_account, sandbox_connection, tiktok_sandbox
):
    token = sandbox_connection.access_token
    step = add(marketer, canvas, StepType.AUDIENCE_SYNC, name="Sync")
    for i in range(399):
        tiktok_sandbox.create_audience(token, ad_account.advertiser_id, f"Old {i}")
    services.audience_draft_create(
        actor=marketer, step=step, ad_account_id=ad_account.pk, name="The 400th",
        match_fields=["email"],
    )  # fmt: skip
    other = add(marketer, canvas, StepType.AUDIENCE_SYNC, step, name="Other")

    with pytest.raises(Exception, match="TikTok allows at most 400 per ad account"):
        services.audience_draft_create(
            actor=marketer, step=other, ad_account_id=ad_account.pk, name="The 401st",
            match_fields=["email"],
        )  # fmt: skip

    tiktok_sandbox.create_audience(token, ad_account.advertiser_id, "Made on TikTok meanwhile")
    problems = canvas_launch_problems(canvas=canvas)
    assert any(
        p.step_label == "Sync" and "past TikTok's limit of 400" in p.message for p in problems
    )
