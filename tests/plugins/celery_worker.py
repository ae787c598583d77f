"""Start a real Celery worker process against the configured broker (no eager mode).

The worker uses the test database (so use `transactional_db` or
`django_db(transaction=True)`: it only sees committed rows) and the TikTok settings in force when
it starts (request this fixture after the one that points them at the sandbox). It consumes
the default queue plus
a queue unique to the test (`worker.queue`). Tests use their own broker folder (pyproject's
CELERY_FILESYSTEM_DIR) or CI's own Redis database, and the queues are purged first, so a
`make run` worker never takes a test's messages nor a test a stale one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import connection

WORKER_READY_TIMEOUT_SECONDS = 60


@dataclass
class WorkerProcess:
    queue: str
    process: subprocess.Popen
    log_path: str

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return log.read()


def database_url_for_test_database() -> str:
    """DATABASE_URL of the database the tests run on (pytest-django renamed it)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or ""
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


# Settings a test may point elsewhere (the sandbox, small batches): the worker gets them too.
PASSED_SETTINGS = (
    "TIKTOK_API_BASE",
    "TIKTOK_APP_ID",
    "TIKTOK_APP_SECRET",
    "TIKTOK_MAX_USERS_PER_REQUEST",
    "TIKTOK_MAX_REQUESTS_PER_SECOND",
    "TIKTOK_READ_TIMEOUT",
    "AUDIENCE_SYNC_BATCH_WAIT_SECONDS",
)


def child_environment() -> dict[str, str]:
    """The environment of a product process started by a test: this one's (broker, broker
    folder, REDIS_URL), the test database, Celery's task lines, and the settings a test may have pointed elsewhere."""
    env = os.environ | {
        "DATABASE_URL": database_url_for_test_database(),
        # Tests read which tasks a worker received and finished from its log.
        "CELERY_TASK_LOG_LEVEL": "INFO",
    }
    return env | {name: str(getattr(settings, name)) for name in PASSED_SETTINGS}


def _purge(*queues: str) -> None:
    from braze_sync.celery import app

    with app.connection_for_write() as conn:
        for name in queues:
            conn.default_channel.queue_purge(name)


def _start_worker(log_path, queue: str, name: str) -> WorkerProcess:
    from braze_sync.celery import app

    command = [
        sys.executable, "-m", "celery", "-A", "braze_sync", "worker",
        "--pool", "solo", "--queues", f"{app.conf.task_default_queue},{queue}",
        "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle", "--loglevel", "INFO",
    ]  # fmt: skip
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=child_environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return WorkerProcess(queue=queue, process=process, log_path=str(log_path))


def _wait_until_ready(workers: list[WorkerProcess]) -> None:
    deadline = time.monotonic() + WORKER_READY_TIMEOUT_SECONDS
    for worker in workers:
        while "ready." not in worker.log():
            if worker.process.poll() is not None or time.monotonic() > deadline:
                for w in workers:
                    w.process.kill()
                pytest.fail(f"Celery worker did not start:\n{worker.log()}")
            time.sleep(0.2)


def _stop(workers: list[WorkerProcess]) -> None:
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.terminate()
    for worker in workers:
        try:
            worker.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.process.kill()


@pytest.fixture
def celery_worker_processes(tmp_path) -> Iterator:
    """Start `count` workers: `workers = celery_worker_processes(4)`."""
    from braze_sync.celery import app

    started: list[WorkerProcess] = []

    def start(count: int) -> list[WorkerProcess]:
        queue = f"test-{uuid.uuid4().hex[:12]}"
        _purge(app.conf.task_default_queue, queue)
        workers = [
            _start_worker(tmp_path / f"worker{i}.log", queue, f"{queue}-{i}") for i in range(count)
        ]
        started.extend(workers)
        _wait_until_ready(workers)
        return workers

    yield start
    _stop(started)


@pytest.fixture
def celery_worker_process(celery_worker_processes) -> WorkerProcess:
    return celery_worker_processes(1)[0]
