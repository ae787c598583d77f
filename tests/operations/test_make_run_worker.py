"""The development worker, started as the Procfile starts it (`make run`), stops promptly
and cleanly on SIGTERM (what honcho sends on Ctrl-C, killing what remains after 5 s)."""

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.plugins.celery_worker import child_environment

# The worker writes its heartbeat: the test holds no transaction open.
pytestmark = pytest.mark.django_db(transaction=True)

PROCFILE = Path(settings.BASE_DIR) / "Procfile"
# honcho sends SIGKILL 5 s after SIGTERM; measured here: 1-2 s (docs/OPERATIONS.md).
STOP_SECONDS = 4


def procfile_command(name: str) -> list[str]:
    for line in PROCFILE.read_text().splitlines():
        if line.startswith(f"{name}:"):
            return shlex.split(line.split(":", 1)[1])
    raise AssertionError(f"Procfile has no {name} line")


def test_the_idle_development_worker_stops_within_seconds_without_error_lines(tmp_path):
    command = procfile_command("worker")
    assert command[:2] == ["celery", "-A"]
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", *command, "--hostname", "dev-stop@%h"],
            cwd=settings.BASE_DIR,
            env=child_environment() | {"DJANGO_DEBUG": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # honcho signals the process group
        )
    try:
        deadline = time.monotonic() + 60
        while "ready." not in log_path.read_text():
            assert worker.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        time.sleep(2)  # idle: waiting for the broker, the timer running

        started = time.monotonic()
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        stopped_in = time.monotonic() - started
    finally:
        if worker.poll() is None:
            worker.kill()

    output = log_path.read_text()
    assert stopped_in < STOP_SECONDS, (stopped_in, output)
    assert "ERROR" not in output, output
    assert "Warm shutdown" in output
