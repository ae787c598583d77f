"""When the flush runs besides beat's 5-second tick (docs/ARCHITECTURE.md D1): a moment after
users are queued, so that a full batch goes at once, and when the oldest user of a waiting
partial batch has waited AUDIENCE_SYNC_BATCH_WAIT_SECONDS.

A wake-up is one Celery task per slot of time, however many processes ask for it: the first
to add the slot's key to Django's cache (Redis, else files shared by the machine's processes)
sends it. Wake-ups are safe to drop or to run twice: the queue and the claims are in the
database, and beat's tick still comes.
"""

from __future__ import annotations

import math
import time
from datetime import datetime

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

FLUSH_TASK = "audience_sync.tasks.audience_sync_flush"
# Users queued within this many seconds share one wake-up, sent at the end of their slot.
SOON_SECONDS = 0.25
# Slots of a wake-up for a waiting batch: it never runs before the batch is ready.
READY_SLOT_SECONDS = 0.1


def flush_wake_soon() -> None:
    """Wake the flush shortly after the current transaction commits (users were queued)."""
    transaction.on_commit(
        lambda: flush_wake_at(time.time(), slot_seconds=SOON_SECONDS), robust=True
    )


def flush_wake_when_ready(ready_at: datetime) -> None:
    """Wake the flush when a waiting partial batch becomes ready."""
    flush_wake_at(ready_at.timestamp(), slot_seconds=READY_SLOT_SECONDS)


def flush_wake_at(when: float, *, slot_seconds: float) -> None:
    """One flush task at the end of the slot that holds `when` (epoch seconds)."""
    slot = math.ceil(when / slot_seconds)
    countdown = max(0.0, slot * slot_seconds - time.time())
    # The key outlives the slot, so a late asker does not send the slot's task again.
    if cache.add(f"audience_sync:flush_wake:{slot_seconds}:{slot}", 1, math.ceil(countdown) + 5):
        # By name: the task module asks this one for wake-ups (no import cycle).
        current_app.send_task(
            FLUSH_TASK,
            countdown=countdown,
            expires=countdown + settings.AUDIENCE_SYNC_FLUSH_SECONDS,
        )
