"""The sandbox's durable state: one SQLite file in WAL mode, used from the event-loop thread only.

Every handler runs its checks and writes without awaiting in between, so requests never see
each other's half-done work and no locks are needed. Audience membership is counted in memory
and its ids go to an append-only file (membership.py); this store indexes that file.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import orjson

from tiktok_sandbox import seed

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS redirect_uri (
    uri TEXT PRIMARY KEY,
    added_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS auth_code (
    code TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    advertiser_ids TEXT NOT NULL,       -- JSON array
    redirect_uri TEXT NOT NULL,
    created_at REAL NOT NULL,
    used_at REAL
);
CREATE TABLE IF NOT EXISTS access_token (
    token TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL,
    revoked_by TEXT                     -- 'api' (revoke_token) or 'business_center'
);
CREATE TABLE IF NOT EXISTS token_advertiser (
    token TEXT NOT NULL,
    advertiser_id TEXT NOT NULL,
    removed_at REAL,
    PRIMARY KEY (token, advertiser_id)
);
CREATE TABLE IF NOT EXISTS audience (
    audience_id TEXT PRIMARY KEY,
    advertiser_id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    ready_at REAL NOT NULL,             -- mappings before this answer "being processed"
    deleted_at REAL
);
CREATE INDEX IF NOT EXISTS audience_by_advertiser ON audience (advertiser_id, created_at);
CREATE TABLE IF NOT EXISTS audience_event (
    id INTEGER PRIMARY KEY,
    audience_id TEXT NOT NULL,
    at REAL NOT NULL,
    action TEXT NOT NULL,               -- create | add | delete | remove
    request_id TEXT NOT NULL,
    editor TEXT NOT NULL,               -- open_api | business_center | control_api
    rows INTEGER NOT NULL DEFAULT 0,
    counts TEXT NOT NULL DEFAULT '{}'   -- JSON: id type -> ids sent
);
CREATE INDEX IF NOT EXISTS audience_event_by_audience ON audience_event (audience_id, id);
CREATE TABLE IF NOT EXISTS membership_chunk (
    seq INTEGER PRIMARY KEY,
    audience_id TEXT NOT NULL,
    id_type TEXT NOT NULL,
    action TEXT NOT NULL,               -- add | delete | snapshot
    offset INTEGER NOT NULL,            -- where the binary digests sit in the current id file
    length INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS membership_chunk_by_audience ON membership_chunk (audience_id);
"""

WAL_BACKSTOP_PAGES = 16_384  # 64 MB of 4 KB pages
WAL_SIZE_LIMIT = 64 * 1024 * 1024  # truncate the WAL file back to this after a checkpoint

# Tables a reset empties; meta keeps the audience ID counter (see seed.FIRST_AUDIENCE_ID) and the
# id file's generation (membership.py).
RESET_TABLES = (
    "redirect_uri",
    "auth_code",
    "access_token",
    "token_advertiser",
    "audience",
    "audience_event",
    "membership_chunk",
)


@dataclass(frozen=True)
class Token:
    token: str
    app_id: str
    user_id: str
    created_at: float
    revoked_at: float | None
    revoked_by: str | None
    advertiser_ids: tuple[str, ...]  # still authorized (not removed)
    removed_advertiser_ids: tuple[str, ...]

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class Audience:
    audience_id: str
    advertiser_id: str
    name: str
    created_at: float
    updated_at: float
    ready_at: float
    deleted_at: float | None


@dataclass(frozen=True)
class AudienceEvent:
    audience_id: str
    at: float
    action: str
    request_id: str
    editor: str
    rows: int
    counts: dict


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, isolation_level=None)
    # WAL + NORMAL: a commit survives a crash of this process without an fsync per request;
    # an OS crash may lose the last commits, which a sandbox can afford.
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    # Checkpoints run in Checkpointer's thread; this is only the backstop if it falls behind.
    connection.execute(f"PRAGMA wal_autocheckpoint={WAL_BACKSTOP_PAGES}")
    connection.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    connection.executescript(SCHEMA)
    return connection


class Checkpointer:
    """Copies the WAL into the database file from a thread of its own, once a second.

    SQLite's automatic checkpoint would run inside whichever request crossed the threshold and
    stall it for the copy and the fsync; here that work releases the GIL in another thread.
    """

    def __init__(self, path: Path, interval: float = 1.0) -> None:
        self.path = path
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None)
        try:
            while not self._stop.wait(self.interval):
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            connection.close()


class Store:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.db = connection

    def transaction(self) -> _Transaction:
        return _Transaction(self.db)

    # -- meta ---------------------------------------------------------------------------------

    def meta_get(self, key: str) -> object | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def meta_set(self, key: str, value: object) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, orjson.dumps(value).decode()),
        )

    def reset(self) -> None:
        with self.transaction():
            for table in RESET_TABLES:
                self.db.execute(f"DELETE FROM {table}")
            self.db.execute(
                "DELETE FROM meta WHERE key NOT IN ('next_audience_id', 'membership_file')"
            )

    # -- redirect URIs added at run time --------------------------------------------------------

    def redirect_uri_add(self, uri: str, now: float) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO redirect_uri (uri, added_at) VALUES (?, ?)", (uri, now)
        )

    def redirect_uri_list(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT uri FROM redirect_uri ORDER BY uri")]

    # -- auth codes -----------------------------------------------------------------------------

    def auth_code_create(
        self, *, app_id: str, user_id: str, advertiser_ids: list[str], redirect_uri: str, now: float
    ) -> str:
        code = secrets.token_hex(20)
        self.db.execute(
            "INSERT INTO auth_code (code, app_id, user_id, advertiser_ids, redirect_uri, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (code, app_id, user_id, orjson.dumps(advertiser_ids).decode(), redirect_uri, now),
        )
        return code

    def auth_code_get(self, code: str) -> sqlite3.Row | None:
        cursor = self.db.execute(
            "SELECT code, app_id, user_id, advertiser_ids, created_at, used_at FROM auth_code "
            "WHERE code = ?",
            (code,),
        )
        cursor.row_factory = sqlite3.Row
        return cursor.fetchone()

    def auth_code_mark_used(self, code: str, now: float) -> bool:
        """Claim the code; False if someone used it first (single use, §2.2)."""
        cursor = self.db.execute(
            "UPDATE auth_code SET used_at = ? WHERE code = ? AND used_at IS NULL", (now, code)
        )
        return cursor.rowcount == 1

    # -- access tokens --------------------------------------------------------------------------

    def token_create(
        self, *, app_id: str, user_id: str, advertiser_ids: list[str], now: float
    ) -> str:
        # TikTok's advertiser tokens are 40 hex characters and never expire (§2.4).
        token = secrets.token_hex(20)
        self.db.execute(
            "INSERT INTO access_token (token, app_id, user_id, created_at) VALUES (?, ?, ?, ?)",
            (token, app_id, user_id, now),
        )
        self.db.executemany(
            "INSERT INTO token_advertiser (token, advertiser_id) VALUES (?, ?)",
            [(token, advertiser_id) for advertiser_id in advertiser_ids],
        )
        return token

    def token_get(self, token: str) -> Token | None:
        row = self.db.execute(
            "SELECT token, app_id, user_id, created_at, revoked_at, revoked_by FROM access_token "
            "WHERE token = ?",
            (token,),
        ).fetchone()
        if row is None:
            return None
        return self._token_from_row(row)

    def token_list(self) -> list[Token]:
        rows = self.db.execute(
            "SELECT token, app_id, user_id, created_at, revoked_at, revoked_by FROM access_token "
            "ORDER BY created_at, token"
        ).fetchall()
        return [self._token_from_row(row) for row in rows]

    def _token_from_row(self, row: tuple) -> Token:
        links = self.db.execute(
            "SELECT advertiser_id, removed_at FROM token_advertiser WHERE token = ? "
            "ORDER BY advertiser_id",
            (row[0],),
        ).fetchall()
        return Token(
            *row,
            advertiser_ids=tuple(a for a, removed in links if removed is None),
            removed_advertiser_ids=tuple(a for a, removed in links if removed is not None),
        )

    def token_revoke(self, token: str, *, by: str, now: float) -> bool:
        cursor = self.db.execute(
            "UPDATE access_token SET revoked_at = ?, revoked_by = ? "
            "WHERE token = ? AND revoked_at IS NULL",
            (now, by, token),
        )
        return cursor.rowcount == 1

    def token_remove_advertiser(self, token: str, advertiser_id: str, now: float) -> bool:
        cursor = self.db.execute(
            "UPDATE token_advertiser SET removed_at = ? "
            "WHERE token = ? AND advertiser_id = ? AND removed_at IS NULL",
            (now, token, advertiser_id),
        )
        return cursor.rowcount == 1

    # -- audiences ------------------------------------------------------------------------------

    def audience_next_id(self) -> str:
        next_id = self.meta_get("next_audience_id") or seed.FIRST_AUDIENCE_ID
        self.meta_set("next_audience_id", int(next_id) + 1)
        return str(next_id)

    def audience_create(
        self, *, advertiser_id: str, name: str, now: float, ready_at: float
    ) -> Audience:
        audience_id = self.audience_next_id()
        self.db.execute(
            "INSERT INTO audience (audience_id, advertiser_id, name, created_at, updated_at, "
            "ready_at) VALUES (?, ?, ?, ?, ?, ?)",
            (audience_id, advertiser_id, name, now, now, ready_at),
        )
        return Audience(audience_id, advertiser_id, name, now, now, ready_at, None)

    def audience_get(self, audience_id: str) -> Audience | None:
        row = self.db.execute(
            "SELECT audience_id, advertiser_id, name, created_at, updated_at, ready_at, deleted_at"
            " FROM audience WHERE audience_id = ?",
            (audience_id,),
        ).fetchone()
        return None if row is None else Audience(*row)

    def audience_list(self, advertiser_id: str | None = None) -> list[Audience]:
        """Live (not deleted) audiences, oldest first."""
        query = (
            "SELECT audience_id, advertiser_id, name, created_at, updated_at, ready_at, deleted_at"
            " FROM audience WHERE deleted_at IS NULL"
        )
        params: tuple = ()
        if advertiser_id is not None:
            query += " AND advertiser_id = ?"
            params = (advertiser_id,)
        rows = self.db.execute(query + " ORDER BY created_at, audience_id", params).fetchall()
        return [Audience(*row) for row in rows]

    def audience_count(self, advertiser_id: str) -> int:
        return self.db.execute(
            "SELECT count(*) FROM audience WHERE advertiser_id = ? AND deleted_at IS NULL",
            (advertiser_id,),
        ).fetchone()[0]

    def audience_touch(self, audience_id: str, now: float) -> None:
        self.db.execute(
            "UPDATE audience SET updated_at = ? WHERE audience_id = ?", (now, audience_id)
        )

    def audience_mark_deleted(self, audience_id: str, now: float) -> None:
        self.db.execute(
            "UPDATE audience SET deleted_at = ?, updated_at = ? WHERE audience_id = ?",
            (now, now, audience_id),
        )

    def audience_event_add(self, event: AudienceEvent) -> None:
        self.db.execute(
            "INSERT INTO audience_event (audience_id, at, action, request_id, editor, rows, counts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                event.audience_id,
                event.at,
                event.action,
                event.request_id,
                event.editor,
                event.rows,
                orjson.dumps(event.counts).decode(),
            ),
        )

    def audience_events(self, audience_id: str, limit: int | None = None) -> list[AudienceEvent]:
        """Newest first."""
        rows = self.db.execute(
            "SELECT audience_id, at, action, request_id, editor, rows, counts FROM audience_event"
            " WHERE audience_id = ? ORDER BY id DESC LIMIT ?",
            (audience_id, -1 if limit is None else limit),
        ).fetchall()
        return [AudienceEvent(*row[:6], counts=orjson.loads(row[6])) for row in rows]

    # -- membership chunks: where each batch's ids sit in the id file ----------------------------

    def chunk_add(
        self, audience_id: str, id_type: str, action: str, offset: int, length: int
    ) -> None:
        self.db.execute(
            "INSERT INTO membership_chunk (audience_id, id_type, action, offset, length) "
            "VALUES (?, ?, ?, ?, ?)",
            (audience_id, id_type, action, offset, length),
        )

    def chunks(self) -> list[tuple[str, str, str, int, int]]:
        return self.db.execute(
            "SELECT audience_id, id_type, action, offset, length FROM membership_chunk ORDER BY seq"
        ).fetchall()

    def chunks_for(self, audience_id: str) -> list[tuple[str, str, int, int]]:
        return self.db.execute(
            "SELECT id_type, action, offset, length FROM membership_chunk WHERE audience_id = ? "
            "ORDER BY seq",
            (audience_id,),
        ).fetchall()

    def chunks_drop(self, audience_id: str | None = None) -> None:
        if audience_id is None:
            self.db.execute("DELETE FROM membership_chunk")
        else:
            self.db.execute("DELETE FROM membership_chunk WHERE audience_id = ?", (audience_id,))


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error (the connection is in autocommit mode)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
