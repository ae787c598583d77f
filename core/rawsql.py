"""The SQL that the ORM cannot say, for PostgreSQL and SQLite: INSERT … SELECT, SKIP LOCKED,
and multi-row INSERT … ON CONFLICT.

The ORM's bulk_create builds a model instance per row; the write paths that must sustain tens
of thousands of rows per second (/users/track, CSV import, the journey engine, the Audience
Sync queue) pass plain tuples and set-based statements here instead. Both databases accept the
same upsert syntax; only value adaptation differs, and Django's backend operations do it.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson
from django.db import connection
from django.db.models import Model
from django.utils.dateparse import parse_datetime

# SQLite allows 32,766 bound parameters per statement (since 3.32); stay well below.
MAX_PARAMS_PER_STATEMENT = 30_000


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def adapt(value: Any) -> Any:
    """A Python value as the database driver wants it for a raw statement.

    Datetimes take the ORM's exact format: SQLite compares datetimes as text, so a raw
    parameter without it (e.g. with "+00:00") would compare wrong."""
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, dt.date):
        return connection.ops.adapt_datefield_value(value)
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return value


def adapt_all(params: Sequence[Any]) -> list:
    return [adapt(p) for p in params]


def execute(sql: str, params: Sequence[Any]) -> int:
    """Run one statement; returns the rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, adapt_all(params))
        return cursor.rowcount


def fetchall(sql: str, params: Sequence[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, adapt_all(params))
        return cursor.fetchall()


def table(model: type[Model]) -> str:
    """The quoted table name of `model`."""
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[Model], field_name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(field_name).column)


def skip_locked() -> str:
    """PostgreSQL lets concurrent workers take different rows; SQLite has one writer at a
    time (IMMEDIATE transactions), so it needs nothing."""
    return " FOR UPDATE SKIP LOCKED" if is_postgres() else ""


def json_param() -> str:
    return "CAST(%s AS jsonb)" if is_postgres() else "%s"


def new_claim_token() -> int:
    """A random id that marks the rows one worker claimed, so its statements can name them."""
    return random.randrange(1, 2**62)


def server_cursor():
    """A PostgreSQL cursor with server-side binding on Django's connection (and transaction).

    Django's default psycopg cursor binds on the client: it escapes every parameter into the
    SQL text, which for a batch sent as one JSON document costs more than the statement. Here
    the document travels as a parameter, and psycopg prepares statements it sees repeatedly.
    """
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def aware(value: Any) -> dt.datetime | None:
    """A datetime column read by raw SQL, as the ORM would return it (aware, UTC).

    SQLite hands back naive datetimes (or text), PostgreSQL aware ones, or epoch seconds where
    the query asked for them (`extract(epoch FROM …)`, cheaper to build by the thousand).
    """
    if value is None or isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value
    if isinstance(value, int | float | Decimal):
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    if isinstance(value, str):
        value = parse_datetime(value)
    return value.replace(tzinfo=dt.UTC)


def least(a: str, b: str) -> str:
    return f"LEAST({a}, {b})" if is_postgres() else f"MIN({a}, {b})"


def greatest(a: str, b: str) -> str:
    return f"GREATEST({a}, {b})" if is_postgres() else f"MAX({a}, {b})"


def insert(
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    model: type[Model],
    conflict: Sequence[str] | None = None,
    update: dict[str, str] | None = None,
    returning: Sequence[str] | None = None,
) -> list[tuple]:
    """INSERT rows (tuples in `columns` order of `model`'s table), optionally upserting on
    `conflict`.

    `update` maps a column to the SQL expression it takes on conflict (use EXCLUDED.<col> for the
    new value and <table>.<col> for the old one). Returns the `returning` columns of every row.

    PostgreSQL gets the whole batch as one JSON document, expanded by jsonb_to_recordset: the
    statement stays short and cached whatever the number of rows, and orjson serializes in C
    what psycopg would otherwise adapt value by value. SQLite gets a multi-row VALUES list.
    """
    rows = list(rows)
    if not rows:
        return []
    names = ", ".join(quote(c) for c in columns)
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
    results: list[tuple] = []
    if is_postgres():
        with server_cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(table)} ({names}) SELECT {names} "
                f"FROM jsonb_to_recordset(%s::jsonb) AS r({_record_type(model, tuple(columns))})"
                f"{tail}",
                [_records(columns, rows)],
            )
            if returning:
                results.extend(cursor.fetchall())
        return results
    with connection.cursor() as cursor:
        placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
        per_statement = max(1, MAX_PARAMS_PER_STATEMENT // len(columns))
        head = f"INSERT INTO {quote(table)} ({names}) VALUES "
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params = [adapt(value) for row in chunk for value in row]
            cursor.execute(head + ", ".join([placeholder] * len(chunk)) + tail, params)
            if returning:
                results.extend(cursor.fetchall())
    return results


def update_by_id(
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    model: type[Model],
    stamp: str | None = None,
) -> None:
    """UPDATE `columns` of existing rows; each row is (id, *values in `columns` order).

    Only the given columns are written: the other columns (and their indexes) are left alone,
    which keeps PostgreSQL's updates HOT when no indexed column changes. With `stamp` (e.g.
    "updated_at"), a row whose other columns already hold these values is not written at all.
    """
    rows = list(rows)
    if not rows:
        return
    assignments = ", ".join(f"{quote(c)} = v.{quote(c)}" for c in columns)
    names = ", ".join(quote(c) for c in ("id", *columns))
    compared = [c for c in columns if c != stamp]
    unchanged = ""
    if stamp and compared:
        distinct = "IS DISTINCT FROM" if is_postgres() else "IS NOT"
        unchanged = (
            f" AND ({', '.join(f'{quote(table)}.{quote(c)}' for c in compared)}) {distinct} "
            f"({', '.join(f'v.{quote(c)}' for c in compared)})"
        )
    if is_postgres():
        columns = ("id", *columns)
        with server_cursor() as cursor:
            cursor.execute(
                f"UPDATE {quote(table)} SET {assignments} "
                f"FROM jsonb_to_recordset(%s::jsonb) AS v({_record_type(model, columns)}) "
                f"WHERE {quote(table)}.id = v.id{unchanged}",
                [_records(columns, rows)],
            )
        return
    with connection.cursor() as cursor:
        placeholder = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
        per_statement = max(1, MAX_PARAMS_PER_STATEMENT // (len(columns) + 1))
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            cursor.execute(
                f"WITH v({names}) AS (VALUES {', '.join([placeholder] * len(chunk))}) "
                f"UPDATE {quote(table)} SET {assignments} FROM v "
                f"WHERE {quote(table)}.id = v.id{unchanged}",
                [adapt(value) for row in chunk for value in row],
            )


def _records(columns: Sequence[str], rows: list[Sequence[Any]]) -> str:
    # Datetimes and dates come out in ISO 8601, which PostgreSQL reads back as the same value.
    return orjson.dumps([dict(zip(columns, row, strict=True)) for row in rows]).decode()


@lru_cache(maxsize=64)
def _record_type(model: type[Model], columns: tuple[str, ...]) -> str:
    """The column definition list of jsonb_to_recordset, e.g. "email varchar(255), dob date"."""
    fields = {f.column: f for f in model._meta.concrete_fields}
    return ", ".join(f"{quote(c)} {fields[c].db_type(connection)}" for c in columns)


def upsert_assignments(table: str, columns: Iterable[str]) -> dict[str, str]:
    """`column = EXCLUDED.column` for each column: the new row wins."""
    return {column: f"EXCLUDED.{quote(column)}" for column in columns}
