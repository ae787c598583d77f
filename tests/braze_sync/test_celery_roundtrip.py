"""A task crosses the configured broker (filesystem by default, Redis in CI) to a worker
process started here, and its answer comes back: no eager mode."""

import socket
import time

import pytest
from django.db import connection

from braze_sync.celery import app
from braze_sync.tasks import worker_ping

ROUND_TRIP_TIMEOUT_SECONDS = 30


@pytest.mark.django_db(transaction=True)
def test_worker_process_runs_a_task_sent_through_the_broker(celery_worker_process):
    assert app.conf.task_always_eager is False

    result = worker_ping.apply_async(queue=celery_worker_process.queue)
    answer = result.get(timeout=ROUND_TRIP_TIMEOUT_SECONDS)

    # The solo pool runs tasks in the worker's main process: the pid proves who ran it.
    assert answer["pid"] == celery_worker_process.process.pid
    assert answer["hostname"] == socket.gethostname()
    # The worker works on the test database, not the development one.
    assert answer["database"] == str(connection.settings_dict["NAME"])
    assert result.successful()
    # The worker logs the success just after storing the result: give the line a moment.
    line = f"Task braze_sync.tasks.worker_ping[{result.id}] succeeded"
    deadline = time.monotonic() + 10
    while line not in celery_worker_process.log():
        assert time.monotonic() < deadline, celery_worker_process.log()
        time.sleep(0.05)
