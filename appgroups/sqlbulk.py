"""Multi-row INSERT … ON CONFLICT statements for PostgreSQL and SQLite.

The ORM's bulk_create builds a model instance per row; the write paths that must sustain tens
of thousands of rows per second (/users/track, CSV import) pass plain tuples here instead. Both
databases accept the same upsert syntax; only value adaptation differs, and Django's backend
operations do it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from django.db import connection

# SQLite allows 32,766 bound parameters per statement (since 3.32); stay well below.
MAX_PARAMS_PER_STATEMENT = 30_000


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def adapt(value: Any) -> Any:
    """A Python value as the database driver wants it for a raw statement."""
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, dt.date):
        return connection.ops.adapt_datefield_value(value)
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return value


def least(a: str, b: str) -> str:
    return f"LEAST({a}, {b})" if is_postgres() else f"MIN({a}, {b})"


def greatest(a: str, b: str) -> str:
    return f"GREATEST({a}, {b})" if is_postgres() else f"MAX({a}, {b})"


def insert(
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    conflict: Sequence[str] | None = None,
    update: dict[str, str] | None = None,
    returning: Sequence[str] | None = None,
) -> list[tuple]:
    """INSERT rows (tuples in `columns` order), optionally upserting on `conflict`.

    `update` maps a column to the SQL expression it takes on conflict (use EXCLUDED.<col> for the
    new value and <table>.<col> for the old one). Returns the `returning` columns of every row.
    """
    rows = list(rows)
    if not rows:
        return []
    head = f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) VALUES "
    tail = ""
    if conflict:
        target = ", ".join(quote(c) for c in conflict)
        if update:
            assignments = ", ".join(f"{quote(c)} = {expr}" for c, expr in update.items())
            tail += f" ON CONFLICT ({target}) DO UPDATE SET {assignments}"
        else:
            tail += f" ON CONFLICT ({target}) DO NOTHING"
    if returning:
        tail += " RETURNING " + ", ".join(quote(c) for c in returning)
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    per_statement = max(1, MAX_PARAMS_PER_STATEMENT // len(columns))
    results: list[tuple] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params = [adapt(value) for row in chunk for value in row]
            cursor.execute(head + ", ".join([placeholder] * len(chunk)) + tail, params)
            if returning:
                results.extend(cursor.fetchall())
    return results


def upsert_assignments(table: str, columns: Iterable[str]) -> dict[str, str]:
    """`column = EXCLUDED.column` for each column: the new row wins."""
    return {column: f"EXCLUDED.{quote(column)}" for column in columns}
