"""Reachability checks behind /healthz. Each returns {"ok": bool, ...} and never raises."""

from __future__ import annotations

import logging
import os

from celery import current_app
from django.db import connection

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down" to a health check
        logger.warning("healthz: database unreachable: %s", type(exc).__name__)
        return {"ok": False, "vendor": connection.vendor, "error": type(exc).__name__}
    return {"ok": True, "vendor": connection.vendor}


def check_broker() -> dict:
    transport = current_app.conf.broker_url.split("://", 1)[0]
    try:
        if transport == "filesystem":
            _check_filesystem_broker(current_app.conf.broker_transport_options)
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
            # Opening a channel makes the Redis transport PING its server.
            conn.default_channel  # noqa: B018
    except Exception as exc:  # kombu raises transport-specific errors
        logger.warning("healthz: broker unreachable: %s", type(exc).__name__)
        return {"ok": False, "transport": transport, "error": type(exc).__name__}
    return {"ok": True, "transport": transport}


def _check_filesystem_broker(options: dict) -> None:
    for key in ("data_folder_in", "data_folder_out"):
        folder = options[key]
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OSError(f"broker folder {key} is not writable")
