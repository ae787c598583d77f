"""The product as in production, on this machine, with parts that can be broken on purpose.

`Deployment` starts a private PostgreSQL cluster and a private Redis (own data folder, free
ports on 127.0.0.1: restarting them disturbs nothing else on the machine), the TikTok sandbox,
Celery workers (prefork, each in its own process group so that SIGKILL takes the whole
worker, like a machine dying) and Celery beat, all with production settings
(DJANGO_DEBUG=0). This process talks to the same database through the ORM to seed and check.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from bench.support import (
    free_port,
    fresh_database,
    production_env,
    start_celery,
    start_sandbox,
    stop,
)

APP_ID = "7000000000000000001"
APP_SECRET = "sandbox-secret-change-me"


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path:
        return path
    raise SystemExit(f"{name} not found: make chaos needs PostgreSQL's server binaries")


def _as_postgres_user(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PrivatePostgres:
    def __init__(self, root: Path):
        self.dir = root / "pg"
        self.port = free_port()
        self.log = root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/braze_sync"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres_user([_postgres_bin("pg_ctl"), "-D", str(self.dir), *args]),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        if not self.dir.exists():
            self.dir.mkdir(parents=True)
            if os.geteuid() == 0:
                shutil.chown(self.dir, "postgres")
                shutil.chown(self.dir.parent, "postgres")
            subprocess.run(
                _as_postgres_user(
                    [_postgres_bin("initdb"), "-D", str(self.dir), "-U", "postgres",
                     "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]
                ),
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c max_connections=200 -c shared_buffers=256MB"
        )
        self._ctl("-o", options, "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "-t", "60", "stop")

    def crash_and_restart(self, down_seconds: float) -> None:
        """An immediate shutdown (no checkpoint: crash recovery on start), then start."""
        self.stop("immediate")
        time.sleep(down_seconds)
        self.start()

    def create_database(self) -> None:
        fresh_database(self.url)

    def version(self) -> str:
        out = subprocess.run(
            [_postgres_bin("postgres"), "--version"], capture_output=True, text=True
        )
        return out.stdout.strip()


class PrivateRedis:
    def __init__(self, root: Path):
        self.port = free_port()
        self.log = root / "redis.log"
        self.process: subprocess.Popen | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        import redis

        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port).ping()
                return
            except redis.ConnectionError:
                time.sleep(0.1)
        raise SystemExit("private redis-server did not start")

    def crash_and_restart(self, down_seconds: float) -> None:
        """SIGKILL (Redis keeps nothing on disk here: broker messages and limiter windows are
        gone), then a fresh server on the same port."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        time.sleep(down_seconds)
        self.start()

    def stop(self) -> None:
        stop(self.process)

    def version(self) -> str:
        out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
        return out.stdout.split(" sha=")[0].strip()


class Deployment:
    """PostgreSQL, Redis and the sandbox for a whole chaos run (use as a context manager);
    `fresh()` gives each scenario an empty database, broker and sandbox, and its own workers
    and beats with its own settings."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="braze-chaos-"))
        self.postgres = PrivatePostgres(self.root)
        self.redis = PrivateRedis(self.root)
        self.sandbox_port = free_port()
        self.sandbox: subprocess.Popen | None = None
        self.worker_processes: dict[int, subprocess.Popen] = {}
        self.beats: list[subprocess.Popen] = []
        self.workers = 4
        self.concurrency = 2
        self.settings: dict[str, str] = {}
        self.production = production_env()  # with this run's token encryption key

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            **self.production,
            "DATABASE_URL": self.postgres.url,
            "CELERY_BROKER_URL": self.redis.url(0),
            "REDIS_URL": self.redis.url(1),
            "TIKTOK_API_BASE": self.sandbox_url,
            # Production settings refuse plain http to TikTok without it (loopback only).
            "TIKTOK_API_ALLOW_HTTP": "1",
            "TIKTOK_APP_ID": APP_ID,
            "TIKTOK_APP_SECRET": APP_SECRET,
            # Notification emails go to files in the run's folder, not to the console.
            "EMAIL_URL": f"filemail:///{self.root / 'mail'}",  # an absolute folder: four slashes
            **self.settings,
        }

    def __enter__(self) -> Deployment:
        self.postgres.start()
        self.postgres.create_database()
        self.redis.start()
        os.environ.update(self.env)
        self.sandbox = start_sandbox(self.sandbox_port, self.root / "sandbox", self.env)
        import django

        django.setup()
        return self

    def __exit__(self, *exc) -> None:
        self._stop_processes()
        stop(self.sandbox)
        self.redis.stop()
        from django.db import connections

        connections.close_all()
        try:
            self.postgres.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        if not exc[0]:
            shutil.rmtree(self.root, ignore_errors=True)

    @contextmanager
    def fresh(self, *, workers: int = 4, settings: dict[str, str] | None = None):
        """An empty, migrated database, empty Redis and a reset sandbox; `workers` and beats
        started by the scenario get `settings` on top of the run's environment, and so does
        this process, which enters the users (on PostgreSQL the entering statement queues them,
        with the retry window of the process that runs it)."""
        import redis
        from django.db import connections
        from django.test import override_settings

        self.workers, self.settings = workers, settings or {}
        connections.close_all()
        fresh_database(self.postgres.url, self.env)
        redis.Redis(port=self.redis.port).flushall()
        self.sandbox_call("POST", "/reset")
        # The environment's strings, typed as braze_sync/settings.py reads them (integers here).
        typed = {k: int(v) if v.isdigit() else v for k, v in self.settings.items()}
        try:
            with override_settings(**typed):
                yield self
        finally:
            self._stop_processes()

    def _stop_processes(self) -> None:
        self.stop_beats()
        for index in list(self.worker_processes):
            self.stop_worker(index, signal.SIGTERM)

    # Processes

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        # Its own process group: SIGKILL takes the pool too.
        return start_celery(command, self.env, self.root / f"{name}.log", new_session=True)

    def start_worker(self, index: int) -> None:
        self.worker_processes[index] = self._spawn(
            f"worker{index}",
            ["worker", "--concurrency", str(self.concurrency), "--hostname",
             f"chaos{index}@%h", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        )  # fmt: skip

    def start_workers(self) -> None:
        for index in range(self.workers):
            self.start_worker(index)

    def kill_worker(self, index: int) -> None:
        """SIGKILL the worker and its pool processes at once: no cleanup, as a lost machine."""
        process = self.worker_processes.pop(index)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_worker(self, index: int, sig: int = signal.SIGTERM, timeout: float = 90) -> float:
        """Send `sig` and return how long the worker took to exit."""
        process = self.worker_processes.pop(index)
        started = time.monotonic()
        if process.poll() is None:
            os.kill(process.pid, sig)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return time.monotonic() - started

    def start_beat(self) -> None:
        index = len(self.beats)
        self.beats.append(
            self._spawn(
                f"beat{index}",
                ["beat", "--loglevel", "INFO", "-s", str(self.root / f"beat{index}-schedule")],
            )
        )

    def stop_beats(self) -> None:
        for beat in self.beats:
            if beat.poll() is None:
                os.killpg(beat.pid, signal.SIGTERM)
        stop(*self.beats)
        self.beats = []

    # The sandbox

    def sandbox_call(self, method: str, path: str, body: dict | None = None, **params) -> dict:
        response = requests.request(
            method, f"{self.sandbox_url}/_sandbox{path}", json=body, params=params, timeout=60
        )
        response.raise_for_status()
        return response.json()
