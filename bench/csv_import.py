"""CSV import throughput (target: new profiles at >= 0.8 x the floor measured in the same run).

Sets up its own database (default postgres://postgres@127.0.0.1:5432/bench_braze_sync_csv_import,
dropped and migrated), writes a CSV of N users, imports it into a fresh app group with the same code as
Audience > Import Users and `manage.py import_users`, then imports the same file again (rows that
would not change are skipped) and a version in which every row changes (two custom attributes),
prints rows/s, CPU per row (Python process, PostgreSQL backend) and the machine. On PostgreSQL it
then times PostgreSQL alone storing the same finished rows as new profiles (postgres_floor): the
ceiling for importing new profiles on this machine, and the import's ratio to it.

    .venv/bin/python -m bench.csv_import                 # 1,000,000 rows, mixed columns
    .venv/bin/python -m bench.csv_import --rows 200000 --mix full
    DATABASE_URL=sqlite:////tmp/bench.sqlite3 .venv/bin/python -m bench.csv_import --rows 100000

Column mixes (every row has external_id, email, first_name, last_name):
    mixed  60 % phone, 40 % IDFA, 40 % GAID, 40 % ad_tracking_enabled, 2 custom attributes
    full   every column filled
    lean   external_id, email and 2 custom attributes only
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import uuid
from pathlib import Path

from bench.support import US_AREA_CODES, cpu_seconds, django_setup, machine_info


class BackendMeter:
    """PostgreSQL CPU spent on the import's batches.

    The import writes from a thread with a connection (a backend) of its own, opened and closed
    inside the import; after each batch the meter reads that backend's CPU from /proc.
    """

    def __init__(self):
        self.seen: dict[int, float] = {}

    def install(self):
        from django.db import connection

        from users.csv_import.writer import BatchWriter

        original = BatchWriter.write
        meter = self

        def write(writer, payload):
            original(writer, payload)
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    pid = cursor.fetchone()[0]
                meter.seen[pid] = cpu_seconds(pid)

        BatchWriter.write = write

    def total(self) -> float:
        return sum(self.seen.values())


def write_csv(path: Path, rows: int, mix: str, seed: int = 7, changed: bool = False) -> None:
    rng = random.Random(seed)
    lean = mix == "lean"
    header = ["external_id", "email", "plan", "visits"]
    if not lean:
        header[2:2] = [
            "first_name",
            "last_name",
            "phone",
            "idfa",
            "google_ad_id",
            "ad_tracking_enabled",
        ]
    share = 1.0 if mix == "full" else 0.6
    ad_share = 1.0 if mix == "full" else 0.4
    plans = ["free", "silver", "gold"]
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(header) + "\n")
        for i in range(rows):
            cells = [f"user-{i}", f"User.{i}@Example.com"]
            if not lean:
                area = US_AREA_CODES[i % len(US_AREA_CODES)]
                phone = ""
                if rng.random() < share:
                    # Half E.164, half US national formats with separators.
                    line = f"{area}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
                    phone = f"+1{line}" if i % 2 else f"({line[:3]}) {line[3:6]}-{line[6:]}"
                idfa = str(uuid.UUID(int=rng.getrandbits(128))) if rng.random() < ad_share else ""
                gaid = str(uuid.UUID(int=rng.getrandbits(128))) if rng.random() < ad_share else ""
                tracking = rng.choice(["true", "false"]) if rng.random() < ad_share else ""
                cells += [f"First{i % 1000}", f"Last{i % 997}", phone, idfa.upper(), gaid, tracking]
            # The "changed" file differs in every row (plan and visits), nowhere else.
            cells += [plans[(i + changed) % 3], str(i % 50 + 100 * changed)]
            out.write(",".join(cells) + "\n")


def postgres_floor(source) -> float:
    """What PostgreSQL alone takes to store the imported profiles again as new rows of another
    app group: finished rows (normalized, hashed) copied by one INSERT … SELECT from a temporary
    table, with the profile table's real indexes, and no parsing, normalization, upsert or
    devices. No import of new profiles can be faster than this on the same machine."""
    from django.db import connection, transaction

    from appgroups.models import AppGroup
    from users.models import Profile

    target = AppGroup.objects.create(name=f"Bench floor {time.time_ns()}")
    columns = [
        f.column for f in Profile._meta.concrete_fields if f.column not in ("id", "app_group_id")
    ]
    names = ", ".join(columns)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE floor_rows ON COMMIT DROP AS SELECT {names} "
            "FROM appgroups_profile WHERE app_group_id = %s",
            [source.id],
        )
        # A new braze_id per row (it is unique across app groups), same shape.
        cursor.execute("UPDATE floor_rows SET braze_id = substr(md5(random()::text), 1, 24)")
        count = cursor.rowcount
        started = time.perf_counter()
        cursor.execute(
            f"INSERT INTO appgroups_profile (app_group_id, {names}) "
            f"SELECT %s, {names} FROM floor_rows",
            [target.id],
        )
        elapsed = time.perf_counter() - started
    print(
        f"{'PostgreSQL alone':26s} {count:>10,} rows in {elapsed:6.2f} s = "
        f"{count / elapsed:>9,.0f} rows/s  (finished rows into the profile table and its "
        "indexes: the ceiling for new profiles)"
    )
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--mix", choices=["mixed", "full", "lean"], default="mixed")
    parser.add_argument("--keep-db", action="store_true", help="Do not drop and migrate first.")
    args = parser.parse_args()

    django_setup(name="csv_import", fresh=not args.keep_db)
    from django.db import connection

    from appgroups.models import AppGroup
    from users.csv_import.lifecycle import import_csv
    from users.models import Profile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "users.csv"
        changed_path = Path(folder) / "users-changed.csv"
        started = time.perf_counter()
        write_csv(path, args.rows, args.mix)
        write_csv(changed_path, args.rows, args.mix, changed=True)
        size = path.stat().st_size
        print(f"wrote {args.rows:,} rows ({size / 1e6:.0f} MB, mix {args.mix}) "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip

        app_group = AppGroup.objects.create(name=f"Bench {time.time_ns()}")
        meter = BackendMeter()
        meter.install()
        rates: dict[str, float] = {}
        for label, source in (
            ("new profiles", path),
            ("same file again", path),
            ("every row changed", changed_path),
        ):
            meter.seen.clear()
            load_before = os.getloadavg()[0]
            python_before = time.process_time()
            with source.open("rb") as stream:
                started = time.perf_counter()
                progress = import_csv(app_group=app_group, stream=stream)
                elapsed = time.perf_counter() - started
            python_cpu = time.process_time() - python_before
            postgres_cpu_used = meter.total()
            assert progress.rows_imported == args.rows, progress
            rate = args.rows / elapsed
            rates[label] = rate
            print(f"{label:26s} {args.rows:>10,} rows in {elapsed:6.2f} s = {rate:>9,.0f} rows/s")
            if connection.vendor != "postgresql":
                print(
                    f"{'':26s} CPU per row: {python_cpu / args.rows * 1e6:.1f} us "
                    f"(SQLite works inside this process); load average before {load_before:.1f}"
                )
                continue
            per_row = (python_cpu + postgres_cpu_used) / args.rows * 1e6
            print(
                f"{'':26s} CPU per row: Python {python_cpu / args.rows * 1e6:.1f} us + "
                f"PostgreSQL {postgres_cpu_used / args.rows * 1e6:.1f} us; with {os.cpu_count()} "
                f"CPUs on this alone, at most {(os.cpu_count() or 1) * 1e6 / per_row:,.0f} rows/s; "
                f"load average before {load_before:.1f}"
            )
        count = Profile.objects.filter(app_group=app_group).count()
        assert count == args.rows, count
        if connection.vendor == "postgresql":
            floor = postgres_floor(app_group)
            print(f"{'new profiles / floor':26s} {rates['new profiles'] / floor:.2f}")
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print(machine_info())


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
