"""Start a real Celery worker process against the configured broker (no eager mode).

The worker consumes a queue unique to the test, so a `make run` worker on the same machine (or
another test) never takes its messages. Send tasks with `apply_async(queue=worker.queue)`.
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

WORKER_READY_TIMEOUT_SECONDS = 60


@dataclass
class WorkerProcess:
    queue: str
    process: subprocess.Popen
    log_path: str

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return log.read()


@pytest.fixture
def celery_worker_process(tmp_path) -> Iterator[WorkerProcess]:
    queue = f"test-{uuid.uuid4().hex[:12]}"
    log_path = tmp_path / "worker.log"
    command = [
        sys.executable, "-m", "celery", "-A", "braze_sync", "worker",
        "--pool", "solo", "--queues", queue, "--hostname", f"{queue}@%h",
        "--without-gossip", "--without-mingle", "--loglevel", "INFO",
    ]  # fmt: skip
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=os.environ.copy(), stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
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
