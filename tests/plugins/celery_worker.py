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


@pytest.fixture
def celery_worker_process(tmp_path) -> Iterator[WorkerProcess]:
    from braze_sync.celery import app

    queue = f"test-{uuid.uuid4().hex[:12]}"
    default_queue = app.conf.task_default_queue
    with app.connection_for_write() as conn:
        for name in (default_queue, queue):
            conn.default_channel.queue_purge(name)

    log_path = tmp_path / "worker.log"
    command = [
        sys.executable, "-m", "celery", "-A", "braze_sync", "worker",
        "--pool", "solo", "--queues", f"{default_queue},{queue}", "--hostname", f"{queue}@%h",
        "--without-gossip", "--without-mingle", "--loglevel", "INFO",
    ]  # fmt: skip
    env = os.environ | {
        "DATABASE_URL": database_url_for_test_database(),
        # Settings a test pointed elsewhere (e.g. at the sandbox) reach the worker too.
        "TIKTOK_API_BASE": settings.TIKTOK_API_BASE,
        "TIKTOK_APP_ID": settings.TIKTOK_APP_ID,
        "TIKTOK_APP_SECRET": settings.TIKTOK_APP_SECRET,
    }
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    worker = WorkerProcess(queue=queue, process=process, log_path=str(log_path))
    deadline = time.monotonic() + WORKER_READY_TIMEOUT_SECONDS
    while "ready." not in worker.log():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"Celery worker did not start:\n{worker.log()}")
        time.sleep(0.2)
    yield worker
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
