"""Tasks that belong to no app: the worker ping used by tests and the ops status page."""

from __future__ import annotations

import os
import socket

from celery import shared_task
from django.utils import timezone


@shared_task(ignore_result=False)
def worker_ping() -> dict:
    """Answer with who ran it and when: proof that a message crossed the broker to a worker."""
    return {"hostname": socket.gethostname(), "pid": os.getpid(), "at": timezone.now().isoformat()}
