"""The demo's main job, through the TikTok sandbox over HTTP: seed, the admin connects TikTok,
the marketer launches the Draft demo Canvas with nothing else to set, its gold-plan users reach
the sandbox audience."""

import io

import pytest
from django.core.management import call_command

from analytics.models import StepStats
from appgroups.models import Membership
from audience_sync.flush import audience_sync_flush
from canvas.launch import canvas_launch, canvas_launch_problems
from canvas.models import AudienceSyncSettings, Canvas, CanvasState, EntryType, StepType
from demo.services import DEMO_AUDIENCE, DEMO_CANVAS, demo_canvas_complete
from journeys.engine import journeys_advance
from journeys.entries import scheduled_entries_run
from tests.tiktok import connect_through_oauth, point_at_sandbox
from users.models import Profile

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(settings, tmp_path):
    settings.DEBUG = True
    settings.DEMO_CREDENTIALS_FILE = tmp_path / "demo-credentials.txt"
    call_command("seed_demo", stdout=io.StringIO())
    return (
        Membership.objects.get(user__email="admin@demo.local"),
        Membership.objects.get(user__email="marketer@demo.local"),
    )


def demo_step():
    canvas = Canvas.objects.get(app_group__name="Demo", name=DEMO_CANVAS)
    return canvas, canvas.steps.get(step_type=StepType.AUDIENCE_SYNC, deleted_at__isnull=True)


def test_the_seed_creates_one_draft_canvas_waiting_for_tiktok(seeded, settings):
    call_command("seed_demo", stdout=io.StringIO())  # again: still one

    canvas, step = demo_step()
    assert Canvas.objects.filter(app_group__name="Demo").count() == 1
    assert canvas.state == CanvasState.DRAFT
    assert canvas.entry_type == EntryType.SCHEDULED
    assert canvas.created_by.email == "marketer@demo.local"
    sync = AudienceSyncSettings.objects.get(step=step)
    assert (sync.action, sync.match_fields, sync.ad_account) == ("add", ["email", "phone"], None)
    problems = [p.message for p in canvas_launch_problems(canvas=canvas, check_tiktok=False)]
    assert any("No ad account" in p for p in problems), problems


def test_connect_then_launch_syncs_the_gold_users(
    seeded, settings, tiktok_sandbox, django_capture_on_commit_callbacks
):
    admin, marketer = seeded
    point_at_sandbox(settings, tiktok_sandbox)
    with django_capture_on_commit_callbacks(execute=True):
        connection = connect_through_oauth(admin, tiktok_sandbox, tiktok_sandbox.advertiser_ids[:1])

    canvas, step = demo_step()
    sync = AudienceSyncSettings.objects.select_related("audience", "ad_account").get(step=step)
    assert sync.ad_account.connection == connection
    assert (sync.audience.name, sync.creates_audience) == (DEMO_AUDIENCE, True)
    assert canvas_launch_problems(canvas=canvas) == []

    canvas_launch(actor=marketer, canvas=canvas)
    scheduled_entries_run()
    while journeys_advance() or audience_sync_flush(max_seconds=30).requests:
        pass

    gold = Profile.objects.filter(app_group=admin.app_group, custom_attributes__plan="gold")
    matchable = gold.exclude(email_sha256=None, phone_sha256=None)
    stats = StepStats.objects.filter(step=step)
    assert sum(s.entered for s in stats) == gold.count() > 500
    assert sum(s.synced for s in stats) == matchable.count() > 500
    sync.audience.refresh_from_db()
    members = tiktok_sandbox.members(sync.audience.tiktok_audience_id)
    emails = set(matchable.exclude(email_sha256=None).values_list("email_sha256", flat=True))
    assert set(members["EMAIL_SHA256"]) == emails


def test_nothing_is_completed_outside_the_demo_or_in_production(
    seeded, settings, tiktok_sandbox, app_group, admin
):
    point_at_sandbox(settings, tiktok_sandbox)
    other = connect_through_oauth(admin, tiktok_sandbox, tiktok_sandbox.advertiser_ids[:1])
    assert demo_canvas_complete(connection=other) == 0  # another app group
    demo_admin, _ = seeded
    settings.DEBUG = False
    connection = connect_through_oauth(
        demo_admin, tiktok_sandbox, tiktok_sandbox.advertiser_ids[:1]
    )
    assert demo_canvas_complete(connection=connection) == 0
    _, step = demo_step()
    assert AudienceSyncSettings.objects.get(step=step).ad_account is None
