"""kombu's filesystem transport (the embedded default broker), answering a worker's shutdown
promptly.

Celery's consumer loop for a polling transport waits in `drain_events(timeout=2.0)` and looks
at a pending shutdown only between two waits, so an idle worker stopped by Ctrl-C (honcho
sends SIGTERM) took up to 2 s before it even began to stop, and honcho kills what is still
running after 5 s. Waiting at most DRAIN_SECONDS per call costs one more folder scan per
call, nothing else: the folder is scanned every polling interval anyway.
"""

from __future__ import annotations

from kombu.transport import TRANSPORT_ALIASES, filesystem

DRAIN_SECONDS = 0.25


class FilesystemTransport(filesystem.Transport):
    def drain_events(self, connection, timeout=None):
        if timeout is None or timeout > DRAIN_SECONDS:
            timeout = DRAIN_SECONDS
        return super().drain_events(connection, timeout=timeout)


# filesystem:// URLs get this class wherever they are used (worker, beat, web, /healthz), and
# other URLs are untouched. Registered by braze_sync/celery.py, which every process loads.
TRANSPORT_ALIASES["filesystem"] = f"{__name__}:{FilesystemTransport.__name__}"
