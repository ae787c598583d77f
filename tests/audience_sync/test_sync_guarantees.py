"""What the Audience Sync promises, shown against the sandbox over HTTP (issue 7's list):
exact hashes for tricky identifiers, full batches, the rate limit across worker processes,
faults and timeouts, revoke and reconnect, and a worker killed mid-request."""

import os
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import AudienceSyncBatch, StepStats
from audience_sync.flush import audience_sync_flush
from audience_sync.models import AudienceSyncItem
from canvas.models import MatchField
from journeys.entries import canvas_entries_create
from partners.models import ConnectionStatus
from tests.plugins.canvases import T0, bulk_profiles, enter, members
from tests.tiktok import connect_through_oauth
from users.identifiers import sha256_hex as sha
from users.models import Profile

pytestmark = pytest.mark.django_db


PRE_HASHED = sha("someone@example.com")

# (what a customer sends, what TikTok must receive) per field; None: Not Synced.
TRICKY = [
    ({"email": "  Ana.Lopez@Example.COM "}, {"EMAIL_SHA256": sha("ana.lopez@example.com")}),
    ({"email": PRE_HASHED.upper()}, {"EMAIL_SHA256": PRE_HASHED}),
    ({"email": "not an email"}, None),
    ({"phone": "(650) 555-0142"}, {"PHONE_SHA256": sha("+16505550142")}),  # default country US
    ({"phone": "+44 20 7946 0958"}, {"PHONE_SHA256": sha("+442079460958")}),
    ({"phone": "650.555.0143"}, {"PHONE_SHA256": sha("+16505550143")}),
    ({"phone": "12"}, None),
    (
        {"devices": [{"device_id": "i", "idfa": " 6D92078A-8246-4BA4-AE5B-76104861E7DC "}]},
        {"IDFA_SHA256": sha("6d92078a-8246-4ba4-ae5b-76104861e7dc")},
    ),
    ({"devices": [{"device_id": "g", "google_ad_id": "not-a-uuid"}]}, None),
]


def test_tricky_identifiers_reach_tiktok_exactly_hashed(
    tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, make_profiles
):
    step = sync_to_sandbox([MatchField.EMAIL, MatchField.PHONE, MatchField.IDFA, MatchField.GAID])
    profiles = make_profiles(
        *[{"external_id": f"t{i}", **given} for i, (given, _) in enumerate(TRICKY)]
    )

    enter(active_canvas, profiles.values())
    audience_sync_flush(now=T0)

    expected: dict[str, set] = {}
    for _, wanted in TRICKY:
        for id_type, value in (wanted or {}).items():
            expected.setdefault(id_type, set()).add(value)
    assert members(tiktok_sandbox, sandbox_tiktok[1]) == expected
    stats = StepStats.objects.get(step=step)
    unsent = sum(1 for _, wanted in TRICKY if wanted is None)
    assert (stats.synced, stats.not_synced) == (len(TRICKY) - unsent, unsent)


def test_25001_users_go_out_in_3_requests(
    tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, app_group
):
    step = sync_to_sandbox([MatchField.EMAIL])
    bulk_profiles(app_group, 25_001)
    canvas_entries_create(canvas=active_canvas, profiles=Profile.objects.all(), now=T0)
    from journeys.engine import journeys_advance

    journeys_advance(now=T0)
    audience_sync_flush(now=T0)

    sizes = sorted(AudienceSyncBatch.objects.values_list("size", flat=True), reverse=True)
    assert sizes == [10_000, 10_000, 5_001]
    assert tiktok_sandbox.audience(sandbox_tiktok[1].tiktok_audience_id)["size"] == 25_001
    assert StepStats.objects.get(step=step).synced == 25_001


def test_faults_and_timeouts_end_with_everyone_synced(
    tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, make_profiles, settings
):
    settings.TIKTOK_READ_TIMEOUT = 1.0
    step = sync_to_sandbox([MatchField.EMAIL])
    enter(active_canvas, make_profiles(
        *[{"external_id": f"u{i}", "email": f"u{i}@x.com"} for i in range(20)]
    ).values())  # fmt: skip
    # A timeout is applied at TikTok but never answered: the retry must not count twice.
    tiktok_sandbox.set_faults(
        timeout_seconds=3, script=["timeout", "40100", "50000", "http_502", "http_504", "51001"]
    )

    later = T0
    for _ in range(8):
        audience_sync_flush(now=later)
        later += timedelta(minutes=20)

    stats = StepStats.objects.get(step=step)
    assert (stats.synced, stats.errored, stats.pending) == (20, 0, 0)
    assert len(members(tiktok_sandbox, sandbox_tiktok[1])["EMAIL_SHA256"]) == 20
    assert AudienceSyncBatch.objects.filter(outcome="retry").count() == 6


def test_revoke_makes_rows_wait_and_reconnecting_syncs_them(
    tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, make_profiles, admin
):
    connection = sandbox_tiktok[0]
    step = sync_to_sandbox([MatchField.EMAIL])
    enter(active_canvas, make_profiles({"external_id": "a", "email": "a@x.com"}).values())
    tiktok_sandbox.revoke(connection.access_token)
    audience_sync_flush(now=T0)
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.INVALID

    connect_through_oauth(admin, tiktok_sandbox, tiktok_sandbox.advertiser_ids[:1])
    audience_sync_flush(now=T0 + timedelta(hours=2))

    stats = StepStats.objects.get(step=step)
    assert (stats.synced, stats.errored, stats.pending) == (1, 0, 0)
    assert members(tiktok_sandbox, sandbox_tiktok[1]) == {"EMAIL_SHA256": {sha("a@x.com")}}


@pytest.mark.django_db(transaction=True)
def test_four_workers_never_exceed_the_limit_in_any_second(
    tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, make_profiles, settings,
    celery_worker_processes, app_group,
):  # fmt: skip
    from audience_sync.tasks import audience_sync_flush as flush_task
    from journeys.engine import journeys_advance

    # Small batches make many requests: 1,000 users / 5 = 200 requests at ≤ 50 per second.
    settings.TIKTOK_MAX_USERS_PER_REQUEST = 5
    step = sync_to_sandbox([MatchField.EMAIL])
    bulk_profiles(app_group, 1000)
    canvas_entries_create(canvas=active_canvas, profiles=Profile.objects.all())
    journeys_advance()
    workers = celery_worker_processes(4)

    for _ in workers:
        flush_task.delay()
    deadline = time.monotonic() + 90
    while StepStats.objects.get(step=step).synced < 1000:
        assert time.monotonic() < deadline, workers[0].log()
        time.sleep(0.25)

    mapping = tiktok_sandbox.stats()["mapping"]
    assert mapping["max_requests_in_any_second"] <= 50
    assert mapping["rate_limited"] == 0
    assert AudienceSyncBatch.objects.count() == 200
    # The workers did the sending (this process never flushes): they received flush tasks.
    assert any("audience_sync.tasks.audience_sync_flush" in w.log() for w in workers)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_request_loses_nothing_and_counts_nothing_twice(
    tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, make_profiles,
    celery_worker_process, app_group,
):  # fmt: skip
    from audience_sync.tasks import audience_sync_flush as flush_task
    from journeys.engine import journeys_advance

    step = sync_to_sandbox([MatchField.EMAIL])
    bulk_profiles(app_group, 300)
    canvas_entries_create(canvas=active_canvas, profiles=Profile.objects.all())
    journeys_advance()
    # TikTok applies the batch, then holds the answer: the worker dies while it waits.
    tiktok_sandbox.set_faults(timeout_seconds=30, script=["timeout"])

    flush_task.delay()
    deadline = time.monotonic() + 30
    while (
        not tiktok_sandbox.requests("/segment/mapping/")
        and tiktok_sandbox.audience(sandbox_tiktok[1].tiktok_audience_id)["size"] < 300
    ):
        assert time.monotonic() < deadline, celery_worker_process.log()
        time.sleep(0.1)
    time.sleep(0.5)
    os.kill(celery_worker_process.process.pid, signal.SIGKILL)
    celery_worker_process.process.wait(timeout=10)
    assert StepStats.objects.get(step=step).synced == 0

    # Another flush, after the dead worker's claim has expired (SQLite) or rolled back (PG).
    tiktok_sandbox.clear_faults()
    audience_sync_flush(now=timezone.now() + timedelta(minutes=3))

    stats = StepStats.objects.get(step=step)
    assert (stats.synced, stats.errored, stats.pending) == (300, 0, 0)
    assert not AudienceSyncItem.objects.exists()
    assert tiktok_sandbox.audience(sandbox_tiktok[1].tiktok_audience_id)["size"] == 300
