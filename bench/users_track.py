"""POST /api/users/track throughput (target: >= 20,000 profile updates/s with 75 attribute
objects per request on PostgreSQL, docs/PERFORMANCE.md "REST /users/track").

Sets up its own database (default postgres://postgres@127.0.0.1:5432/bench_braze_sync_users_track,
dropped and migrated), creates an app group and a REST API key, starts gunicorn on a free port
with production-like settings, and drives it over HTTP from client threads with keep-alive
connections. Two phases over the same N users:

    create   every object names a new external_id (profiles inserted)
    update   the same users again: a changed first name, {"inc": 1} on a counter, a new
             timestamp attribute, the same email and phone (profiles updated)

Each request carries 75 attribute objects, each with external_id, email, phone (E.164),
first/last name and three custom attributes. Prints updates/s, request latency and the machine,
then stops the server and exits.

    .venv/bin/python -m bench.users_track
    .venv/bin/python -m bench.users_track --users 300000 --workers 4 --clients 8
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import threading
import time
from pathlib import Path

import orjson

from bench.support import (
    US_AREA_CODES,
    cpu_seconds,
    django_setup,
    free_port,
    machine_info,
    start_gunicorn,
)

OBJECTS_PER_REQUEST = 75


def attributes(user: int, phase: str) -> dict:
    area = US_AREA_CODES[user % len(US_AREA_CODES)]
    return {
        "external_id": f"bench-{user}",
        "email": f"User.{user}@Example.com",
        "phone": f"+1{area}{200 + user % 800:03d}{user % 10000:04d}",
        "first_name": f"First{user % 1000}" if phase == "create" else f"Renamed{user % 1000}",
        "last_name": f"Last{user % 997}",
        "plan": ("free", "silver", "gold")[user % 3],
        "visits": {"inc": 1},
        "last_seen_at": f"2024-06-{1 + user % 28:02d}T12:00:00Z",
    }


def bodies(users: int, phase: str) -> list[bytes]:
    return [
        orjson.dumps(
            {
                "attributes": [
                    attributes(u, phase)
                    for u in range(start, min(start + OBJECTS_PER_REQUEST, users))
                ]
            }
        )
        for start in range(0, users, OBJECTS_PER_REQUEST)
    ]


def server_pids(server: subprocess.Popen) -> list[int]:
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    return [server.pid, *map(int, children)]


def postgres_pids(database: str) -> list[int]:
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}") as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [database],
        ).fetchall()
    return [pid for (pid,) in rows]


def run_phase(port: int, key: str, payloads: list[bytes], clients: int) -> tuple[float, list]:
    """Send every payload once, spread over `clients` keep-alive connections."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    next_index = iter(range(len(payloads)))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                break
            started = time.perf_counter()
            connection.request("POST", "/api/users/track", payloads[index], headers)
            response = connection.getresponse()
            body = response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 201:
                with lock:
                    failures.append(f"{response.status} {body[:200]!r}")
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--users", type=int, default=150_000)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client connections")
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/11",
        help="REDIS_URL for the rate limiter ('' to count in the database)",
    )
    args = parser.parse_args()

    environment = django_setup(name="users_track", fresh=True)
    environment["REDIS_URL"] = args.redis_url
    os.environ["REDIS_URL"] = args.redis_url
    from django.db import connection

    from appgroups.models import AppGroup, RestApiKey
    from users.models import Profile

    app_group = AppGroup.objects.create(name="Bench")
    key = "bench-" + os.urandom(16).hex()
    RestApiKey.objects.create(
        app_group=app_group,
        name="bench",
        prefix=key[:8],
        key_sha256=RestApiKey.hash_key(key),
        permissions=["users.track"],
    )
    connection.close()

    phases = [("create", bodies(args.users, "create")), ("update", bodies(args.users, "update"))]
    port = free_port()
    server = start_gunicorn(
        port, args.workers, os.environ | environment,
        options=("--worker-class", "sync", "--backlog", "2048"),
    )  # fmt: skip
    try:
        # Warm up each worker (imports, connections, caches) on users outside the measured set.
        warm = bodies(OBJECTS_PER_REQUEST * args.workers * 4, "create")
        warm = [w.replace(b'"bench-', b'"warmup-') for w in warm]
        run_phase(port, key, warm, args.clients)
        # A live database has planner statistics (autovacuum); this one was created a second ago.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE appgroups_profile")
        connection.close()
        print(
            f"/users/track: {args.users:,} users, {OBJECTS_PER_REQUEST} attribute objects per "
            f"request, gunicorn {args.workers} sync workers, {args.clients} client connections, "
            f"rate limiter in {'Redis' if args.redis_url else 'the database'}"
        )
        database = connection.settings_dict["NAME"]
        for phase, payloads in phases:
            web, db = server_pids(server), postgres_pids(database)
            web_before, db_before = cpu_seconds(*web), cpu_seconds(*db)
            load_before = os.getloadavg()[0]
            client_before = time.process_time()
            elapsed, latencies = run_phase(port, key, payloads, args.clients)
            client_cpu = (time.process_time() - client_before) / len(payloads) * 1000
            web_cpu = (cpu_seconds(*web) - web_before) / len(payloads) * 1000
            db_cpu = (cpu_seconds(*db) - db_before) / len(payloads) * 1000
            latencies.sort()
            p50 = statistics.median(latencies) * 1000
            p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
            print(
                f"{phase:7s} {args.users:>9,} profile updates in {elapsed:6.2f} s = "
                f"{args.users / elapsed:>8,.0f} updates/s ({len(payloads) / elapsed:,.0f} "
                f"requests/s; latency p50 {p50:.0f} ms, p99 {p99:.0f} ms)"
            )
            # CPU spent per request by the web workers and by PostgreSQL: what the machine can
            # do when nothing else runs on it (other load skews the wall-clock figure).
            per_request = web_cpu + db_cpu
            ceiling = (os.cpu_count() or 1) * 1000 / per_request * OBJECTS_PER_REQUEST
            print(
                f"        CPU per request: web {web_cpu:.1f} ms + PostgreSQL {db_cpu:.1f} ms; "
                f"all {os.cpu_count()} CPUs on this alone = {ceiling:,.0f} updates/s; "
                f"load average before {load_before:.1f}"
            )
            # The client runs on the same CPUs: what it takes is not left for the server.
            print(f"        CPU per request of this client (same machine): {client_cpu:.1f} ms")
    finally:
        server.terminate()
        server.wait(timeout=30)
    count = Profile.objects.filter(app_group=app_group, external_id__startswith="bench-").count()
    assert count == args.users, count
    sample = Profile.objects.get(app_group=app_group, external_id="bench-7")
    assert sample.first_name == "Renamed7" and sample.custom_attributes["visits"] == 2, sample
    assert sample.email_sha256 and sample.phone_sha256
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print(machine_info())


if __name__ == "__main__":
    main()
