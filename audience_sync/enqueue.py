"""Queueing users for TikTok: the SQL that copies the hashes of the users who reach an Audience
Sync step into the queue (AudienceSyncItem), and counts the ones that cannot be sent.

Hashes were computed when each profile was written (users/identifiers.py), so entering a step
is one set-based INSERT … SELECT, not a Python call per user. The journey engine runs these
statements inside its own batch transaction (journeys/engine.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings

from analytics.wording import not_synced_invalid_prefix, not_synced_missing
from audience_sync.models import AudienceMember, AudienceSyncItem
from canvas.models import MatchField, Step, SyncAction
from core.rawsql import column, is_postgres, table
from users.models import Profile

# Profile columns per field to match, in TikTok id_schema order (docs/ARCHITECTURE.md D10), and the bit
# of each in AudienceSyncItem.schema.
MATCH_COLUMNS = {
    MatchField.EMAIL: ("email_sha256", "email_invalid_reason", 1),
    MatchField.PHONE: ("phone_sha256", "phone_invalid_reason", 2),
    MatchField.IDFA: ("idfa_sha256", "idfa_invalid_reason", 4),
    MatchField.GAID: ("gaid_sha256", "gaid_invalid_reason", 8),
}


def cell_bits_sql(cell_prefix: str = "", fields: Iterable[str] = tuple(MATCH_COLUMNS)) -> str:
    """The schema bits of the hash cells (named `{cell_prefix}email_sha256` etc.) of `fields`
    that hold a value."""
    return " + ".join(
        f"CASE WHEN {cell_prefix}{MATCH_COLUMNS[f][0]} IS NULL THEN 0 ELSE {MATCH_COLUMNS[f][2]} END"
        for f in fields
    )


class SyncPlan:
    """The SQL pieces of an Audience Sync step: which profile columns go into the queue row,
    which users can be sent, and why the others cannot. `source` is a FROM clause naming the
    arriving entries `e` (with profile_id and due_at) and their profiles `p`."""

    def __init__(self, step: Step, settings_, fields: list[str]):
        self.step = step
        self.settings = settings_
        self.fields = fields
        # What a live step needs before it may act on users (else "Invalid Settings").
        self.complete = bool(
            settings_ and settings_.ad_account_id and settings_.audience_id and fields
        )

    @classmethod
    def for_step(cls, step: Step) -> SyncPlan:
        settings_ = getattr(step, "audience_sync", None)
        chosen = (settings_.match_fields or []) if settings_ else []
        return cls(step, settings_, [f for f in MATCH_COLUMNS if f in chosen])

    def _hash(self, field_: str) -> str:
        return f"p.{column(Profile, MATCH_COLUMNS[field_][0])}"

    def any_present(self) -> str:
        return " OR ".join(f"{self._hash(f)} IS NOT NULL" for f in self.fields) or "1 = 0"

    def insert_sql(self, source: str, source_params: list, *, now: datetime) -> tuple[str, list]:
        audience = self.settings.audience
        selected = [self._hash(f) if f in self.fields else "NULL" for f in MATCH_COLUMNS]
        # enqueued_at is when the user reached the step, so latency to TikTok counts from there.
        sql = (
            f"INSERT INTO {table(AudienceSyncItem)} (step_id, profile_id, audience_id, "
            f"connection_id, action, schema, {', '.join(MATCH_COLUMNS[f][0] for f in MATCH_COLUMNS)}, "
            "enqueued_at, next_attempt_at, deadline_at, attempts, last_error_message) "
            f"SELECT %s, e.profile_id, %s, %s, %s, %s, {', '.join(selected)}, e.due_at, %s, %s, 0, '' "
            f"{source} AND ({self.any_present()})"
        )
        params = [
            self.step.pk, audience.pk, audience.ad_account.connection_id, self.settings.action,
            sum(MATCH_COLUMNS[f][2] for f in self.fields), now,
            now + timedelta(seconds=settings.AUDIENCE_SYNC_RETRY_WINDOW_SECONDS),
            *source_params,
        ]  # fmt: skip
        return sql, params

    def sent_bits_sql(self, cell_prefix: str = "") -> str:
        """The schema bits of the cells a queued user has (a field without a value is sent
        empty): what the membership remembers."""
        return cell_bits_sql(cell_prefix, self.fields)

    def queued_bits_sql(self, source: str) -> str:
        """The users queued from `source` with the bits of their cells (profile_id, sent): a
        FROM-able subquery for members_sql where the queueing statement's RETURNING cannot be
        read (SQLite)."""
        return (
            f"(SELECT e.profile_id, {self.sent_bits_sql('p.')} AS sent "
            f"{source} AND ({self.any_present()}))"
        )

    def members_sql(
        self, rows: str, rows_params: list, *, known_new: bool = False
    ) -> tuple[str, list] | None:
        """For a step that adds users: remember them as members of the audience, with the bits
        of the fields sent (`schema`), so that deleting them takes them back
        (audience_sync/erasure.py). `rows` is a FROM-able name for the users queued (profile_id,
        sent): the `RETURNING` of the statement that queued them where it can be read
        (PostgreSQL), else queued_bits_sql.

        No hash is copied: the profile holds the hashes sent until one of them changes, and
        only then are they copied into the membership (erasure.audience_members_freeze). The
        cells doubled the write-ahead log of the statement that queues users, which cost the
        1M-user sync a tenth of its throughput (docs/PERFORMANCE.md, sitting 6).

        Written here, with the queueing, rather than when TikTok accepts them: set-based in the
        database, with no batch to send back from the flush. A user deleted before their add
        went out is then also "removed" from TikTok, which changes nothing there.

        `known_new`: the caller expects none of these users to be a member of the audience yet
        and will run the statement again without it if one is: a plain INSERT, which costs
        PostgreSQL half of what the upsert does (docs/PERFORMANCE.md), and fails on a user who
        is already a member instead of merging."""
        if self.settings.action != SyncAction.ADD:
            return None
        table_ = table(AudienceMember)
        # A user who entered twice in one batch: one row (PostgreSQL refuses to update a row
        # twice in one statement). The plain INSERT skips that sort: such a batch fails it and
        # runs again with the upsert.
        distinct = "DISTINCT ON (r.profile_id) " if is_postgres() and not known_new else ""
        # "WHERE TRUE": SQLite's parser needs a WHERE before an upsert's ON CONFLICT.
        sql = (
            f"INSERT INTO {table_} (profile_id, audience_id, schema) "
            f"SELECT {distinct}r.profile_id, %s, r.sent FROM {rows} r WHERE TRUE"
        )
        if not known_new:
            sql += (
                " ON CONFLICT (profile_id, audience_id) DO UPDATE SET "
                f"schema = {table_}.schema | EXCLUDED.schema"
            )
        return sql, [self.settings.audience.pk, *rows_params]

    def reasons_sql(self, source: str, source_params: list) -> tuple[str, list]:
        """Why each unsent user was not sent: the first selected field whose value could not
        be normalized, else the fields that are missing. Stored in English whatever the
        language active here; the analytics page translates it (analytics.wording)."""
        whens = " ".join(
            f"WHEN p.{column(Profile, MATCH_COLUMNS[f][1])} <> '' "
            f"THEN %s || p.{column(Profile, MATCH_COLUMNS[f][1])}"
            for f in self.fields
        )
        reason = f"CASE {whens} ELSE %s END"
        params = [not_synced_invalid_prefix(f) for f in self.fields]
        params.append(not_synced_missing(self.fields))
        sql = f"SELECT {reason}, COUNT(*) {source} AND NOT ({self.any_present()}) GROUP BY 1"
        return sql, [*params, *source_params]
