"""The Celery worker's side of operations: a heartbeat the status page reads, and a prompt
graceful shutdown.

Heartbeat: a worker bootstep writes the worker's row every HEARTBEAT_SECONDS from the
worker's timer thread (so the main thread, which forks the pool, never holds a database
connection).

Shutdown: SIGTERM starts Celery's warm shutdown, which lets running tasks finish. Our tasks
loop over batches for up to ~50 s, so they ask `shutdown_requested()` between batches and
stop there: the request in flight completes and is recorded, nothing more is claimed. The
worker's main process gets the signal; prefork pool processes learn it from a file named
after the main process (their parent), so the check is one stat() per batch.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from pathlib import Path

from celery import bootsteps
from celery.signals import worker_shutting_down
from django.db import close_old_connections, connection
from django.utils import timezone

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10
_stopping = False
# The heartbeat thread must not be inside the database library when the worker forks a pool
# process: SQLite's global lock, held at that instant, stays locked forever in the child
# (seen: a pool process stuck in its first connect). Forks wait for the heartbeat's write.
_database_lock = threading.Lock()


def _reset_database_lock() -> None:
    global _database_lock
    _database_lock = threading.Lock()


os.register_at_fork(
    before=lambda: _database_lock.acquire(),
    after_in_parent=lambda: _database_lock.release(),
    after_in_child=_reset_database_lock,
)


def _stop_file(pid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"braze_sync-worker-{pid}.stopping"


def shutdown_requested() -> bool:
    """True once this worker (or the worker whose pool process this is) got SIGTERM."""
    return _stopping or _stop_file(os.getppid()).exists()


@worker_shutting_down.connect
def _on_worker_shutting_down(sig=None, how=None, exitcode=None, **kwargs) -> None:
    global _stopping
    _stopping = True
    try:
        _stop_file(os.getpid()).touch()
    except OSError:
        logger.warning("could not tell pool processes to stop", exc_info=True)
    logger.info("worker shutting down (%s): tasks stop after their current batch", sig)


def _heartbeat_write(
    hostname: str, *, started_at, concurrency: int, stopping_at=None, stopped_at=None
) -> None:
    from telemetry.models import WorkerHeartbeat

    with _database_lock:
        close_old_connections()
        try:
            WorkerHeartbeat.objects.bulk_create(
                [
                    WorkerHeartbeat(
                        hostname=hostname, pid=os.getpid(), concurrency=concurrency,
                        started_at=started_at, last_seen_at=timezone.now(),
                        stopping_at=stopping_at, stopped_at=stopped_at,
                    )
                ],
                update_conflicts=True,
                unique_fields=["hostname"],
                update_fields=[
                    "pid", "concurrency", "started_at", "last_seen_at", "stopping_at",
                    "stopped_at",
                ],
            )  # fmt: skip
        except Exception:
            logger.warning("worker heartbeat not recorded", exc_info=True)
        connection.close()


class WorkerHeartbeatStep(bootsteps.StartStopStep):
    """Registered in braze_sync/celery.py: `app.steps["worker"].add(WorkerHeartbeatStep)`."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        self.tref = None
        self.started_at = None

    def _beat(self, worker) -> None:
        stopping_at = timezone.now() if _stopping else None
        _heartbeat_write(
            worker.hostname,
            started_at=self.started_at,
            concurrency=worker.concurrency or 0,
            stopping_at=stopping_at,
        )

    def start(self, worker) -> None:
        global _stopping
        _stopping = False
        _stop_file(os.getpid()).unlink(missing_ok=True)
        self.started_at = timezone.now()
        self.tref = worker.timer.call_repeatedly(
            HEARTBEAT_SECONDS, self._beat, (worker,), priority=10
        )
        worker.timer.call_after(0, self._beat, (worker,), priority=10)

    def stop(self, worker) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
        now = timezone.now()
        _heartbeat_write(
            worker.hostname,
            started_at=self.started_at or now,
            concurrency=worker.concurrency or 0,
            stopping_at=now,
            stopped_at=now,
        )
        _stop_file(os.getpid()).unlink(missing_ok=True)
