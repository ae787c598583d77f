"""Tasks that belong to no app: the worker ping used by tests and the ops status page."""

from __future__ import annotations

import os
import socket

from celery import shared_task
from django.db import connection
from django.utils import timezone


@shared_task(ignore_result=False)
def worker_ping() -> dict:
    """Answer with who ran it, on which database, and when: proof that a message crossed the
    broker to a worker that can reach the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "database": str(connection.settings_dict["NAME"]),
        "at": timezone.now().isoformat(),
    }
