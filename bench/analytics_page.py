"""Benchmark: server time of the Canvas analytics page with 1M users in the sync tables
(≤ 300 ms), and of Settings > Sync Status and /metrics over the same tables (issue 9: fast with
millions of rows); targets and figures: docs/PERFORMANCE.md "Canvas analytics, Sync Status and
/metrics". PostgreSQL; the pages must read counters, not rows.

Seeds a Canvas whose Audience Sync step has 1M entries and 1M queued users (pending), plus a
sync log and time buckets, then renders each page with Django's test client repeatedly.

    .venv/bin/python -m bench.analytics_page [--rows 1000000] [--requests 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from bench.support import fresh_database, machine

PG_URL = "postgres://postgres@127.0.0.1:5432/bench_braze_sync_analytics"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    env = {"DJANGO_DEBUG": "1", "DATABASE_URL": PG_URL, "LOG_LEVEL": "WARNING",
           "DJANGO_ALLOWED_HOSTS": "testserver",
           "DJANGO_SETTINGS_MODULE": "braze_sync.settings"}  # fmt: skip
    os.environ.update(env)
    print(f"machine: {machine()}")
    fresh_database(PG_URL, os.environ)

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from analytics.models import StepStats
    from analytics.services import step_activity_bump
    from appgroups.models import Role
    from appgroups.selectors import membership_for_user
    from appgroups.services import app_group_create, dashboard_user_add
    from canvas.models import AudienceSyncSettings, Canvas, CanvasState, MatchField, Step
    from partners.models import (
        AudienceStatus,
        ConnectionStatus,
        TikTokAdAccount,
        TikTokAudience,
        TikTokConnection,
    )  # fmt: skip

    group, _ = app_group_create(name="Bench")
    user, _ = dashboard_user_add(
        email="bench@example.com", app_group=group, role=Role.ADMIN, password="bench-pass-123"
    )
    assert membership_for_user(user=user, app_group_id=group.pk)
    connection_ = TikTokConnection.objects.create(
        app_group=group, status=ConnectionStatus.CONNECTED
    )
    ad_account = TikTokAdAccount.objects.create(
        app_group=group, connection=connection_, advertiser_id="1", name="Bench"
    )
    audience = TikTokAudience.objects.create(
        app_group=group, ad_account=ad_account, name="Bench", tiktok_audience_id="9",
        status=AudienceStatus.CREATED,
    )  # fmt: skip
    canvas = Canvas.objects.create(
        app_group=group, name="Bench", state=CanvasState.ACTIVE, launched_at=timezone.now(),
        total_entries=args.rows,
    )  # fmt: skip
    step = Step.objects.create(canvas=canvas, step_type="audience_sync", name="To TikTok")
    AudienceSyncSettings.objects.create(
        step=step, ad_account=ad_account, audience=audience, match_fields=[MatchField.EMAIL]
    )
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO journeys_entry (canvas_id, profile_id, entered_at, step_id, phase, "
            "due_at, exited_at, dispatch_id) SELECT %s, i, now(), NULL, 0, NULL, now(), '' "
            "FROM generate_series(1, %s) i",
            [canvas.pk, args.rows],
        )
        cursor.execute(
            "INSERT INTO journeys_audiencesyncitem (step_id, audience_id, connection_id, action, "
            "schema, email_sha256, enqueued_at, next_attempt_at, deadline_at, attempts, "
            "last_error_message) SELECT %s, %s, %s, 'add', 1, "
            "encode(sha256(i::text::bytea), 'hex'), now(), now(), now() + interval '13 hours', "
            "0, '' FROM generate_series(1, %s) i",
            [step.pk, audience.pk, connection_.pk, args.rows],
        )
        cursor.execute(
            "INSERT INTO journeys_audiencesyncbatch (audience_id, action, size, outcome, code, "
            "message, request_id, sent_at, milliseconds) SELECT %s, 'add', 10000, 'synced', 0, "
            "'', 'req' || i, now() - i * interval '1 second', 40 FROM generate_series(1, 5000) i",
            [audience.pk],
        )
        cursor.execute("ANALYZE")
    StepStats.objects.create(step=step, entered=args.rows, exited=args.rows)
    now = timezone.now()
    for minute in range(180):
        step_activity_bump(step.pk, at=now - timezone.timedelta(minutes=minute), entered=5000)
    print(f"seeded {args.rows:,} entries and {args.rows:,} queued users "
          f"in {time.monotonic() - started:.1f} s")  # fmt: skip

    client = Client()
    client.force_login(user)
    for name, url in (
        ("analytics page", f"/canvas/{canvas.pk}/analytics/"),
        ("Sync Status page", "/settings/sync-status/"),
        ("/metrics", "/metrics"),
    ):
        time_page(client, name, url, args.requests)


def time_page(client, name: str, url: str, requests: int) -> None:
    assert client.get(url).status_code == 200
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    timings.sort()
    print(
        f"{name}, {requests} requests: median {statistics.median(timings):.0f} ms, "
        f"p95 {timings[int(0.95 * len(timings)) - 1]:.0f} ms, max {timings[-1]:.0f} ms "
        "(server time: view, queries and template, no network)"
    )


if __name__ == "__main__":
    main()
