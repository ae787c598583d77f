"""kombu's filesystem transport (the embedded default broker), answering a worker's shutdown
promptly.

Celery's consumer loop for a polling transport waits in `drain_events(timeout=2.0)` and looks
at a pending shutdown only between two waits, so an idle worker stopped by Ctrl-C (honcho
sends SIGTERM) took up to 2 s before it even began to stop, and honcho kills what is still
running after 5 s. Waiting at most DRAIN_SECONDS per call costs one more folder scan per
call, nothing else: the folder is scanned every polling interval anyway.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

DRAIN_SECONDS = 0.25


class FilesystemChannel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Write the message under a name no consumer reads, then rename it to kombu's name.

        kombu's own `_put` creates the message file and then writes it: a worker that listed
        the folder in between took the empty file and crashed on it (JSONDecodeError), seen
        with two beats and two workers. A rename within the folder is atomic."""
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # Consumers take only "<stamp>_<uuid>.<queue>.msg" (the part after the first dot).
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class FilesystemTransport(filesystem.Transport):
    Channel = FilesystemChannel

    def drain_events(self, connection, timeout=None):
        if timeout is None or timeout > DRAIN_SECONDS:
            timeout = DRAIN_SECONDS
        return super().drain_events(connection, timeout=timeout)


# filesystem:// URLs get this class wherever they are used (worker, beat, web, /healthz), and
# other URLs are untouched. Registered by braze_sync/celery.py, which every process loads.
TRANSPORT_ALIASES["filesystem"] = f"{__name__}:{FilesystemTransport.__name__}"
