"""The example process definitions in deploy/ started for real, as production runs them on many
machines: gunicorn, two Celery workers with their own node names and -- by mistake -- two beats,
all with DJANGO_DEBUG=0, on the test database and the configured broker (filesystem, or Redis in
CI), talking to the TikTok sandbox. Users entered through the REST API on gunicorn must reach
the TikTok audience exactly once and be counted exactly once (issue 9, "Running on many
machines")."""

from __future__ import annotations

import configparser
import contextlib
import itertools
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from django.conf import settings as django_settings

from analytics.models import AudienceSyncBatch, BatchOutcome, StepStats
from appgroups.models import ApiPermission
from audience_sync.models import AudienceSyncItem
from canvas.models import CanvasState, MatchField, StepType
from journeys.models import Entry
from partners import crypto
from tests.factories import (
    AudienceSyncSettingsFactory,
    CanvasFactory,
    TikTokAudienceFactory,
    rest_api_key,
)
from tests.plugins.canvases import add_step, members
from tests.plugins.celery_worker import _purge, child_environment
from tests.plugins.tiktok_sandbox import free_port
from tests.tiktok import connect_through_oauth, point_at_sandbox
from users.identifiers import sha256_hex

DEPLOY = Path(django_settings.BASE_DIR) / "deploy"
USERS = 400
RECIPIENTS_PER_REQUEST = 50  # Braze's cap per /canvas/trigger/send request
USERS_PER_TIKTOK_REQUEST = 40  # small batches: many claims for the workers to compete for
START_TIMEOUT_SECONDS = 40
SYNC_TIMEOUT_SECONDS = 45
STOP_TIMEOUT_SECONDS = 30


def procfile_command(role: str) -> str:
    """The command of `role` in deploy/<role>.Procfile (lines `name: command`)."""
    for line in (DEPLOY / f"{role}.Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == role and not line.lstrip().startswith("#"):
            return command.strip()
    raise AssertionError(f"deploy/{role}.Procfile has no '{role}:' line")


@dataclass
class Started:
    name: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None


class Deployment:
    """Processes started from the Procfiles, as honcho or Heroku would: `sh -c`, the variables
    substituted by the shell from each process's environment. That environment is the test
    database's and the settings in force when a process starts (child_environment), plus
    `overrides`, plus the role's own variables."""

    def __init__(self, folder: Path, overrides: dict[str, str]) -> None:
        self.folder = folder
        self.overrides = overrides
        self.processes: list[Started] = []

    def start(self, role: str, name: str, **variables: str) -> Started:
        log_path = self.folder / f"{name}.log"
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                ["/bin/sh", "-c", f"exec {procfile_command(role)}"],
                cwd=django_settings.BASE_DIR,
                env=child_environment() | self.overrides | variables,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started = Started(name, process, log_path)
        self.processes.append(started)
        return started

    def logs(self) -> str:
        return "\n".join(f"----- {p.name}\n{p.log()[-3000:]}" for p in self.processes)

    def wait_for(self, what: str, ready, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            dead = [p.name for p in self.processes if not p.alive()]
            assert not dead, f"{dead} exited while waiting for {what}:\n{self.logs()}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{self.logs()}"
            time.sleep(0.2)

    def stop(self) -> dict[str, int]:
        """SIGTERM to every process still running, then their exit codes. One that has not
        stopped after STOP_TIMEOUT_SECONDS is killed with its children (a Celery worker's pool
        processes) and reported as -9, its children's states written to its log."""
        for started in self.processes:
            if started.alive():
                started.process.send_signal(signal.SIGTERM)
        codes = {}
        for started in self.processes:
            try:
                codes[started.name] = started.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                children = _children(started.process.pid)
                with open(started.log_path, "a") as log:
                    log.write(f"\n[test] not stopped after {STOP_TIMEOUT_SECONDS} s; children:\n")
                    for pid in children:
                        log.write(_process_state(pid))
                for pid in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                started.process.kill()
                codes[started.name] = started.process.wait()
        return codes


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _process_state(pid: int) -> str:
    """A process's state and what it waits on in the kernel, for a test that must say why a
    process did not stop."""
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        wchan = Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return f"  {pid}: gone\n"
    state = next((line for line in status if line.startswith("State:")), "State: ?")
    return f"  {pid}: {state.split(':', 1)[1].strip()}, waiting in {wchan or '-'}\n"


@pytest.fixture
def deployment(tmp_path, settings) -> Iterator[Deployment]:
    """Production settings for the children (DEBUG off, their own secret key, the token key
    this test process encrypts with); every process gets SIGTERM at the end, even on failure."""
    settings.TIKTOK_TOKEN_KEYS = [Fernet.generate_key().decode()]
    crypto.fernet.cache_clear()
    bin_dir = str(Path(sys.executable).parent)
    overrides = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "TIKTOK_TOKEN_KEYS": ",".join(settings.TIKTOK_TOKEN_KEYS),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        # They talk to the sandbox over plain http, which production settings refuse without
        # this opt-out (honoured for a TIKTOK_API_BASE on this machine only).
        "TIKTOK_API_ALLOW_HTTP": "1",
        "PYTHONUNBUFFERED": "1",
        "LOG_FORMAT": "plain",  # the test reads the processes' log lines
    }
    running = Deployment(tmp_path, overrides)
    try:
        yield running
    finally:
        running.stop()
        crypto.fernet.cache_clear()


def flush_lines(started: Started, pattern: str) -> int:
    return len(re.findall(pattern, started.log()))


SENT_FLUSH = r"Sending due task audience-sync-flush"
FLUSH_DONE = r"Task audience_sync\.tasks\.audience_sync_flush\[[^\]]+\] succeeded"


@pytest.mark.django_db(transaction=True)
def test_many_processes_and_two_beats_sync_every_user_exactly_once(
    settings, tiktok_sandbox, admin, deployment
):
    # TikTok connected through OAuth against the sandbox, an audience there, an active
    # API-triggered Canvas whose step adds users to it by email.
    point_at_sandbox(settings, tiktok_sandbox)
    settings.TIKTOK_MAX_USERS_PER_REQUEST = USERS_PER_TIKTOK_REQUEST
    connection = connect_through_oauth(admin, tiktok_sandbox, tiktok_sandbox.advertiser_ids[:1])
    ad_account = connection.ad_accounts.get()
    audience_id = tiktok_sandbox.create_audience(
        connection.access_token, ad_account.advertiser_id, "Deployed"
    )
    audience = TikTokAudienceFactory(
        ad_account=ad_account, name="Deployed", tiktok_audience_id=audience_id
    )
    canvas = CanvasFactory(app_group=admin.app_group, name="Ops", state=CanvasState.ACTIVE)
    step = add_step(canvas, StepType.AUDIENCE_SYNC, name="To TikTok")
    AudienceSyncSettingsFactory(step=step, audience=audience, match_fields=[MatchField.EMAIL])
    _, api_key = rest_api_key(
        app_group=admin.app_group, permissions=[ApiPermission.CANVAS_TRIGGER_SEND]
    )

    # Every role from its Procfile: web, two workers on "two machines", and two beats.
    # No stale wake-up from an earlier test reaches these workers (harmless, but this test
    # counts what happens).
    from braze_sync.celery import app

    _purge(app.conf.task_default_queue)
    port = free_port()
    web = deployment.start("web", "web", PORT=str(port), WEB_CONCURRENCY="2")
    workers = [
        deployment.start("worker", f"worker-{n}", WORKER_NAME=f"ops-{n}", WORKER_CONCURRENCY="2")
        for n in ("a", "b")
    ]
    beats = [
        deployment.start("beat", f"beat-{n}", BEAT_SCHEDULE_FILE=str(deployment.folder / f"s{n}"))
        for n in (1, 2)
    ]
    base_url = f"http://127.0.0.1:{port}"

    def web_healthy() -> bool:
        try:
            return requests.get(f"{base_url}/healthz", timeout=5).status_code == 200
        except requests.RequestException:  # not listening yet, or still booting
            return False

    deployment.wait_for("gunicorn", web_healthy, START_TIMEOUT_SECONDS)
    deployment.wait_for(
        "workers and beats",
        lambda: (
            all(" ready." in w.log() for w in workers)
            and all(flush_lines(b, SENT_FLUSH) for b in beats)
        ),
        START_TIMEOUT_SECONDS,
    )
    for n, worker in zip(("a", "b"), workers, strict=True):
        assert re.search(rf"ops-{n}@\S+ ready\.", worker.log()), worker.log()

    # Users enter through the REST API, several requests at once, as the TLS proxy forwards
    # them (X-Forwarded-Proto: production settings redirect plain http).
    emails = [f"user{i}@ops.example.com" for i in range(USERS)]

    def trigger(chunk: list[str]) -> requests.Response:
        recipients = [
            {
                "external_user_id": email.partition("@")[0],
                "send_to_existing_only": False,
                "attributes": {"email": email},
            }
            for email in chunk
        ]
        return requests.post(
            f"{base_url}/api/canvas/trigger/send",
            json={"canvas_id": str(canvas.pk), "recipients": recipients},
            headers={"Authorization": f"Bearer {api_key}", "X-Forwarded-Proto": "https"},
            timeout=30,
        )

    chunks = [
        emails[i : i + RECIPIENTS_PER_REQUEST] for i in range(0, USERS, RECIPIENTS_PER_REQUEST)
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(trigger, chunks))
    assert [r.status_code for r in responses] == [201] * len(chunks), [
        r.text for r in responses if r.status_code != 201
    ]

    # Wait until every user has reached the step and its queue is empty.
    def drained() -> bool:
        stats = StepStats.objects.filter(step=step).first()
        return (
            stats is not None
            and stats.entered == USERS
            and not AudienceSyncItem.objects.filter(step=step).exists()
        )

    deployment.wait_for("the step's queue to drain", drained, SYNC_TIMEOUT_SECONDS)

    # Both beats keep ticking after the queue is empty; let each send one more flush and the
    # workers run them: nothing may be sent again.
    sent = [flush_lines(b, SENT_FLUSH) for b in beats]
    done = sum(flush_lines(w, FLUSH_DONE) for w in workers)
    deployment.wait_for(
        "one more flush from each beat",
        lambda: (
            all(flush_lines(b, SENT_FLUSH) > n for b, n in zip(beats, sent, strict=True))
            and sum(flush_lines(w, FLUSH_DONE) for w in workers) >= done + 2
        ),
        SYNC_TIMEOUT_SECONDS,
    )

    # Counted once: the step's metrics equal the number of users entered.
    stats = StepStats.objects.get(step=step)
    assert Entry.objects.filter(canvas=canvas).count() == USERS
    assert (stats.entered, stats.synced, stats.not_synced, stats.errored, stats.pending) == (
        USERS, USERS, 0, 0, 0,
    )  # fmt: skip
    synced_batches = AudienceSyncBatch.objects.filter(audience=audience)
    assert sum(b.size for b in synced_batches.filter(outcome=BatchOutcome.SYNCED)) == USERS

    # Sent once: TikTok holds exactly these users, and received each of them in one row only.
    assert members(tiktok_sandbox, audience) == {
        "EMAIL_SHA256": {sha256_hex(email) for email in emails}
    }
    mapping = tiktok_sandbox.requests("/segment/mapping/", limit=5000)
    assert [r for r in mapping if r["code"] != 0] == []
    assert sum(r["rows"] for r in mapping) == USERS
    assert max(r["rows"] for r in mapping) <= USERS_PER_TIKTOK_REQUEST
    assert tiktok_sandbox.stats()["mapping"]["rows"] == USERS
    # Every process is still up: both workers, both beats, the web.
    assert [w.alive() for w in workers] == [True, True], deployment.logs()
    assert web.alive() and all(b.alive() for b in beats), deployment.logs()

    # SIGTERM stops every role cleanly (workers: warm shutdown).
    codes = deployment.stop()
    assert codes == {p.name: 0 for p in deployment.processes}, deployment.logs()


def unit(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(DEPLOY / "systemd" / f"braze-sync-{name}.service")
    return parser["Service"]


@pytest.mark.parametrize("role", ["web", "worker", "beat"])
def test_systemd_units_run_the_procfile_commands_and_stop_gracefully(role):
    service = unit(role)
    executable, *arguments = shlex.split(service["ExecStart"])
    command = [Path(executable).name, *(a.replace("%%", "%") for a in arguments)]
    procfile = shlex.split(procfile_command(role))

    # The same program and options as the Procfile, with values fixed in the unit.
    def words(args):
        return list(itertools.takewhile(lambda a: not a.startswith("--"), args))

    def options(args):
        return [a for a in args if a.startswith("--")]

    assert (words(command), options(command)) == (words(procfile), options(procfile))
    assert service["EnvironmentFile"].startswith("/etc/")
    assert service["Restart"] == "always"
    assert service["KillSignal"] == "SIGTERM"
    # Secrets come from the environment file, never from the command line.
    assert not re.search(r"SECRET|TOKEN_KEYS|postgres://|redis://", service["ExecStart"])
    if role == "worker":
        # Only the main process gets SIGTERM (its pool processes would die at once), and it
        # has longer than any task may run (the hard time limit) to finish.
        assert service["KillMode"] == "mixed"
        assert int(service["TimeoutStopSec"]) > django_settings.CELERY_TASK_TIME_LIMIT
        assert "worker@%h" in command
    if role == "beat":
        schedule = command[command.index("--schedule") + 1]
        assert schedule.startswith("/var/lib/" + service["StateDirectory"] + "/")
