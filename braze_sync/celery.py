"""The Celery app. Workers and beat start with `celery -A braze_sync worker|beat`."""

from __future__ import annotations

import os

from celery import Celery

# The embedded default broker, answering a worker's shutdown promptly (registered for
# filesystem:// URLs before any connection is made).
import braze_sync.broker  # noqa: E402, F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "braze_sync.settings")

app = Celery("braze_sync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Workers write a heartbeat for the status page and stop their loops promptly on SIGTERM.
from telemetry.worker import WorkerHeartbeatStep  # noqa: E402

app.steps["worker"].add(WorkerHeartbeatStep)
