"""A deleted user leaves TikTok too (docs/ARCHITECTURE.md D16).

Braze stops syncing a deleted user; we also take them back. Data-protection law asks a
controller to pass an erasure on to whoever it shared the data with, and TikTok's audiences hold
the user's hashes. So:

* while a user is in an audience, or queued to be added to it, `AudienceMember` keeps which
  of their fields were sent (`schema`, written in the statement that queues the add,
  audience_sync/enqueue.py `SyncPlan.members_sql`; dropped when a remove succeeds). The hashes
  sent are the profile's own until one of its identifiers changes: then they are copied into
  the membership first (`audience_members_freeze`, on users' `profile_hashes_changing`);
* deleting the user (users.services.profiles.profiles_delete, which sends `profiles_deleting`)
  drops their queued rows in the same transaction, and turns each of their memberships into
  removal rows (the profile's hashes for the fields sent, and any hashes copied before a
  change): `action = remove`, no step, no profile, due at once. The next flush sends them as
  `/segment/mapping/` deletes; once sent, nothing of the user's identifiers is left here.

A flush that is sending a deleted user's rows must not race the deletion, nor may a statement
that is queueing them (journeys/engine.py). On PostgreSQL both hold a shared advisory lock of
the app group for their transaction, and the deletion takes it exclusively: it waits for
requests in flight to be recorded and for users being queued to be committed (their queued
rows and memberships are then there to read), and nothing of the group is claimed or queued
meanwhile. On SQLite
(one writer at a time) the flush finds at recording time which of its rows a deletion removed
while the request was out, and queues their removal (`removals_queue`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from analytics.services import step_stats_bump
from audience_sync.enqueue import MATCH_COLUMNS, cell_bits_sql
from audience_sync.models import AudienceMember, AudienceSyncItem
from canvas.models import SyncAction
from core import rawsql
from partners.models import TikTokAdAccount, TikTokAudience
from users.models import Profile

# pg_advisory_xact_lock's first key: what the lock is about (the second is the app group).
ERASURE_LOCK_NAMESPACE = 0x5EA5E

# The hash cells in TikTok's id_schema order, and the bit of each in a schema.
HASH_COLUMNS = tuple(column for column, _, _ in MATCH_COLUMNS.values())
SCHEMA_BITS = tuple(bit for _, _, bit in MATCH_COLUMNS.values())


def erasure_lock_shared(app_group_id: int) -> None:
    """Taken by a flush in its claim's transaction, and by the engine in a transaction that
    queues users: deletions of the group wait for it."""
    if rawsql.is_postgres():
        rawsql.execute(
            "SELECT pg_advisory_xact_lock_shared(%s, %s)", [ERASURE_LOCK_NAMESPACE, app_group_id]
        )


def _erasure_lock(app_group_id: int) -> None:
    if rawsql.is_postgres():
        rawsql.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [ERASURE_LOCK_NAMESPACE, app_group_id]
        )


def audience_members_forget(rows: Sequence[Any], *, audience_id: int) -> None:
    """After a successful remove: these users are no longer in the audience. (Adds are
    remembered when users are queued: SyncPlan.members_sql.)"""
    profile_ids = [row.profile_id for row in rows if row.profile_id is not None]
    if profile_ids:
        AudienceMember.objects.filter(audience_id=audience_id, profile_id__in=profile_ids).delete()


def removals_queue(
    rows: Iterable[Any], audience: TikTokAudience, schema: int, now: datetime | None
) -> int:
    """Queue the removal of cells that reached TikTok for users deleted meanwhile."""
    now = now or timezone.now()
    items = [
        AudienceSyncItem(
            step_id=None,
            profile_id=None,
            audience_id=audience.pk,
            connection_id=audience.ad_account.connection_id,
            action=SyncAction.REMOVE,
            schema=schema,
            **dict(zip(HASH_COLUMNS, row.hashes, strict=True)),
            enqueued_at=now,
            next_attempt_at=now,
            deadline_at=now + timedelta(seconds=settings.AUDIENCE_SYNC_RETRY_WINDOW_SECONDS),
        )
        for row in rows
    ]
    AudienceSyncItem.objects.bulk_create(items)
    return len(items)


def audience_members_freeze(*, profile_ids: Sequence[int]) -> int:
    """Before these profiles' hashes change: copy the hashes each membership sent from the
    profile into the membership, so that a deletion still takes back what TikTok received.

    A membership keeps one hash per field. If a field changes twice, with the user added again
    in between, the hash added in between is not kept (the first one is)."""
    if not profile_ids:
        return 0
    member = rawsql.table(AudienceMember)
    profile = rawsql.table(Profile)
    ids = list(profile_ids)
    in_ids = ", ".join(["%s"] * len(ids))
    frozen = ", ".join(
        f"{column} = CASE WHEN {member}.schema & {bit} <> 0 AND {member}.{column} IS NULL "
        f"THEN (SELECT p.{column} FROM {profile} p WHERE p.id = {member}.profile_id) "
        f"ELSE {member}.{column} END"
        for column, bit in zip(HASH_COLUMNS, SCHEMA_BITS, strict=True)
    )
    return rawsql.execute(
        f"UPDATE {member} SET {frozen}, schema = 0 WHERE profile_id IN ({in_ids}) AND schema <> 0",
        ids,
    )


def audience_sync_profiles_forget(
    *, app_group_id: int, profile_ids: Sequence[int], now: datetime | None = None
) -> dict[str, int]:
    """The Audience Sync side of deleting users, inside the deleting transaction, before
    their profiles go: their queued rows go (counted as deleted on their steps, so they leave
    Users Pending), and their memberships become removal rows for the next flush."""
    if not profile_ids:
        return {"dropped": 0, "removals": 0}
    now = now or timezone.now()
    _erasure_lock(app_group_id)
    ids = list(profile_ids)
    queue = rawsql.table(AudienceSyncItem)
    in_ids = ", ".join(["%s"] * len(ids))
    dropped = rawsql.fetchall(
        f"DELETE FROM {queue} WHERE profile_id IN ({in_ids}) RETURNING step_id", ids
    )
    for step_id, count in Counter(step_id for (step_id,) in dropped).items():
        if step_id is not None:
            step_stats_bump(step_id, deleted=count, at=now)
    # Per membership, one removal of the profile's hashes for the fields sent, and one of
    # the hashes copied before a change, if any.
    live = ", ".join(
        f"CASE WHEN m.schema & {bit} <> 0 THEN p.{column} END"
        for column, bit in zip(HASH_COLUMNS, SCHEMA_BITS, strict=True)
    )
    frozen = ", ".join(f"m.{c}" for c in HASH_COLUMNS)
    source = (
        f"FROM {rawsql.table(AudienceMember)} m "
        f"JOIN {rawsql.table(Profile)} p ON p.id = m.profile_id "
        f"JOIN {rawsql.table(TikTokAudience)} a ON a.id = m.audience_id "
        f"JOIN {rawsql.table(TikTokAdAccount)} acc ON acc.id = a.ad_account_id "
        f"WHERE m.profile_id IN ({in_ids})"
    )
    due = [
        SyncAction.REMOVE, now, now,
        now + timedelta(seconds=settings.AUDIENCE_SYNC_RETRY_WINDOW_SECONDS),
    ]  # fmt: skip
    insert = (
        f"INSERT INTO {queue} (step_id, profile_id, audience_id, connection_id, action, schema, "
        f"{', '.join(HASH_COLUMNS)}, enqueued_at, next_attempt_at, deadline_at, attempts, "
        "last_error_message) SELECT NULL, NULL, m.audience_id, acc.connection_id, %s, "
    )
    removals = 0
    for schema, cells, which in (
        ("m.schema", live, "m.schema <> 0"),
        (cell_bits_sql("m."), frozen, " OR ".join(f"m.{c} IS NOT NULL" for c in HASH_COLUMNS)),
    ):
        removals += rawsql.execute(
            f"{insert}{schema}, {cells}, %s, %s, %s, 0, '' {source} AND ({which}) "
            "ORDER BY m.profile_id, m.audience_id",
            [*due, *ids],
        )
    AudienceMember.objects.filter(profile_id__in=ids).delete()
    return {"dropped": len(dropped), "removals": removals}
