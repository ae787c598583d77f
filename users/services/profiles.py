"""Writes to user profiles: /users/track batches and /users/delete.

`profiles_track` applies a parsed TrackBatch (users.tracking) set-based, in one transaction:
one SELECT … FOR UPDATE finds and locks every profile the batch names, the changes are worked out
in Python, and each table is written with one multi-row statement. Concurrent requests for the
same profiles queue on the row locks (taken in id order, so they cannot deadlock); two requests
creating the same new profile collide on the unique index, and the loser runs again.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from appgroups.models import AppGroup
from core import rawsql
from users.models import Device, Profile, ProfileActivity
from users.profile_fields import (
    INT_MAX,
    INT_MIN,
    array_add,
    array_remove,
    email_columns,
    phone_columns,
)
from users.signals import profile_hashes_changing, profiles_deleting
from users.tracking import ActivityWrite, Ident, ProfileWrite, TrackBatch, object_error

logger = logging.getLogger(__name__)

PROFILE_TABLE = Profile._meta.db_table
DEVICE_TABLE = Device._meta.db_table
ACTIVITY_TABLE = ProfileActivity._meta.db_table
# Every stored profile column but the primary key, in a fixed order for multi-row statements.
PROFILE_COLUMNS = tuple(f.column for f in Profile._meta.concrete_fields if not f.primary_key)
PROFILE_DEFAULTS: dict[str, Any] = {
    f.column: (f.get_default() if f.has_default() else None)
    for f in Profile._meta.concrete_fields
    if not f.primary_key
}
DEVICE_COLUMNS = tuple(f.column for f in Device._meta.concrete_fields if not f.primary_key)
DEVICE_DEFAULTS: dict[str, Any] = {
    f.column: (f.get_default() if f.has_default() else None)
    for f in Device._meta.concrete_fields
    if not f.primary_key
}
# Retries when a concurrent request created one of our new profiles first.
TRACK_ATTEMPTS = 3
# Mirror columns on the profile, per device value (see Device's docstring).
DEVICE_MIRRORS = {
    "idfa": ("idfa", ("idfa_sha256", "idfa_invalid_reason")),
    "gaid": ("google_ad_id", ("gaid_sha256", "gaid_invalid_reason")),
    "ad_tracking": ("ad_tracking_enabled", ("ad_tracking_enabled",)),
}
MIRROR_COLUMNS = frozenset(c for _, columns in DEVICE_MIRRORS.values() for c in columns)
# What finding profiles and applying writes needs of a stored profile; updates then write only
# the columns that changed.
LOADED_COLUMNS = (
    "id",
    "app_group_id",
    "braze_id",
    "external_id",
    "alias_name",
    "alias_label",
    "email",
    "email_sha256",
    "phone",
    "phone_sha256",
    "idfa_sha256",
    "gaid_sha256",
    "custom_attributes",
    "updated_at",
)
# The hashes TikTok may hold: a write that changes one tells profile_hashes_changing first.
HASH_COLUMNS = ("email_sha256", "phone_sha256", "idfa_sha256", "gaid_sha256")


def new_braze_ids(count: int) -> list[str]:
    """Braze-style ids: 8 hex digits of epoch seconds, then 16 random ones. As with MongoDB
    ObjectIds (Braze's ids), the time prefix keeps one batch's index inserts close together."""
    prefix = f"{int(time.time()) & 0xFFFFFFFF:08x}"
    randoms = os.urandom(8 * count).hex()
    return [prefix + randoms[16 * i : 16 * (i + 1)] for i in range(count)]


def new_braze_id() -> str:
    return new_braze_ids(1)[0]


@dataclass
class TrackOutcome:
    attributes_processed: int
    events_processed: int
    purchases_processed: int
    errors: list[dict]
    profiles_created: int
    profiles_updated: int


def profiles_track(
    *, app_group: AppGroup, batch: TrackBatch, now: dt.datetime | None = None
) -> TrackOutcome:
    """Apply a /users/track batch. Objects the database state refuses (e.g. `inc` on a string,
    an unknown braze_id) are added to the batch's errors and skipped; the rest is written."""
    now = now or timezone.now()
    for attempt in range(1, TRACK_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _Tracker(app_group, batch, now).run()
        except IntegrityError:
            if attempt == TRACK_ATTEMPTS:
                raise
            logger.info("users/track: a profile was created concurrently, retrying")
    raise AssertionError("unreachable")


class _Tracker:
    def __init__(self, app_group: AppGroup, batch: TrackBatch, now: dt.datetime):
        self.app_group = app_group
        self.batch = batch
        self.now = now
        self.errors = list(batch.errors)
        self.by_external_id: dict[str, dict] = {}
        self.by_braze_id: dict[str, dict] = {}
        self.by_alias: dict[tuple[str, str], dict] = {}
        self.by_email: dict[str, list[dict]] = {}
        self.by_phone: dict[str, list[dict]] = {}
        self.new_rows: list[dict] = []
        self.dirty: dict[int, dict] = {}  # id(row) -> row, for existing profiles
        # id(row) -> the row's DeviceWrites in request order; rows whose devices are cleared.
        self.device_writes: dict[int, list] = {}
        self.device_clears: set[int] = set()
        self.activity: dict[tuple[int, str, str], list] = {}
        self.rows_by_key: dict[int, dict] = {}
        # id(row) -> columns this batch changed in an existing row: only those are written.
        self.changed: dict[int, set[str]] = {}
        # Profile id -> its hashes as loaded.
        self.loaded_hashes: dict[int, tuple] = {}

    # --- finding profiles ------------------------------------------------------------------

    def run(self) -> TrackOutcome:
        writes = [*self.batch.profile_writes, *self.batch.activity_writes]
        self._load([w.ident for w in writes])
        attributes = sum(self._apply_profile_write(w) for w in self.batch.profile_writes)
        events = purchases = 0
        for write in self.batch.activity_writes:
            if self._apply_activity_write(write):
                if write.kind == ProfileActivity.Kind.EVENT:
                    events += 1
                else:
                    purchases += 1
        created, updated = self._write()
        self.errors.sort(key=lambda e: (e["input_array"], e["index"]))
        return TrackOutcome(attributes, events, purchases, self.errors, created, updated)

    def _load(self, idents: list[Ident]) -> None:
        """Find and lock, in id order, every stored profile the batch names: one statement."""
        groups: dict[str, set] = {}
        for kind, value in idents:
            groups.setdefault(kind, set()).add(value)
        for row in _select_for_update(self.app_group.id, groups):
            self.loaded_hashes[row["id"]] = tuple(row[c] for c in HASH_COLUMNS)
            self._index(row)
        for candidates in (*self.by_email.values(), *self.by_phone.values()):
            # Braze: the most recently updated profile with an external id first, then the most
            # recently updated one.
            candidates.sort(
                key=lambda r: (r["external_id"] is not None, r["updated_at"], r["id"] or 0),
                reverse=True,
            )

    def _index(self, row: dict) -> None:
        if row["external_id"] is not None:
            self.by_external_id[row["external_id"]] = row
        self.by_braze_id[row["braze_id"]] = row
        if row["alias_name"] is not None:
            self.by_alias[(row["alias_name"], row["alias_label"])] = row
        if row["email_sha256"] is not None:
            self.by_email.setdefault(row["email_sha256"], []).append(row)
        if row["phone_sha256"] is not None:
            self.by_phone.setdefault(row["phone_sha256"], []).append(row)

    def _find(self, ident: Ident) -> dict | None:
        kind, value = ident
        if kind == "external_id":
            return self.by_external_id.get(value)
        if kind == "braze_id":
            return self.by_braze_id.get(value)
        if kind == "alias":
            return self.by_alias.get(value)
        candidates = (self.by_email if kind == "email" else self.by_phone).get(value)
        return candidates[0] if candidates else None

    def _new_row(self, identity: dict) -> dict:
        row = dict(PROFILE_DEFAULTS)
        row.update(identity)
        row.update(
            id=None,
            app_group_id=self.app_group.id,
            braze_id=new_braze_id(),
            custom_attributes={},
            created_at=self.now,
            updated_at=self.now,
        )
        return row

    def _register_new(self, row: dict) -> None:
        self.new_rows.append(row)
        self._index(row)
        # A new email- or phone-only profile is the one later objects of this request update.
        for table, column in ((self.by_email, "email_sha256"), (self.by_phone, "phone_sha256")):
            if row[column] is not None:
                table[row[column]].remove(row)
                table[row[column]].insert(0, row)

    def _target(self, write: ProfileWrite | ActivityWrite) -> tuple[dict | None, bool]:
        """The profile a write applies to, or a new unregistered row; (None, _) to skip it."""
        row = self._find(write.ident)
        if row is not None:
            return row, False
        if write.ident[0] == "braze_id":
            self.errors.append(object_error("no user with this braze_id", write.array, write.index))
            return None, False
        if not write.create:
            # `_update_existing_only`: an unknown user is skipped silently, as Braze does.
            return None, False
        return self._new_row(write.identity), True

    # --- applying writes ----------------------------------------------------------------------

    def _apply_profile_write(self, write: ProfileWrite) -> bool:
        row, is_new = self._target(write)
        if row is None:
            return not write.create and write.ident[0] != "braze_id"
        custom = row["custom_attributes"]
        if write.custom:
            try:
                custom = _apply_custom(custom, write.custom)
            except ValueError as exc:
                self.errors.append(object_error(str(exc), write.array, write.index))
                return False
        if is_new:
            self._register_new(row)
        key = id(row)
        changed = self.changed.setdefault(key, {"updated_at"})
        row.update(write.columns)
        changed.update(write.columns)
        for name, raw in write.contact.items():
            if raw == row[name]:
                continue  # the stored value, already normalized
            if name == "email":
                normalized = email_columns(raw)
            else:
                normalized = phone_columns(raw, self.app_group.default_country)
            row.update(normalized)
            changed.update(normalized)
        if write.custom:
            row["custom_attributes"] = custom
            changed.add("custom_attributes")
        row["updated_at"] = self.now
        self.rows_by_key[key] = row
        if row["id"] is not None:
            self.dirty[key] = row
        if write.clear_devices:
            self.device_clears.add(key)
            self.device_writes.pop(key, None)
        if write.devices:
            self.device_writes.setdefault(key, []).extend(write.devices)
        return True

    def _apply_activity_write(self, write: ActivityWrite) -> bool:
        row, is_new = self._target(write)
        if row is None:
            return not write.create and write.ident[0] != "braze_id"
        if is_new:
            self._register_new(row)
        key = id(row)
        self.rows_by_key[key] = row
        entry = self.activity.get((key, write.kind, write.name))
        if entry is None:
            self.activity[(key, write.kind, write.name)] = [write.at, write.at, write.count]
        else:
            entry[0] = min(entry[0], write.at)
            entry[1] = max(entry[1], write.at)
            entry[2] += write.count
        return True

    # --- writing ------------------------------------------------------------------------------

    def _write(self) -> tuple[int, int]:
        device_rows, device_deletes = self._work_out_devices()
        if self.new_rows:
            returned = rawsql.insert(
                PROFILE_TABLE,
                PROFILE_COLUMNS,
                ([row[c] for c in PROFILE_COLUMNS] for row in self.new_rows),
                model=Profile,
                returning=("id", "braze_id"),
            )
            ids = {braze_id: pk for pk, braze_id in returned}
            for row in self.new_rows:
                row["id"] = ids[row["braze_id"]]
        hash_changing = [
            row["id"]
            for row in self.dirty.values()
            if tuple(row[c] for c in HASH_COLUMNS) != self.loaded_hashes[row["id"]]
        ]
        if hash_changing:
            profile_hashes_changing.send(sender=Profile, profile_ids=hash_changing)
        # One UPDATE per set of changed columns; a batch of similar objects makes one.
        groups: dict[tuple[str, ...], list[dict]] = {}
        for key, row in self.dirty.items():
            groups.setdefault(tuple(sorted(self.changed[key])), []).append(row)
        for columns, rows in groups.items():
            rawsql.update_by_id(
                PROFILE_TABLE,
                columns,
                ([row["id"], *(row[c] for c in columns)] for row in rows),
                model=Profile,
                # Resending what is stored (Braze asks for deltas, clients send more) writes
                # nothing, and does not make the profile "most recently updated".
                stamp="updated_at",
            )
        if device_deletes:
            Device.objects.filter(profile_id__in=[r["id"] for r in device_deletes]).delete()
        if device_rows:
            for row_key, device in device_rows:
                device["profile_id"] = self.rows_by_key[row_key]["id"]
            update_columns = [c for c in DEVICE_COLUMNS if c not in ("profile_id", "created_at")]
            rawsql.insert(
                DEVICE_TABLE,
                DEVICE_COLUMNS,
                ([device[c] for c in DEVICE_COLUMNS] for _, device in device_rows),
                model=Device,
                conflict=("profile_id", "device_id"),
                update=rawsql.upsert_assignments(DEVICE_TABLE, update_columns),
            )
        if self.activity:
            table = rawsql.quote(ACTIVITY_TABLE)
            rawsql.insert(
                ACTIVITY_TABLE,
                ("profile_id", "kind", "name", "first_at", "last_at", "count"),
                (
                    (self.rows_by_key[key]["id"], kind, name, first, last, count)
                    for (key, kind, name), (first, last, count) in self.activity.items()
                ),
                model=ProfileActivity,
                conflict=("profile_id", "kind", "name"),
                update={
                    "count": f"{table}.{rawsql.quote('count')} + EXCLUDED.{rawsql.quote('count')}",
                    "first_at": rawsql.least(f"{table}.first_at", "EXCLUDED.first_at"),
                    "last_at": rawsql.greatest(f"{table}.last_at", "EXCLUDED.last_at"),
                },
            )
        return len(self.new_rows), len(self.dirty)

    def _work_out_devices(self) -> tuple[list[tuple[int, dict]], list[dict]]:
        """Merge device writes into the stored devices and refresh the profiles' mirrors.

        Returns the device rows to upsert (with the key of their profile row) and the profiles
        whose stored devices are all deleted first.
        """
        touched = set(self.device_writes) | self.device_clears
        if not touched:
            return [], []
        existing_ids = [
            self.rows_by_key[key]["id"]
            for key in touched
            if self.rows_by_key[key]["id"] is not None
        ]
        stored: dict[int, dict[str, dict]] = {}
        if existing_ids:
            for device in Device.objects.filter(profile_id__in=existing_ids).values(
                *DEVICE_COLUMNS
            ):
                stored.setdefault(device["profile_id"], {})[device["device_id"]] = device
        upserts: list[tuple[int, dict]] = []
        deletes: list[dict] = []
        for key in touched:
            row = self.rows_by_key[key]
            devices = {} if key in self.device_clears else stored.get(row["id"], {})
            if key in self.device_clears and row["id"] is not None:
                deletes.append(row)
            for order, write in enumerate(self.device_writes.get(key, ())):
                device = devices.get(write.device_id)
                if device is None:
                    device = dict(DEVICE_DEFAULTS)
                    device.update(device_id=write.device_id, created_at=self.now)
                    devices[write.device_id] = device
                device.update(write.columns)
                device["updated_at"] = self.now
                for value in write.reported:
                    source = DEVICE_MIRRORS[value][0]
                    reported = device[source] not in ("", None)
                    # Microseconds keep the order of writes within one request.
                    device[f"{value}_reported_at"] = (
                        self.now + dt.timedelta(microseconds=order) if reported else None
                    )
                upserts.append((key, device))
            _mirror_devices(row, devices.values())
            self.changed.setdefault(key, {"updated_at"}).update(MIRROR_COLUMNS)
            if row["id"] is not None:
                self.dirty[key] = row
        # One row per (profile, device): the last merged state.
        unique: dict[tuple[int, str], tuple[int, dict]] = {}
        for key, device in upserts:
            unique[(key, device["device_id"])] = (key, device)
        return list(unique.values()), deletes


def _select_for_update(app_group_id: int, groups: dict[str, set]) -> list[dict]:
    """LOADED_COLUMNS of the group's profiles matching any identifier in `groups`, locked.

    Raw SQL rather than the ORM: building the query and converting rows through the ORM cost
    more CPU than the rest of a /users/track request.
    """
    postgres = rawsql.is_postgres()
    conditions: list[str] = []
    params: list = [app_group_id]

    def any_of(column: str, values: set) -> None:
        if postgres:
            # One JSON text parameter: psycopg dumps a Python list as an array in Python (about
            # 30 % of the query's client CPU).
            conditions.append(f"{column} = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)))")
            params.append(orjson.dumps(list(values)).decode())
        else:
            conditions.append(f"{column} IN ({', '.join(['%s'] * len(values))})")
            params.extend(values)

    for kind, column in (
        ("external_id", "external_id"),
        ("braze_id", "braze_id"),
        ("email", "email_sha256"),
        ("phone", "phone_sha256"),
    ):
        if kind in groups:
            any_of(column, groups[kind])
    for name, label in groups.get("alias", ()):
        conditions.append("(alias_name = %s AND alias_label = %s)")
        params.extend((name, label))
    if not conditions:
        return []
    # Epoch seconds: Django's timestamptz loader runs in Python, about a third of the client
    # time of reading the rows.
    selected = ", ".join(
        "extract(epoch FROM updated_at)::float8" if (postgres and c == "updated_at") else c
        for c in LOADED_COLUMNS
    )
    sql = (
        f"SELECT {selected} FROM {rawsql.quote(PROFILE_TABLE)} "
        f"WHERE app_group_id = %s AND ({' OR '.join(conditions)}) ORDER BY id"
    )
    if postgres:
        with rawsql.server_cursor() as cursor:
            cursor.execute(sql + " FOR UPDATE", params)
            fetched = cursor.fetchall()
    else:
        # SQLite takes the write lock when the transaction begins (IMMEDIATE): no FOR UPDATE.
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
    rows = [dict(zip(LOADED_COLUMNS, values, strict=True)) for values in fetched]
    for row in rows:
        custom = row["custom_attributes"]
        if isinstance(custom, (str, bytes)):
            row["custom_attributes"] = orjson.loads(custom)
        row["updated_at"] = rawsql.aware(row["updated_at"])
    return rows


def _mirror_devices(row: dict, devices) -> None:
    """Set the profile's IDFA, GAID and ad-tracking mirrors from the device reporting each last."""
    for value, (_source, columns) in DEVICE_MIRRORS.items():
        stamp = f"{value}_reported_at"
        latest = max(
            (d for d in devices if d[stamp] is not None),
            key=lambda d: d[stamp],
            default=None,
        )
        for column in columns:
            row[column] = latest[column] if latest is not None else PROFILE_DEFAULTS[column]


def _apply_custom(current: dict, operations: list[tuple[str, str, Any]]) -> dict:
    """Custom attributes after the operations; ValueError (nothing applied) when one cannot."""
    result = dict(current)
    for name, op, value in operations:
        if op == "set":
            result[name] = value
        elif op == "unset":
            result.pop(name, None)
        elif op == "inc":
            base = result.get(name, 0)
            if isinstance(base, bool) or not isinstance(base, (int, float)):
                raise ValueError(f"'{name}' cannot be incremented: it is not a number")
            total = base + value
            if isinstance(total, int) and not INT_MIN <= total <= INT_MAX:
                raise ValueError(f"'{name}' would leave the 64-bit integer range")
            result[name] = total
        else:  # addremove
            base = result.get(name, [])
            if not isinstance(base, list):
                raise ValueError(f"'{name}' is not an array: add and remove need one")
            add, remove = value
            result[name] = array_remove(array_add(base, add), remove)
    return result


def profiles_delete(*, app_group: AppGroup, profile_ids: list[int]) -> int:
    """Delete profiles (and their devices and activity) of `app_group`; returns how many.

    In the same transaction, `profiles_deleting` lets other apps forget them: their queued
    Audience Sync rows go, and their removal from TikTok's audiences is queued."""
    if not profile_ids:
        return 0
    with transaction.atomic():
        queryset = Profile.objects.filter(app_group=app_group, id__in=profile_ids)
        ids = list(queryset.order_by("id").values_list("id", flat=True))
        if not ids:
            return 0
        profiles_deleting.send(sender=Profile, app_group_id=app_group.pk, profile_ids=ids)
        Profile.objects.filter(id__in=ids).delete()
    return len(ids)
