"""A real worker: its heartbeat and flush runs reach the status page, its requests show in
flight, and SIGTERM during a flush stops it after the batch in flight, losing nothing and
counting nothing twice."""

import os
import signal
import time

import pytest
from django.utils import timezone

from analytics.models import StepStats
from audience_sync.flush import audience_sync_flush
from audience_sync.models import AudienceSyncItem
from canvas.models import MatchField
from journeys.engine import journeys_advance
from journeys.entries import canvas_entries_create
from monitoring import selectors
from telemetry.models import TaskRun, WorkerHeartbeat
from tests.plugins.canvases import bulk_profiles
from users.models import Profile

pytestmark = pytest.mark.django_db(transaction=True)

USERS = 2000
PER_REQUEST = 100


def wait_for(condition, worker, seconds=30.0, every=0.05):
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, worker.log()
        time.sleep(every)
    return result


def test_sigterm_during_a_flush_stops_after_the_batch_in_flight(
    settings, tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, app_group,
    celery_worker_processes,
):  # fmt: skip
    from audience_sync.tasks import audience_sync_flush as flush_task

    settings.TIKTOK_MAX_USERS_PER_REQUEST = PER_REQUEST
    step = sync_to_sandbox([MatchField.EMAIL])
    audience = sandbox_tiktok[1]
    bulk_profiles(app_group, USERS)
    canvas_entries_create(canvas=active_canvas, profiles=Profile.objects.all())
    journeys_advance()
    assert AudienceSyncItem.objects.count() == USERS
    tiktok_sandbox.control("POST", "/stats/reset")
    # 20 requests of 0.4 s each: the flush would need ~8 s to drain.
    tiktok_sandbox.set_faults(latency_ms=400)
    [worker] = celery_worker_processes(1)

    heartbeat = wait_for(
        lambda: WorkerHeartbeat.objects.filter(hostname__startswith=worker.queue).first(), worker
    )
    assert heartbeat.pid == worker.process.pid and heartbeat.stopped_at is None
    assert [row.heartbeat.hostname for row in selectors.workers_alive()] == [heartbeat.hostname]

    flush_task.delay()
    # While a request is out, the status page counts its users in flight.
    figures = wait_for(
        lambda: (f := selectors.sync_status(app_group=app_group)[0].figures).in_flight and f,
        worker,
    )
    assert figures.in_flight == PER_REQUEST
    wait_for(lambda: tiktok_sandbox.stats()["mapping"]["rows"] >= 3 * PER_REQUEST, worker)

    os.kill(worker.process.pid, signal.SIGTERM)
    worker.process.wait(timeout=15)

    # It stopped early: users are left for the next flush...
    left = AudienceSyncItem.objects.count()
    assert 0 < left <= USERS - 3 * PER_REQUEST, worker.log()
    # ...with no claim held, and everything sent counted exactly once.
    assert not AudienceSyncItem.objects.filter(claim__isnull=False).exists()
    stats = StepStats.objects.get(step=step)
    sent = tiktok_sandbox.stats()["mapping"]["rows"]
    assert stats.synced == sent == USERS - left
    assert tiktok_sandbox.audience(audience.tiktok_audience_id)["size"] == USERS - left
    assert selectors.sync_status(app_group=app_group)[0].figures.in_flight == 0
    run = TaskRun.objects.get(name="audience_sync_flush")
    assert run.last_hostname == heartbeat.hostname and run.last_finished_at is not None
    stopped = WorkerHeartbeat.objects.get(pk=heartbeat.pk)
    assert stopped.stopped_at is not None
    assert selectors.workers_alive() == []

    # The next flush (another worker, here this process) takes the rest right away.
    tiktok_sandbox.clear_faults()
    audience_sync_flush(now=timezone.now())

    stats.refresh_from_db()
    assert (stats.synced, stats.errored, stats.pending) == (USERS, 0, 0)
    assert not AudienceSyncItem.objects.exists()
    assert tiktok_sandbox.stats()["mapping"]["rows"] == USERS
    assert tiktok_sandbox.audience(audience.tiktok_audience_id)["size"] == USERS
