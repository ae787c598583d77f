"""Who is in each audience, per id type: counted in memory, the ids kept in an append-only file.

A mapping request appends its ids (binary digests, back to back) to the id file and indexes
them in the store in the request's transaction (audience, id type, action, offset, length).
That is the durable record. Counting comes later: each audience keeps a queue of the batches
not yet counted, which its in-memory sets take in when someone asks for a size (an API list or
get, a page, the control API). Hashing 20,000 ids into sets costs a mapping request ~5 ms, a
third of its budget, while sizes are read far less often than batches arrive; the queue holds
only file offsets, so it costs no memory. At start-up the index is replayed.

The sets hold the first 8 bytes of each digest as an int: taken from the digest bytes by
memoryview.cast with no per-id Python, cheap to hash, ~65 bytes an id. Two different ids
sharing 64 bits is vanishingly unlikely (birthday bound ~4 billion ids). Member lists, which
tests ask for, are rebuilt exactly from the file.

Why a file and not SQLite blobs: 0.6 MB of ids per request cost ~2.5 ms as SQLite pages
(WAL, then checkpoint) and ~0.3 ms as one write(2) (bench/sandbox_mapping.py). Durability is
the same as the store's (synchronous=NORMAL): a crash of the process loses nothing committed;
an OS crash may lose the last batches, and replay skips index rows past the file's end.

Keeping the types apart is what makes a misaligned row visible: an email hash sent under
PHONE_SHA256 lands in the phone set.
"""

from __future__ import annotations

import binascii
import logging
import os
from pathlib import Path

from tiktok_sandbox.store import Store

log = logging.getLogger(__name__)

DIGEST_BYTES = {"SHA256": 32, "MD5": 16}
PREFIX_BYTES = 8  # one "Q" of memoryview.cast
# Rewrite the id file at start-up when it is this much bigger than what the sets hold.
COMPACT_RATIO = 2
COMPACT_MIN_BYTES = 16 * 1024 * 1024


def digest_bytes(id_type: str) -> int:
    return DIGEST_BYTES[id_type.rsplit("_", 1)[1]]


def prefixes(id_type: str, binary: bytes) -> memoryview:
    """The first 8 bytes of every digest in `binary`, as unsigned ints (no per-id Python)."""
    step = digest_bytes(id_type) // PREFIX_BYTES
    return memoryview(binary).cast("Q")[::step]


class IdFile:
    """members.<generation>.bin: binary digests appended batch after batch."""

    def __init__(self, data_dir: Path, generation: int) -> None:
        self.path = data_dir / f"members.{generation}.bin"
        self.generation = generation
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = os.fstat(self.fd).st_size

    def append(self, payload: bytes) -> int:
        offset = self.size
        view = memoryview(payload)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        self.size += len(payload)
        return offset

    def read(self, offset: int, length: int) -> bytes:
        return os.pread(self.fd, length, offset)

    def sync(self) -> None:
        os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)


class Membership:
    def __init__(self, store: Store, data_dir: Path) -> None:
        self.store = store
        self.data_dir = data_dir
        generation = int(store.meta_get("membership_file") or 0)
        self.file = IdFile(data_dir, generation)
        self._remove_other_files()
        # audience_id -> id type -> digest prefixes
        self.sets: dict[str, dict[str, set[int]]] = {}
        # audience_id -> batches logged but not counted yet: (id type, action, offset, length)
        self.uncounted: dict[str, list[tuple[str, str, int, int]]] = {}

    def load(self) -> None:
        """Replay the index; compact the file if it is mostly ids no longer needed."""
        self.sets.clear()
        self.uncounted.clear()
        lost = 0
        for audience_id, id_type, action, offset, length in self.store.chunks():
            if offset + length > self.file.size:
                lost += 1  # written before an OS crash, never reached the disk
                continue
            self._apply(audience_id, id_type, action, self.file.read(offset, length))
        if lost:
            log.warning("membership: %d batches were lost in a crash and are skipped", lost)
        live = sum(
            len(members) * digest_bytes(id_type)
            for by_type in self.sets.values()
            for id_type, members in by_type.items()
        )
        if lost or self.file.size > max(COMPACT_MIN_BYTES, COMPACT_RATIO * live):
            self._compact()

    def record(self, audience_id: str, id_type: str, action: str, hex_ids: bytes) -> None:
        """Log one batch (inside the caller's store transaction) and queue it for counting.

        If that transaction fails, the caller must `load()` again to drop the queued batch; the
        bytes already in the file are then unreferenced and go at the next compaction.
        """
        binary = binascii.unhexlify(hex_ids)
        offset = self.file.append(binary)
        self.store.chunk_add(audience_id, id_type, action, offset, len(binary))
        self.uncounted.setdefault(audience_id, []).append((id_type, action, offset, len(binary)))

    def _count(self, audience_id: str) -> dict[str, set[int]]:
        for id_type, action, offset, length in self.uncounted.pop(audience_id, ()):
            self._apply(audience_id, id_type, action, self.file.read(offset, length))
        return self.sets.get(audience_id, {})

    def _apply(self, audience_id: str, id_type: str, action: str, binary: bytes) -> None:
        members = self.sets.setdefault(audience_id, {}).setdefault(id_type, set())
        if action == "delete":
            members.difference_update(prefixes(id_type, binary))
        else:
            members.update(prefixes(id_type, binary))

    def forget_audience(self, audience_id: str) -> None:
        """Drop an audience's members (inside the caller's store transaction)."""
        self.sets.pop(audience_id, None)
        self.uncounted.pop(audience_id, None)
        self.store.chunks_drop(audience_id)

    def counts(self, audience_id: str) -> dict[str, int]:
        by_type = self._count(audience_id)
        return {id_type: len(members) for id_type, members in sorted(by_type.items()) if members}

    def size(self, audience_id: str) -> int:
        """Distinct ids over all types: the sandbox counts each as one matched TikTok user."""
        return sum(self.counts(audience_id).values())

    def members(self, audience_id: str) -> dict[str, list[str]]:
        """Exact member ids per type, sorted, rebuilt from the file."""
        exact = self._replay_exact(audience_id)
        return {
            id_type: sorted(binascii.hexlify(member).decode() for member in members)
            for id_type, members in sorted(exact.items())
            if members
        }

    def _replay_exact(self, audience_id: str) -> dict[str, set[bytes]]:
        """id type -> the binary digests now in the audience, one batch at a time."""
        exact: dict[str, set[bytes]] = {}
        for id_type, action, offset, length in self.store.chunks_for(audience_id):
            if offset + length > self.file.size:
                continue
            width = digest_bytes(id_type)
            binary = self.file.read(offset, length)
            ids = [binary[i : i + width] for i in range(0, len(binary), width)]
            members = exact.setdefault(id_type, set())
            if action == "delete":
                members.difference_update(ids)
            else:
                members.update(ids)
        return exact

    def reset(self) -> None:
        """Forget every audience's members: a new, empty id file."""
        self.sets.clear()
        self.uncounted.clear()
        self._switch_file([])

    def _compact(self) -> None:
        """Rewrite the file with one snapshot per audience and id type, audience by audience."""
        for audience_id in list(self.uncounted):
            self._count(audience_id)
        new = IdFile(self.data_dir, self.file.generation + 1)
        rows = []
        for audience_id in list(self.sets):
            for id_type, ids in self._replay_exact(audience_id).items():
                if ids:
                    payload = b"".join(sorted(ids))
                    rows.append(
                        (audience_id, id_type, "snapshot", new.append(payload), len(payload))
                    )
        new.sync()
        self._switch_file(rows, new)

    def _switch_file(self, rows: list[tuple], new: IdFile | None = None) -> None:
        new = new or IdFile(self.data_dir, self.file.generation + 1)
        with self.store.transaction():
            self.store.chunks_drop()
            for row in rows:
                self.store.chunk_add(*row)
            self.store.meta_set("membership_file", new.generation)
        old, self.file = self.file, new
        old.close()
        old.path.unlink(missing_ok=True)

    def _remove_other_files(self) -> None:
        # Left by a crash between writing a new file and switching to it, or just after.
        for path in self.data_dir.glob("members.*.bin"):
            if path != self.file.path:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        self.file.close()
