"""/metrics: names, labels and values in Prometheus text format, and who may scrape it."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from analytics.models import StepStats
from audience_sync.flush import audience_sync_flush
from audience_sync.models import AudienceSyncItem
from canvas.models import MatchField
from partners.tiktok.ratelimit import RateLimiter
from telemetry.counters import label_string, limiter_wait_observed, parse_labels
from telemetry.models import WorkerHeartbeat
from tests.plugins.canvases import T0, enter

pytestmark = pytest.mark.django_db


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get(reverse("metrics"), **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_labels_round_trip_through_their_canonical_form():
    labels = {"endpoint": "/segment/mapping/", "code": 'a"b\\c'}

    assert parse_labels(label_string(**labels)) == labels
    assert label_string(b="1", a="2") == 'a="2",b="1"'


def test_users_per_step_type_backlog_and_oldest_pending(client, tiktok, sync_step):
    connection, _, audience = tiktok
    step = sync_step([MatchField.EMAIL])
    StepStats.objects.create(step=step, entered=10, synced=4, not_synced=1, errored=2)
    now = timezone.now()
    for ago in (120, 30, 5):
        AudienceSyncItem.objects.create(
            step=step, audience=audience, connection=connection, action="add", schema=1,
            email_sha256="b" * 64, enqueued_at=now - timedelta(seconds=ago),
            deadline_at=now - timedelta(seconds=ago) + timedelta(hours=13),
        )  # fmt: skip
    WorkerHeartbeat.objects.create(
        hostname="w@a", pid=1, started_at=now, last_seen_at=now - timedelta(seconds=2)
    )

    samples = scrape(client)

    step_type = (("step_type", "audience_sync"),)
    assert samples[("braze_sync_users_entered_total", step_type)] == 10
    assert samples[("braze_sync_users_synced_total", step_type)] == 4
    assert samples[("braze_sync_users_not_synced_total", step_type)] == 1
    assert samples[("braze_sync_users_errored_total", step_type)] == 2
    assert samples[("braze_sync_audience_sync_backlog_users", ())] == 10 - 4 - 1 - 2
    assert 120 <= samples[("braze_sync_audience_sync_oldest_pending_seconds", ())] < 130
    assert samples[("braze_sync_workers_alive", ())] == 1


def test_tiktok_requests_by_code_and_latency_from_a_real_sync(
    client, tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, make_profiles,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    sync_to_sandbox([MatchField.EMAIL])
    profiles = make_profiles(*[{"external_id": f"m{i}", "email": f"m{i}@x.test"} for i in range(3)])
    enter(active_canvas, profiles.values())
    tiktok_sandbox.set_faults(script=["50000", "none"])

    with django_capture_on_commit_callbacks(execute=True):
        audience_sync_flush(now=T0)  # 50000: retried later
        audience_sync_flush(now=T0 + timedelta(hours=1))  # accepted

    samples = scrape(client)
    mapping = "/segment/mapping/"
    assert (
        samples[("braze_sync_tiktok_requests_total", (("code", "0"), ("endpoint", mapping)))] == 1
    )
    assert (
        samples[("braze_sync_tiktok_requests_total", (("code", "50000"), ("endpoint", mapping)))]
        == 1
    )
    count = samples[("braze_sync_tiktok_request_duration_seconds_count", (("endpoint", mapping),))]
    inf = samples[
        (
            "braze_sync_tiktok_request_duration_seconds_bucket",
            (("endpoint", mapping), ("le", "+Inf")),
        )
    ]
    assert count == inf == 2
    assert samples[("braze_sync_tiktok_request_duration_seconds_sum", (("endpoint", mapping),))] > 0


def test_limiter_waits_are_counted(client, settings, django_capture_on_commit_callbacks):
    settings.REDIS_URL = ""
    limiter = RateLimiter("metrics-test", limit=1, window=0.2)

    with django_capture_on_commit_callbacks(execute=True):
        assert limiter.acquire(timeout=1)  # free: not a wait
        assert limiter.acquire(timeout=1)  # waits ~0.2 s
        assert not limiter.acquire(timeout=0)  # gives up
        limiter_wait_observed(0.5, timed_out=False)

    samples = scrape(client)
    assert samples[("braze_sync_ratelimit_waits_total", ())] == 3
    assert samples[("braze_sync_ratelimit_timeouts_total", ())] == 1
    assert 0.6 < samples[("braze_sync_ratelimit_wait_seconds_total", ())] < 1.5


def test_metrics_need_the_token_or_an_allowed_network(client, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    settings.METRICS_ALLOWED_NETWORKS = []

    assert client.get(reverse("metrics")).status_code == 403
    assert client.get(reverse("metrics"), HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    response = client.get(reverse("metrics"), HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")
    assert response.status_code == 200
    assert b"braze_sync_audience_sync_backlog_users" in response.content


def test_without_a_token_only_listed_networks_may_scrape(client, settings):
    import ipaddress

    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]

    assert client.get(reverse("metrics"), REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get(reverse("metrics"), REMOTE_ADDR="127.0.0.1").status_code == 403
    # An empty token never matches an empty bearer.
    assert (
        client.get(
            reverse("metrics"), REMOTE_ADDR="8.8.8.8", HTTP_AUTHORIZATION="Bearer "
        ).status_code
        == 403
    )
