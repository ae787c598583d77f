"""Issue 8's fault scenarios. Each one seeds users, breaks something while they sync, waits
for the end by itself (or fails at its time limit), and checks what must hold: nobody lost,
nobody counted twice, the sandbox audience exactly the users who entered, TikTok's limit kept.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.support import seed_audience_sync, tiktok_connect
from chaos.harness import Deployment

# Where a scenario needs requests in flight when it strikes: smaller batches (more requests)
# and TikTok answering in a second, so that the sync lasts long enough to be hit several times.
SLOW_SYNC = {"TIKTOK_MAX_USERS_PER_REQUEST": "2000"}
SLOW_LATENCY_MS = 1000


@dataclass
class Result:
    name: str
    users: int
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    figures: dict[str, object] = field(default_factory=dict)

    def check(self, what: str, ok: bool, detail: object = "") -> None:
        self.checks.append((what, bool(ok), str(detail)))

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.checks)


class TimedOut(Exception):
    pass


def wait_for(condition: Callable[[], object], *, seconds: float, every: float = 0.5) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise TimedOut(f"not within {seconds:.0f} s")


# Reading the state


def stats(step):
    from analytics.models import StepStats

    return StepStats.objects.filter(step=step).first()


def settled(step, users: int) -> bool:
    """Every user who entered has a final state and the queue is empty."""
    from audience_sync.models import AudienceSyncItem

    s = stats(step)
    done = s is not None and s.entered == users and s.synced + s.errored + s.not_synced == users
    return done and not AudienceSyncItem.objects.exists()


def synced_fraction(step, users: int) -> float:
    s = stats(step)
    return (s.synced / users) if s else 0.0


def sandbox_members(d: Deployment, audience_id: str) -> set[str]:
    data = d.sandbox_call("GET", f"/audiences/{audience_id}/members", limit=10_000_000)
    return set(data["members"].get("EMAIL_SHA256", []))


def expected_members(canvas) -> set[str]:
    from users.models import Profile

    return set(
        Profile.objects.filter(app_group_id=canvas.app_group_id).values_list(
            "email_sha256", flat=True
        )
    )


def start_sync(d: Deployment, users: int, *, beats: int = 1):
    """Seed, start workers and beat(s), let every profile enter. Returns canvas, step, audience."""
    from journeys.entries import canvas_entries_create
    from users.models import Profile

    canvas, step, audience_id = seed_audience_sync(users, d.sandbox_url, ["email"])
    d.sandbox_call("POST", "/stats/reset")
    d.start_workers()
    for _ in range(beats):
        d.start_beat()
    canvas_entries_create(
        canvas=canvas, profiles=Profile.objects.filter(app_group_id=canvas.app_group_id)
    )
    return canvas, step, audience_id


def check_exactly_once(result: Result, d: Deployment, canvas, step, audience_id) -> None:
    """0 lost, each user counted once in Synced, the sandbox audience = the users entered."""
    from audience_sync.models import AudienceSyncItem

    s = stats(step)
    result.check("every user entered the step", s.entered == result.users, s.entered)
    result.check("Users Synced = users entered", s.synced == result.users, s.synced)
    result.check("Users Errored = 0", s.errored == 0, s.errored)
    result.check("queue empty", not AudienceSyncItem.objects.exists())
    members = sandbox_members(d, audience_id)
    result.check(
        "sandbox audience = exactly the users entered",
        members == expected_members(canvas),
        f"{len(members):,} members",
    )
    mapping = d.sandbox_call("GET", "/stats")["mapping"]
    result.figures["rows received by TikTok"] = mapping["rows"]
    result.figures["repeats (TikTok-idempotent)"] = mapping["rows"] - result.users
    result.figures["max requests in any second"] = mapping["max_requests_in_any_second"]
    result.check(
        "never more than 50 requests in a second",
        mapping["max_requests_in_any_second"] <= 50,
        mapping["max_requests_in_any_second"],
    )


def finish(
    result: Result, d: Deployment, canvas, step, audience_id, *, started: float,
    seconds: float = 900, no_repeats: bool = False,
) -> None:  # fmt: skip
    """TikTok back to normal, wait for the sync to settle by itself, and check exactly-once
    (`no_repeats`: and that TikTok received no row twice)."""
    d.sandbox_call("POST", "/faults/clear")
    drain(result, step, started, seconds)
    check_exactly_once(result, d, canvas, step, audience_id)
    if no_repeats:
        repeats = result.figures.get("repeats (TikTok-idempotent)")
        result.check("nothing sent twice", repeats == 0, repeats)


def drain(result: Result, step, started: float, seconds: float) -> None:
    try:
        wait_for(lambda: settled(step, result.users), seconds=seconds)
    except TimedOut as exc:
        result.check("sync finished by itself", False, exc)
        return
    elapsed = time.monotonic() - started
    result.check("sync finished by itself", True, f"{elapsed:.1f} s")
    result.figures["seconds to settle"] = round(elapsed, 1)


# 1. SIGKILL five times


def workers_killed(d: Deployment, users: int = 200_000, kills: int = 5) -> Result:
    result = Result("1. worker SIGKILLed five times mid-sync", users)
    with d.fresh(workers=4, settings=SLOW_SYNC):
        canvas, step, audience_id = start_sync(d, users)
        d.sandbox_call("POST", "/faults", {"latency_ms": SLOW_LATENCY_MS})
        started = time.monotonic()
        rng = random.Random(8)
        killed_in_flight = 0
        for n in range(kills):
            target = (n + 1) / (kills + 2)
            wait_for(lambda t=target: synced_fraction(step, users) >= t, seconds=600, every=0.1)
            index = rng.choice(list(d.worker_processes))
            from telemetry.models import InFlightRequest

            killed_in_flight += InFlightRequest.objects.count()
            d.kill_worker(index)
            time.sleep(1)
            d.start_worker(index)
        result.figures["kills"] = kills
        result.figures["requests in flight when killed"] = killed_in_flight
        finish(result, d, canvas, step, audience_id, started=started)
    return result


# 2. Redis and PostgreSQL restarted


def services_restarted(d: Deployment, users: int = 200_000) -> Result:
    result = Result("2. Redis then PostgreSQL crashed and restarted mid-sync", users)
    with d.fresh(workers=4, settings=SLOW_SYNC):
        canvas, step, audience_id = start_sync(d, users)
        d.sandbox_call("POST", "/faults", {"latency_ms": SLOW_LATENCY_MS})
        started = time.monotonic()
        wait_for(lambda: synced_fraction(step, users) >= 0.25, seconds=600, every=0.1)
        d.redis.crash_and_restart(down_seconds=5)
        result.figures["Redis down (s)"] = 5
        wait_for(lambda: synced_fraction(step, users) >= 0.55, seconds=600, every=0.25)
        from django.db import connections

        connections.close_all()
        d.postgres.crash_and_restart(down_seconds=5)
        result.figures["PostgreSQL down (s)"] = 5
        finish(result, d, canvas, step, audience_id, started=started)
    return result


# 3. TikTok answering badly


def tiktok_faults(d: Deployment, users: int = 200_000) -> Result:
    result = Result("3. TikTok: 30 % rate limited, 10 % errors, 500 ms latency", users)
    with d.fresh(workers=4):
        d.sandbox_call(
            "POST",
            "/faults",
            {"probabilities": {"40100": 0.3, "50000": 0.1}, "latency_ms": 500},
        )
        canvas, step, audience_id = start_sync(d, users)
        drain(result, step, time.monotonic(), 900)  # with the faults on all along
        check_exactly_once(result, d, canvas, step, audience_id)
        traffic = d.sandbox_call("GET", "/stats")
        result.figures["TikTok answers by code"] = traffic["by_code"]
        result.figures["rate-limited answers"] = traffic["mapping"]["rate_limited"]
    return result


# 4. Token revoked, then reconnected


def token_revoked(d: Deployment, users: int = 100_000, check_seconds: int = 10) -> Result:
    result = Result("4. token revoked at TikTok, then reconnected", users)
    settings = {**SLOW_SYNC, "TIKTOK_TOKEN_CHECK_SECONDS": str(check_seconds)}
    with d.fresh(workers=4, settings=settings):
        from partners.models import ConnectionStatus, TikTokConnection

        canvas, step, audience_id = start_sync(d, users)
        d.sandbox_call("POST", "/faults", {"latency_ms": SLOW_LATENCY_MS})
        wait_for(lambda: synced_fraction(step, users) >= 0.2, seconds=600, every=0.1)
        d.sandbox_call("POST", "/tokens/revoke")
        revoked = time.monotonic()
        connection = wait_for(
            lambda: TikTokConnection.objects.filter(status=ConnectionStatus.INVALID).first(),
            seconds=check_seconds + 10,
            every=0.1,
        )
        seen = time.monotonic() - revoked
        result.figures["seconds until shown invalid"] = round(seen, 1)
        result.check(
            f"shown invalid within one check period ({check_seconds} s)",
            seen <= check_seconds,
            f"{seen:.1f} s",
        )
        time.sleep(3)  # requests already in flight when it was marked finish
        before = mapping_requests(d)
        time.sleep(check_seconds * 2)
        after = mapping_requests(d)
        result.check("no mapping request while invalid", after == before, after - before)
        refused = d.sandbox_call("GET", "/stats")["by_code"].get("40105", 0)
        result.figures["requests TikTok refused with 40105 (in flight when revoked)"] = refused
        paused = stats(step)
        result.figures["users pending while paused"] = paused.entered - paused.synced
        # Reconnect inside the window: the same advertiser through OAuth again.
        reconnect(d, connection)
        finish(result, d, canvas, step, audience_id, started=time.monotonic(), seconds=600)
    return result


def mapping_requests(d: Deployment) -> int:
    return d.sandbox_call("GET", "/stats")["by_endpoint"].get("/segment/mapping/", 0)


def reconnect(d: Deployment, connection) -> None:
    """Reconnect the same ad accounts through OAuth (an Admin's Change Account)."""
    from appgroups.models import Membership, Role

    admin = Membership.objects.get(app_group_id=connection.app_group_id, role=Role.ADMIN)
    advertiser_ids = list(connection.ad_accounts.values_list("advertiser_id", flat=True))
    tiktok_connect(admin, d.sandbox_url, advertiser_ids)


# 5. Audience deleted at TikTok


def audience_deleted(d: Deployment, users: int = 50_000, window_seconds: int = 40) -> Result:
    result = Result(f"5. audience deleted at TikTok (retry window {window_seconds} s)", users)
    settings = {"AUDIENCE_SYNC_RETRY_WINDOW_SECONDS": str(window_seconds)}
    with d.fresh(workers=2, settings=settings):
        from analytics.models import AudienceSyncBatch
        from notifications.models import Problem, ProblemKind

        canvas, step, audience_id = seed_audience_sync(users, d.sandbox_url, ["email"])
        d.sandbox_call("POST", f"/audiences/{audience_id}/delete")
        from journeys.entries import canvas_entries_create
        from users.models import Profile

        d.start_workers()
        d.start_beat()
        started = time.monotonic()
        canvas_entries_create(
            canvas=canvas, profiles=Profile.objects.filter(app_group_id=canvas.app_group_id)
        )
        try:
            wait_for(lambda: settled(step, users), seconds=window_seconds + 300)
        except TimedOut as exc:
            result.check("every user reached a final state", False, exc)
            return result
        elapsed = time.monotonic() - started
        s = stats(step)
        result.figures["seconds until Errored"] = round(elapsed, 1)
        result.check("Users Errored = users entered", s.errored == users, s.errored)
        result.check("Users Synced = 0", s.synced == 0, s.synced)
        result.check(
            "errored at the deadline, not before",
            elapsed >= window_seconds,
            f"{elapsed:.1f} s ≥ {window_seconds} s",
        )
        result.check(
            "reason on the step",
            s.last_error_code == 40007 and s.last_error_message,
            f"{s.last_error_code}: {s.last_error_message}",
        )
        logged = AudienceSyncBatch.objects.filter(code=40007).count()
        result.check("reason in the sync log", logged > 0, f"{logged} batches with 40007")
        result.check(
            "creator notified (Audience Does Not Exist, Users Are Erroring Out)",
            {ProblemKind.AUDIENCE_DOES_NOT_EXIST, ProblemKind.USERS_ERRORING}
            <= set(Problem.objects.values_list("kind", flat=True)),
        )
    return result


# 6. Beat twice


def beat_twice(d: Deployment, users: int = 200_000) -> Result:
    result = Result("6. beat running twice", users)
    with d.fresh(workers=4):
        canvas, step, audience_id = start_sync(d, users, beats=2)
        finish(result, d, canvas, step, audience_id, started=time.monotonic(), no_repeats=True)
    return result


# SIGTERM during a flush (issue 9), at scale


def workers_terminated(d: Deployment, users: int = 200_000) -> Result:
    result = Result("7. workers sent SIGTERM mid-sync, and restarted", users)
    with d.fresh(workers=4, settings=SLOW_SYNC):
        canvas, step, audience_id = start_sync(d, users)
        d.sandbox_call("POST", "/faults", {"latency_ms": SLOW_LATENCY_MS})
        started = time.monotonic()
        stops = []
        for n, index in enumerate(sorted(d.worker_processes)):
            wait_for(
                lambda t=(n + 1) / 6: synced_fraction(step, users) >= t, seconds=600, every=0.1
            )
            stops.append(d.stop_worker(index, signal.SIGTERM))
            d.start_worker(index)
        result.figures["seconds each worker took to stop"] = [round(s, 1) for s in stops]
        finish(result, d, canvas, step, audience_id, started=started, no_repeats=True)
    return result


SCENARIOS = {
    "workers-killed": workers_killed,
    "services-restarted": services_restarted,
    "tiktok-faults": tiktok_faults,
    "token-revoked": token_revoked,
    "audience-deleted": audience_deleted,
    "beat-twice": beat_twice,
    "workers-terminated": workers_terminated,
}
