"""The few places the engine needs SQL that the ORM cannot say (INSERT … SELECT, SKIP LOCKED)."""

from __future__ import annotations

import random
from datetime import datetime

from django.db import connection


def skip_locked() -> str:
    """PostgreSQL lets concurrent workers take different rows; SQLite has one writer at a
    time (IMMEDIATE transactions), so it needs nothing."""
    return " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""


def json_param() -> str:
    return "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"


def new_claim_token() -> int:
    return random.randrange(1, 2**62)


def adapt(params: list | tuple) -> list:
    """Datetimes as the ORM stores them: SQLite compares datetimes as text, so a raw
    parameter must have the ORM's exact format (no "+00:00") to compare right."""
    return [
        connection.ops.adapt_datetimefield_value(p) if isinstance(p, datetime) else p
        for p in params
    ]


def execute(sql: str, params: list | tuple) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, adapt(params))
        return cursor.rowcount


def fetchall(sql: str, params: list | tuple) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, adapt(params))
        return cursor.fetchall()


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model, field_name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(field_name).column)
