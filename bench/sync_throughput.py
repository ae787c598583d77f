"""Benchmark: users entering a Canvas → in the TikTok sandbox audience (targets and figures:
docs/PERFORMANCE.md "Audience Sync end to end").

Runs the product as in production on this machine: PostgreSQL, Redis (broker and the shared
rate limiter), N Celery workers, Celery beat and the TikTok sandbox (QPS limit 50). Seeds an
app group with USERS profiles (email, phone, IDFA and GAID hashes, as /users/track stores
them), connects TikTok through the real OAuth services, creates the audience on the sandbox,
and launches a Canvas whose first step is Audience Sync, matching on all four fields.

Backlog mode (default): first the database floor, PostgreSQL alone doing the least work any
design must do for these users (database_floor); then every profile enters, as a Scheduled
Canvas's launch enters its audience (journeys.entries.scheduled_entries_run); the workers take
them through the step and flush them to the sandbox. Prints the floor, users/s end to end and
its ratio to the floor, users per request while the backlog lasted, the most requests TikTok
saw in any second, and each worker's peak RSS.

Steady mode (--steady SECONDS --rate N): N users enter per second; prints the latency from
entering the step to synced (an upper bound per user: batch completion minus the time its
longest-waiting user reached the step).

Noisy-neighbour mode (--noisy-neighbour): the backlog as above, and meanwhile a second app group
(its own connection, audience and Canvas, the same TikTok app and so the same 50 requests/s)
whose users enter steadily at --neighbour-rate per second until the backlog is in TikTok;
prints the backlog's users/s and the neighbour's latency.

    .venv/bin/python -m bench.sync_throughput --users 1000000 --workers 4
    .venv/bin/python -m bench.sync_throughput --users 70000 --steady 60 --rate 1000
    .venv/bin/python -m bench.sync_throughput --users 620000 --steady 30 --rate 20000 --tick 0.25
    .venv/bin/python -m bench.sync_throughput --users 100000 --workers 0   # one process
    .venv/bin/python -m bench.sync_throughput --users 1000000 --first-step delay
    .venv/bin/python -m bench.sync_throughput --users 2000000 --noisy-neighbour
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import requests

from bench.support import (
    free_port,
    fresh_database,
    machine,
    peak_rss_mb,
    seed_audience_sync,
    start_celery,
    start_sandbox,
    stop,
)

PG_URL = "postgres://postgres@127.0.0.1:5432/bench_braze_sync"
REDIS_URL = "redis://127.0.0.1:6379/10"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--steady", type=float, default=0, help="seconds of steady entry")
    parser.add_argument("--rate", type=int, default=1000, help="users/s in steady mode")
    parser.add_argument(
        "--tick", type=float, default=0.1, help="seconds between entering statements (steady)"
    )
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--first-step",
        choices=("audience_sync", "delay"),
        default="audience_sync",
        help="delay: a 0-second Delay before the Audience Sync step (users reach it through the "
        "engine, as after any earlier step)",
    )
    parser.add_argument(
        "--no-floor",
        action="store_true",
        help="skip the database floor (to compare with builds whose bench has none: the floor "
        "leaves the profiles in the cache)",
    )
    parser.add_argument(
        "--noisy-neighbour",
        action="store_true",
        help="a second app group's users enter steadily while the backlog drains",
    )
    parser.add_argument("--neighbour-rate", type=int, default=200, help="its users/s")
    parser.add_argument("--database", default=PG_URL)
    parser.add_argument("--redis", default=REDIS_URL)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-audience-sync-"))
    sandbox_port = free_port()
    env = {
        **os.environ,
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": args.database,
        "CELERY_BROKER_URL": args.redis,
        "REDIS_URL": args.redis,
        "TIKTOK_API_BASE": f"http://127.0.0.1:{sandbox_port}",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "braze_sync.settings",
    }
    os.environ.update(env)
    print(f"machine: {machine()}")
    fresh_database(args.database, env)
    import redis

    redis.Redis.from_url(args.redis).flushdb()
    sandbox = start_sandbox(sandbox_port, tmp / "sandbox", env)
    workers: list[subprocess.Popen] = []
    beat = None
    try:
        import django

        django.setup()
        canvas, step, audience_id = seed_audience_sync(
            args.users, f"http://127.0.0.1:{sandbox_port}", first_step=args.first_step
        )
        if args.noisy_neighbour:
            neighbour = seed_audience_sync(
                args.neighbour_rate * int(args.timeout), f"http://127.0.0.1:{sandbox_port}",
                name="Neighbour", first_profile=args.users + 1,
            )  # fmt: skip
        for i in range(args.workers):
            workers.append(
                start_celery(
                    [
                        "worker",
                        "--pool",
                        "solo",
                        "-n",
                        f"bench{i}@%h",
                        "--without-gossip",
                        "--without-mingle",
                        "--loglevel",
                        "WARNING",
                    ],
                    env,
                    tmp / f"worker{i}.log",
                )  # fmt: skip
            )
        beat = start_celery(
            ["beat", "--loglevel", "WARNING", "-s", str(tmp / "beat-schedule")],
            env, tmp / "beat.log",
        )  # fmt: skip
        time.sleep(3)  # workers connect
        base = f"http://127.0.0.1:{sandbox_port}"
        requests.post(f"{base}/_sandbox/stats/reset", timeout=10)
        if args.noisy_neighbour:
            run_noisy_neighbour(args, canvas, step, audience_id, neighbour, base)
        elif args.steady:
            run_steady(args, canvas, step, audience_id, base)
        elif args.workers == 0:
            run_in_process(canvas, step, audience_id, base)
        else:
            run_backlog(args, canvas, step, audience_id, base)
        print("worker peak RSS (MB): " + ", ".join(f"{peak_rss_mb(w.pid):.0f}" for w in workers))
    finally:
        stop(beat, *workers, sandbox)


def sandbox_size(base: str, audience_id: str) -> int:
    """Users in the audience: every bench user has an email, so the distinct email ids."""
    data = requests.get(
        f"{base}/_sandbox/audiences/{audience_id}/members", params={"limit": 0}, timeout=30
    ).json()
    return int(data["counts"].get("EMAIL_SHA256", 0))


def database_floor(canvas, step) -> float:
    """The floor twice: with the primary keys only (what issue 17's ratio is taken against: the
    least work of any design) and with the product's indexes on the two tables. Prints both;
    returns the first."""
    strict = _database_floor(canvas, step, indexes=False)
    _database_floor(canvas, step, indexes=True)
    return strict


def _database_floor(canvas, step, *, indexes: bool) -> float:
    """The least work any design must do for every profile of the Canvas's app group, timed in
    PostgreSQL alone, right before the real run, in the same database: each user's Canvas entry
    written once (one INSERT … SELECT), each user's queue row written once (one INSERT … SELECT
    from the entries and profiles) and deleted once, fetched to the client, by contiguous
    10,000-id ranges (`DELETE … WHERE id >= a AND id < b RETURNING …`: no claim query, so no
    design can beat it). Scratch copies of the two tables (with their primary key, and with
    `indexes` every index the product has on them) take the writes and are dropped afterwards;
    a checkpoint before and after keeps the seeding's write-ahead log out of the timing and
    starts the real run from a clean one. Returns users/s."""
    from django.db import connection

    from audience_sync.models import AudienceSyncItem
    from journeys.models import Entry
    from users.models import Profile

    profiles = Profile._meta.db_table
    settings_ = step.audience_sync
    cells = "email_sha256, phone_sha256, idfa_sha256, gaid_sha256"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_floor_entry, bench_floor_queue")
        cursor.execute(
            f"CREATE TABLE bench_floor_entry (LIKE {Entry._meta.db_table} INCLUDING ALL)"
        )
        cursor.execute(
            f"CREATE TABLE bench_floor_queue (LIKE {AudienceSyncItem._meta.db_table} INCLUDING ALL)"
        )
        started = time.monotonic()
        cursor.execute(
            "INSERT INTO bench_floor_entry (canvas_id, profile_id, entered_at, step_id, phase, "
            "due_at, dispatch_id) SELECT %s, id, now(), %s, 0, now(), '' "
            f"FROM {profiles} WHERE app_group_id = %s",
            [canvas.pk, step.pk, canvas.app_group_id],
        )
        cursor.execute(
            "INSERT INTO bench_floor_queue (step_id, profile_id, audience_id, connection_id, "
            f"action, schema, {cells}, enqueued_at, next_attempt_at, deadline_at, attempts, "
            f"last_error_message) SELECT %s, e.profile_id, %s, %s, 'add', 15, "
            f"{', '.join(f'p.{c}' for c in cells.split(', '))}, e.due_at, now(), "
            "now() + interval '13 hours', 0, '' "
            f"FROM bench_floor_entry e JOIN {profiles} p ON p.id = e.profile_id",
            [step.pk, settings_.audience_id, settings_.audience.ad_account.connection_id],
        )
        queued = time.monotonic()
        cursor.execute("SELECT MIN(id), MAX(id) FROM bench_floor_queue")
        low, high = cursor.fetchone()
        users = 0
        for start in range(low, high + 1, 10_000):
            cursor.execute(
                "DELETE FROM bench_floor_queue WHERE id >= %s AND id < %s "
                f"RETURNING id, profile_id, {cells}",
                [start, start + 10_000],
            )
            users += len(cursor.fetchall())
        elapsed = time.monotonic() - started
        cursor.execute("DROP TABLE bench_floor_entry, bench_floor_queue")
        cursor.execute("CHECKPOINT")
    which = "the product's indexes" if indexes else "primary keys only"
    print(
        f"database floor ({which}): {users:,} users entered, queued and deleted by 10,000 ids "
        f"in {elapsed:.1f} s (entries and queue rows {queued - started:.1f} s, deletes "
        f"{elapsed - (queued - started):.1f} s) = {users / elapsed:,.0f} users/s",
        flush=True,
    )
    return users / elapsed


def run_backlog(args, canvas, step, audience_id, base) -> None:
    from analytics.models import AudienceSyncBatch, StepStats
    from journeys.tasks import journeys_advance

    floor = None if args.no_floor else database_floor(canvas, step)
    t0 = time.monotonic()
    entered = enter_backlog(canvas)
    t_entered = time.monotonic() - t0
    print(f"users entered: {entered:,} (scheduled entry in {t_entered:.1f} s)", flush=True)
    journeys_advance.delay()
    t_queued = None
    while time.monotonic() - t0 < args.timeout:
        stats = StepStats.objects.filter(step=step).first()
        if t_queued is None and stats and stats.entered >= entered:
            t_queued = time.monotonic() - t0
        if stats and stats.synced >= entered and sandbox_size(base, audience_id) >= entered:
            break
        time.sleep(0.25)
    else:
        raise SystemExit(f"timed out: {stats.synced if stats else 0:,} of {entered:,} synced")
    total = time.monotonic() - t0
    sizes = list(AudienceSyncBatch.objects.order_by("sent_at").values_list("size", flat=True))
    full = sizes[:-1]  # every batch but the last was sent with a backlog ≥ 10,000
    tiktok = tiktok_mapping_stats(base)
    print(f"all through the Audience Sync step after {t_queued:.1f} s")
    print(f"all in the sandbox audience after {total:.1f} s: {entered / total:,.0f} users/s")
    if floor:
        print(f"end to end against the database floor: {entered / total / floor:.2f} × floor")
    print(
        f"requests: {len(sizes)}; users per request while the backlog lasted: "
        f"{sum(full) / len(full) if full else 0:,.0f} "
        f"({100 * sum(full) / (10_000 * len(full)) if full else 0:.1f} % of 10,000)"
    )
    print(
        f"TikTok side: max requests in any second {tiktok['max_requests_in_any_second']}, "
        f"rate limited {tiktok['rate_limited']}, seconds over the limit "
        f"{tiktok['seconds_over_limit']}"
    )
    print_latency()


def enter_backlog(canvas) -> int:
    """Every profile of the Canvas's app group enters, as a Scheduled Canvas's launch enters
    its audience (the product's path for a whole audience: beat's engine tick runs it; here
    this process starts it at once). A worker's engine tick may take over between chunks:
    returns when the entry is done, with how many entered."""
    from canvas.models import Canvas, EntryType
    from journeys.entries import scheduled_entries_run

    Canvas.objects.filter(pk=canvas.pk).update(entry_type=EntryType.SCHEDULED, schedule_at=None)
    scheduled_entries_run()
    while True:
        done, entered = Canvas.objects.values_list("scheduled_entry_done_at", "total_entries").get(
            pk=canvas.pk
        )
        if done is not None:
            return entered
        time.sleep(0.05)


def run_in_process(canvas, step, audience_id, base) -> None:
    """--workers 0: the whole pipeline in this one process, phase by phase."""
    from audience_sync.flush import audience_sync_flush
    from journeys.engine import journeys_advance

    t0 = time.monotonic()
    entered = enter_backlog(canvas)
    t1 = time.monotonic()
    journeys_advance(max_seconds=3600)
    t2 = time.monotonic()
    report = audience_sync_flush(max_seconds=3600)
    t3 = time.monotonic()
    print(f"one process: enter {entered:,} in {t1 - t0:.1f} s ({entered / (t1 - t0):,.0f}/s), "
          f"through the step in {t2 - t1:.1f} s ({entered / (t2 - t1):,.0f}/s), "
          f"flushed {report.synced:,} in {report.requests} requests in {t3 - t2:.1f} s "
          f"({report.synced / (t3 - t2):,.0f}/s); total {entered / (t3 - t0):,.0f} users/s")  # fmt: skip
    print(f"sandbox audience size {sandbox_size(base, audience_id):,}")


def print_latency(audience_id: str | None = None, label: str = "") -> None:
    """Entering the step → synced, per user, as an upper bound: each batch's completion minus
    the time its longest-waiting user reached the step (of one TikTok audience if given)."""
    from datetime import timedelta

    from analytics.models import AudienceSyncBatch

    latencies = []
    batches = AudienceSyncBatch.objects.filter(outcome="synced")
    if audience_id is not None:
        batches = batches.filter(audience__tiktok_audience_id=audience_id)
    for batch in batches:
        done = batch.sent_at + timedelta(milliseconds=batch.milliseconds)
        latencies.extend([(done - batch.oldest_enqueued_at).total_seconds()] * batch.size)
    latencies.sort()
    if not latencies:
        return

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]

    print(
        f"{label}entering the step → synced (upper bound): p50 {pct(50):.2f} s, "
        f"p99 {pct(99):.2f} s, max {latencies[-1]:.2f} s"
    )


def profile_ids(canvas) -> list[int]:
    """The ids of the Canvas's app group's profiles, in order: who enters, a chunk at a time."""
    from users.models import Profile

    return list(
        Profile.objects.filter(app_group_id=canvas.app_group_id)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def wait_synced(step, users: int, *, until: float) -> None:
    """Until the step counts `users` synced, or time.monotonic() reaches `until`."""
    from analytics.models import StepStats

    while time.monotonic() < until:
        stats = StepStats.objects.filter(step=step).first()  # none until the first users move
        if stats and stats.synced >= users:
            return
        time.sleep(0.25)


def tiktok_mapping_stats(base: str) -> dict:
    """What the sandbox counted of /segment/mapping/ (requests per second, rate limited)."""
    return requests.get(f"{base}/_sandbox/stats", timeout=10).json()["mapping"]


def run_steady(args, canvas, step, audience_id, base) -> None:
    from journeys.entries import canvas_entries_create
    from journeys.tasks import journeys_advance
    from users.models import Profile

    ids = profile_ids(canvas)
    needed = int(args.steady * args.rate)
    if needed > len(ids):
        raise SystemExit(f"--users must be at least {needed}")
    per_tick = int(args.rate * args.tick)
    t0 = time.monotonic()
    entered = 0
    while entered < needed:
        due = t0 + (entered / args.rate)
        if time.monotonic() < due:
            time.sleep(due - time.monotonic())
        chunk = ids[entered : entered + per_tick]
        entered += canvas_entries_create(
            canvas=canvas, profiles=Profile.objects.filter(pk__in=chunk)
        )
        journeys_advance.delay()  # as an API trigger does on commit
    entering = time.monotonic() - t0
    wait_synced(step, entered, until=t0 + args.steady + args.timeout)
    tiktok = tiktok_mapping_stats(base)
    print(f"steady: {entered:,} users at {args.rate:,}/s for {args.steady:.0f} s "
          f"(entered in {entering:.1f} s: {entered / entering:,.0f}/s achieved)")  # fmt: skip
    print_latency()
    print(f"sandbox audience size {sandbox_size(base, audience_id):,}; TikTok side max requests "
          f"in any second {tiktok['max_requests_in_any_second']}")  # fmt: skip


def run_noisy_neighbour(args, canvas, step, audience_id, neighbour, base) -> None:
    from django.db import connection

    from analytics.models import StepStats
    from journeys.entries import canvas_entries_create
    from journeys.tasks import journeys_advance
    from users.models import Profile

    n_canvas, n_step, n_audience_id = neighbour
    ids = profile_ids(n_canvas)
    entered_backlog: list[int] = []

    def backlog_enter() -> None:
        try:
            entered_backlog.append(enter_backlog(canvas))
            journeys_advance.delay()
        finally:
            connection.close()

    backlog = threading.Thread(target=backlog_enter)
    t0 = time.monotonic()
    backlog.start()
    tick = 0.1
    per_tick = max(1, int(args.neighbour_rate * tick))
    entered = offered = 0
    done_at = None
    while time.monotonic() - t0 < args.timeout:
        due = t0 + offered / args.neighbour_rate
        if time.monotonic() < due:
            time.sleep(due - time.monotonic())
        chunk = ids[offered : offered + per_tick]
        if not chunk:
            break
        offered += len(chunk)
        entered += canvas_entries_create(
            canvas=n_canvas, profiles=Profile.objects.filter(pk__in=chunk)
        )
        journeys_advance.delay()  # as an API trigger does on commit
        if offered % (per_tick * 10) == 0 and entered_backlog:
            stats = StepStats.objects.filter(step=step).first()
            if stats and stats.synced >= entered_backlog[0]:
                done_at = time.monotonic() - t0
                break
    backlog.join()
    if done_at is None:
        raise SystemExit("timed out before the backlog was synced")
    wait_synced(n_step, entered, until=t0 + 2 * args.timeout)  # the neighbour's last users
    tiktok = tiktok_mapping_stats(base)
    print(f"backlog: {entered_backlog[0]:,} users in the sandbox audience after {done_at:.1f} s: "
          f"{entered_backlog[0] / done_at:,.0f} users/s")  # fmt: skip
    print(f"neighbour: {entered:,} users entered meanwhile, at {args.neighbour_rate:,}/s asked "
          f"({entered / done_at:,.0f}/s achieved)")  # fmt: skip
    print_latency(audience_id, label="backlog: ")
    print_latency(n_audience_id, label="neighbour: ")
    print(f"TikTok side: max requests in any second {tiktok['max_requests_in_any_second']}, "
          f"rate limited {tiktok['rate_limited']}")  # fmt: skip


if __name__ == "__main__":
    main()
