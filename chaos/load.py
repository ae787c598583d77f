"""Load: /users/track and /canvas/trigger/send over HTTP for a few minutes, while the workers
drain the Audience Sync to the sandbox (issue 8).

gunicorn serves the product with production settings; client threads keep HTTP/1.1
connections open. `/users/track` clients send 75 attribute objects per request as fast as the
server answers (a closed loop: the figure is what this machine sustains); trigger clients
send 50 recipients per request at a fixed rate together (20 requests/s: the steady 1,000 users/s
into a step of docs/PERFORMANCE.md "Audience Sync end to end"). Each recipient is triggered
once, so at the end the step's Entered must equal the recipients accepted, and Users Synced
must reach it: no entry lost.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from collections import defaultdict

from bench.support import free_port, seed_audience_sync, start_gunicorn, stop
from chaos.harness import Deployment
from chaos.scenarios import Result, TimedOut, settled, stats, wait_for

TRACK_OBJECTS = 75
RECIPIENTS = 50
# Clients sharing the trigger rate: one waits for each answer, so one alone cannot keep 20/s.
TRIGGER_CLIENTS = 4


class Client(threading.Thread):
    def __init__(self, port: int, key: str, make_body, *, rate: float | None, until: float):
        super().__init__(daemon=True)
        self.port, self.key, self.make_body, self.rate, self.until = (
            port,
            key,
            make_body,
            rate,
            until,
        )
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = defaultdict(int)
        self.accepted: list[dict] = []

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        n = 0
        started = time.monotonic()
        while time.monotonic() < self.until:
            if self.rate:
                wait = started + n / self.rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            path, body = self.make_body(n)
            n += 1
            t0 = time.monotonic()
            try:
                conn.request("POST", path, body=json.dumps(body), headers={
                    "Authorization": f"Bearer {self.key}", "Content-Type": "application/json",
                })  # fmt: skip
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                status = 0  # no answer
            self.latencies.append(time.monotonic() - t0)
            self.statuses[status] += 1
            if 200 <= status < 300:
                self.accepted.append(body)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


def api_load(
    d: Deployment, users: int = 200_000, seconds: int = 180, track_clients: int = 4,
    trigger_rate: float = 20.0, web_workers: int = 3,
) -> Result:  # fmt: skip
    """`users`: profiles seeded for the trigger client (it stops early when it runs out)."""
    result = Result(f"8. load: /users/track and /canvas/trigger/send for {seconds} s", users)
    with d.fresh(workers=2):
        from appgroups.models import ApiPermission, Membership, Role
        from appgroups.services.api_keys import api_key_create
        from canvas.models import Canvas, EntryType

        canvas, step, _ = seed_audience_sync(users, d.sandbox_url, ["email"])
        Canvas.objects.filter(pk=canvas.pk).update(entry_type=EntryType.API_TRIGGERED)
        admin = Membership.objects.get(app_group_id=canvas.app_group_id, role=Role.ADMIN)
        _, key = api_key_create(
            actor=admin, name="load",
            permissions=[ApiPermission.USERS_TRACK, ApiPermission.CANVAS_TRIGGER_SEND],
        )  # fmt: skip
        port = free_port()
        # Production settings, reached over plain http on 127.0.0.1: no TLS redirect.
        web = start_gunicorn(
            port, web_workers,
            {**d.env, "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DJANGO_SECURE_SSL_REDIRECT": "0"},
            d.root / "web.log",
        )  # fmt: skip
        d.start_workers()
        d.start_beat()
        until = time.monotonic() + seconds

        def track_body(client: int):
            def make(n: int):
                base = (client * 10_000_000) + n * TRACK_OBJECTS
                return "/api/users/track", {
                    "attributes": [
                        {"external_id": f"load-{base + i}", "email": f"load{base + i}@example.com",
                         "first_name": f"Load{i}", "visits": {"inc": 1}}
                        for i in range(TRACK_OBJECTS)
                    ]
                }  # fmt: skip

            return make

        def trigger_body(client: int):
            def make(n: int):
                return trigger_request(n * TRIGGER_CLIENTS + client)

            return make

        def trigger_request(n: int):
            first = n * RECIPIENTS + 1
            if first + RECIPIENTS - 1 > users:
                return "/api/canvas/trigger/send", {"canvas_id": str(canvas.pk), "recipients": []}
            return "/api/canvas/trigger/send", {
                "canvas_id": str(canvas.pk),
                "recipients": [{"external_user_id": f"u{first + i}"} for i in range(RECIPIENTS)],
            }

        trackers = [
            Client(port, key, track_body(c), rate=None, until=until) for c in range(track_clients)
        ]
        triggers = [
            Client(port, key, trigger_body(c), rate=trigger_rate / TRIGGER_CLIENTS, until=until)
            for c in range(TRIGGER_CLIENTS)
        ]
        for client in [*trackers, *triggers]:
            client.start()
        for client in [*trackers, *triggers]:
            client.join()
        load_ended = time.monotonic()

        triggered = sum(len(body["recipients"]) for c in triggers for body in c.accepted)
        tracked = sum(len(body["attributes"]) for c in trackers for body in c.accepted)
        try:
            wait_for(lambda: settled(step, triggered), seconds=600)
            drained = time.monotonic() - load_ended
            result.check("sync drained by itself after the load", True, f"{drained:.1f} s")
        except TimedOut as exc:
            result.check("sync drained by itself after the load", False, exc)
        s = stats(step)
        from users.models import Profile

        created = Profile.objects.filter(external_id__startswith="load-").count()
        for name, clients, per_request in (
            ("/users/track", trackers, TRACK_OBJECTS),
            ("/canvas/trigger/send", triggers, RECIPIENTS),
        ):
            statuses: dict[int, int] = defaultdict(int)
            latencies: list[float] = []
            for client in clients:
                latencies += client.latencies
                for status, count in client.statuses.items():
                    statuses[status] += count
            total = sum(statuses.values())
            ok = sum(count for status, count in statuses.items() if 200 <= status < 300)
            errors = total - ok
            result.figures[name] = {
                "requests": total,
                "per second": round(total / seconds, 1),
                "objects per second": round(ok * per_request / seconds),
                "error rate %": round(100 * errors / total, 3) if total else None,
                "statuses": dict(statuses),
                "p50 ms": round(1000 * _pct(latencies, 50), 1),
                "p99 ms": round(1000 * _pct(latencies, 99), 1),
                "mean ms": round(1000 * statistics.fmean(latencies), 1) if latencies else None,
            }
            result.check(f"{name}: no answer ≥ 500 and no dropped connection", not any(
                status >= 500 or status == 0 for status in statuses
            ), dict(statuses))  # fmt: skip
        result.check("every tracked profile written", created == tracked, f"{created:,}")
        result.check("no entry lost: Entered = recipients accepted", s.entered == triggered,
                     f"{s.entered:,} of {triggered:,}")  # fmt: skip
        result.check("Users Synced = Entered", s.synced == s.entered, f"{s.synced:,}")
        result.figures["load seconds"] = seconds
        stop(web)
    return result
