"""Benchmark: sustained /segment/mapping/ throughput of the TikTok sandbox (docs/PERFORMANCE.md
"TikTok sandbox").

Starts `python -m tiktok_sandbox` on a free port with a temporary data dir and the QPS limit
raised out of the way, authorizes through the control API, creates one audience, then has
several client processes post full batches (10,000 rows x EMAIL_SHA256 + PHONE_SHA256 by
default) for a fixed time. Prints requests/s, ids/s, p50/p99 latency and machine info, checks
that the audience holds every id after a restart of the sandbox, and stops by itself.

    .venv/bin/python -m bench.sandbox_mapping [--duration 20] [--clients 3] [--rows 10000]
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import orjson
import requests

from bench.support import cpu_seconds, free_port, machine, start_sandbox, stop

APP_ID = "7000000000000000001"
APP_SECRET = "bench-secret"
ADVERTISER_ID = "7230000000000000101"  # Northwind US, in the sandbox seed
ID_TYPES = ("EMAIL_SHA256", "PHONE_SHA256", "IDFA_SHA256", "AAID_SHA256")


def start_unlimited_sandbox(port: int, data_dir: Path, timeout: float = 30) -> subprocess.Popen:
    # The benchmark measures the sandbox, not its limiter.
    env = {**os.environ, "TIKTOK_APP_ID": APP_ID, "TIKTOK_APP_SECRET": APP_SECRET,
           "TIKTOK_SANDBOX_QPS_LIMIT": "1000000"}  # fmt: skip
    return start_sandbox(port, data_dir, env, timeout=timeout)


def authorize(base: str) -> tuple[str, str]:
    """An access token and a fresh audience, as the product would get them."""
    code = requests.post(base + "/_sandbox/auth_codes", json={}).json()["auth_code"]
    api = base + "/open_api/v1.3"
    token = requests.post(
        api + "/oauth2/access_token/",
        json={"app_id": APP_ID, "secret": APP_SECRET, "auth_code": code},
    ).json()["data"]["access_token"]
    created = requests.post(
        api + "/segment/audience/",
        headers={"Access-Token": token},
        json={"advertiser_id": ADVERTISER_ID, "custom_audience_name": "bench"},
    ).json()
    return token, created["data"]["audience_id"]


def build_bodies(count: int, rows: int, id_types: tuple[str, ...], audience_id: str) -> list[bytes]:
    """`count` different batches; every id in them is distinct."""
    bodies = []
    for b in range(count):
        batch = [
            [
                {
                    "id": hashlib.sha256(f"{t}-{b}-{r}".encode()).hexdigest(),
                    "audience_ids": [audience_id],
                }
                for t in id_types
            ]
            for r in range(rows)
        ]
        body = {
            "advertiser_ids": [ADVERTISER_ID],
            "action": "add",
            "id_schema": list(id_types),
            "batch_data": batch,
        }
        bodies.append(orjson.dumps(body))
    return bodies


def client(
    url: str, token: str, bodies: list[bytes], start: float, end: float, offset: int, out
) -> None:
    session = requests.Session()
    headers = {"Access-Token": token, "Content-Type": "application/json"}
    samples: list[tuple[float, float, int]] = []  # (finished at, latency s, code)
    i = offset
    while time.time() < start:
        time.sleep(0.001)
    while time.time() < end:
        began = time.perf_counter()
        response = session.post(url, data=bodies[i % len(bodies)], headers=headers)
        latency = time.perf_counter() - began
        code = response.json()["code"] if response.status_code == 200 else -response.status_code
        samples.append((time.time(), latency, code))
        i += 1
    out.send(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds not counted")
    parser.add_argument("--clients", type=int, default=3, help="client processes")
    parser.add_argument("--rows", type=int, default=10_000, help="rows (users) per request")
    parser.add_argument("--id-types", type=int, default=2, choices=range(1, 5), help="ids per row")
    parser.add_argument("--bodies", type=int, default=12, help="distinct batches to cycle through")
    args = parser.parse_args()
    id_types = ID_TYPES[: args.id_types]

    data_dir = Path(tempfile.mkdtemp(prefix="sandbox-bench-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_unlimited_sandbox(port, data_dir)
    try:
        token, audience_id = authorize(base)
        print(f"building {args.bodies} batches of {args.rows} rows x {', '.join(id_types)} ...")
        bodies = build_bodies(args.bodies, args.rows, id_types, audience_id)
        print(f"body size {len(bodies[0]) / 1e6:.2f} MB; {args.clients} clients; {machine()}")
        requests.post(base + "/_sandbox/stats/reset")

        start = time.time() + 1.0
        end = start + args.warmup + args.duration
        url = base + "/open_api/v1.3/segment/mapping/"
        pipes, workers = [], []
        for n in range(args.clients):
            receiver, sender = multiprocessing.Pipe(duplex=False)
            worker = multiprocessing.Process(
                target=client, args=(url, token, bodies, start, end, n * 5, sender)
            )
            worker.start()
            pipes.append(receiver)
            workers.append(worker)
        time.sleep(max(0.0, start + args.warmup - time.time()))
        cpu_before, load_before = cpu_seconds(process.pid), os.getloadavg()[0]
        time.sleep(max(0.0, end - time.time()))
        cpu_after, load_after = cpu_seconds(process.pid), os.getloadavg()[0]
        samples = [s for receiver in pipes for s in receiver.recv()]
        for worker in workers:
            worker.join()

        counted = [s for s in samples if s[0] >= start + args.warmup]
        errors = [s for s in samples if s[2] != 0]
        ok = [s for s in counted if s[2] == 0]
        latencies = sorted(s[1] * 1000 for s in ok)
        elapsed = args.duration
        ids_per_request = args.rows * len(id_types)
        stats = requests.get(base + "/_sandbox/stats").json()["mapping"]
        print(
            f"requests/s  {len(ok) / elapsed:8.1f}   (ok requests in {elapsed:.0f} s after warmup)"
        )
        print(
            f"ids/s       {len(ok) * ids_per_request / elapsed:8.0f}   ({ids_per_request} per request)"
        )
        print(f"rows/s      {len(ok) * args.rows / elapsed:8.0f}")
        if latencies:
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            print(f"latency ms  p50 {statistics.median(latencies):.1f}   p99 {p99:.1f}")
        print(
            f"errors      {len(errors)}   max requests in one second (sandbox) "
            f"{stats['max_requests_in_any_second']}"
        )
        if cpu_after > cpu_before and ok:
            cpu_per_request = (cpu_after - cpu_before) / len(ok) * 1000
            print(
                f"sandbox CPU {cpu_per_request:.1f} ms per request = "
                f"{1000 / cpu_per_request:.0f} requests/s per fully available core "
                f"(load average {load_before:.1f} -> {load_after:.1f}; other processes on "
                "the machine lower requests/s, not this figure)"
            )

        # Durability: every id sent must still be there after a restart.
        expected = min(len(bodies), len(samples)) * args.rows
        # Counting is deferred to the first read of a size (membership.py): time that too.
        began = time.perf_counter()
        before = requests.get(base + f"/_sandbox/audiences/{audience_id}").json()["counts"]
        counted_ids = len(samples) * ids_per_request
        print(
            f"first size read counted the run's {counted_ids:,} ids in "
            f"{time.perf_counter() - began:.2f} s"
        )
        stop(process)
        began = time.perf_counter()
        # The restart replays the whole id log (and compacts it), which takes a while after a
        # run that sent the same ids over and over.
        process = start_unlimited_sandbox(port, data_dir, timeout=600)
        print(f"restart with replay of the id log took {time.perf_counter() - began:.1f} s")
        after = requests.get(base + f"/_sandbox/audiences/{audience_id}").json()["counts"]
        verdict = "kept" if after == before else "LOST"
        print(
            f"after restart: {after} (before {before}; <= {expected} per type expected) {verdict}"
        )
        if after != before:
            raise SystemExit(1)
    finally:
        stop(process)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
