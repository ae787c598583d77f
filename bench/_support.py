"""Helpers shared by the benchmarks: processes, a fresh PostgreSQL database, machine info.

Benchmarks are not tests: they are run on purpose, print their figures, and stop by
themselves. Everything they start listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import platform
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def machine() -> str:
    """CPU model and count, memory, OS, Python and SQLite: where a figure was measured."""
    model = platform.processor() or platform.machine()
    memory = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{platform.node()}: {os.cpu_count()} CPUs ({model}){memory}, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )


def postgres_fresh_database(url: str) -> None:
    """Drop and create the database named in `url` (postgres://user@host:port/name)."""
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def start_sandbox(
    port: int, data_dir: Path, env: dict | None = None, timeout: float = 30
) -> subprocess.Popen:
    """`python -m tiktok_sandbox` on 127.0.0.1:`port`, logging to data_dir/sandbox.log."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir / "sandbox.log", "ab")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        [sys.executable, "-m", "tiktok_sandbox", "--port", str(port)],
        cwd=ROOT,
        env={**(env or os.environ), "TIKTOK_SANDBOX_DATA_DIR": str(data_dir)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{base}/_sandbox/health", timeout=1).ok:
                return process
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the sandbox did not start; see {data_dir / 'sandbox.log'}")


def stop(*processes: subprocess.Popen | None) -> None:
    for process in processes:
        if process is not None and process.poll() is None:
            process.terminate()
    for process in processes:
        if process is not None:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the most resident memory the process ever had."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tiktok_connect(admin, tiktok_base: str, advertiser_ids: list[str] | None = None):
    """Connect (or reconnect) the admin's app group to the sandbox through the product's real
    OAuth services, as Connect TikTok → consent → picker does. Without `advertiser_ids`, the
    first account TikTok authorized. Returns the connection."""
    from partners.services import (
        tiktok_connection_save,
        tiktok_oauth_complete,
        tiktok_oauth_start,
    )

    redirect_uri = "http://127.0.0.1:8000/partners/tiktok/callback/"
    consent = tiktok_oauth_start(actor=admin, redirect_uri=redirect_uri)
    state = parse_qs(urlsplit(consent).query)["state"][0]
    code = requests.post(
        f"{tiktok_base}/_sandbox/auth_codes", json={"redirect_uri": redirect_uri}, timeout=10
    ).json()["auth_code"]
    attempt = tiktok_oauth_complete(
        user=admin.user, state=state, auth_code=code, redirect_uri=redirect_uri
    )
    chosen = advertiser_ids or [attempt.advertisers[0]["advertiser_id"]]
    return tiktok_connection_save(actor=admin, attempt=attempt, advertiser_ids=chosen)


def seed_audience_sync(users: int, tiktok_base: str, match_fields: list[str] | None = None):
    """App group, TikTok connection (real OAuth services against the sandbox), audience, an
    active Canvas with one Audience Sync step matching `match_fields` (default: all four), and
    `users` profiles with an email, a phone and an IDFA or GAID, hashed as /users/track does.
    Needs Django set up on PostgreSQL. Returns (canvas, step, TikTok audience id)."""
    from django.db import connection

    from appgroups.models import Role
    from appgroups.selectors import membership_for_user
    from appgroups.services import app_group_create, dashboard_user_add
    from canvas.models import AudienceSyncSettings, Canvas, CanvasState, MatchField, Step
    from partners.models import AudienceStatus, TikTokAudience
    from partners.tiktok.access import tiktok_client

    app_group, _ = app_group_create(name="Bench")
    user, _ = dashboard_user_add(
        email="bench@example.com", app_group=app_group, role=Role.ADMIN,
        password="bench-password-123",
    )  # fmt: skip
    admin = membership_for_user(user=user, app_group_id=app_group.id)
    connection_ = tiktok_connect(admin, tiktok_base)
    ad_account = connection_.ad_accounts.get()
    audience_id = tiktok_client().create_audience(
        access_token=connection_.access_token,
        advertiser_id=ad_account.advertiser_id,
        name="Bench buyers",
    )
    audience = TikTokAudience.objects.create(
        app_group=app_group, ad_account=ad_account, name="Bench buyers",
        tiktok_audience_id=audience_id, status=AudienceStatus.CREATED,
    )  # fmt: skip
    canvas = Canvas.objects.create(app_group=app_group, name="Bench", state=CanvasState.ACTIVE)
    step = Step.objects.create(canvas=canvas, step_type="audience_sync", name="To TikTok")
    AudienceSyncSettings.objects.create(
        step=step,
        ad_account=ad_account,
        audience=audience,
        match_fields=match_fields or list(MatchField.values),
    )
    started = time.monotonic()
    with connection.cursor() as cursor:
        # Profiles as /users/track writes them: the email's SHA-256 next to the raw value.
        cursor.execute(
            """
            INSERT INTO appgroups_profile (app_group_id, braze_id, external_id, email,
              email_sha256, email_invalid_reason, phone, phone_e164, phone_sha256,
              phone_invalid_reason, first_name, last_name, country, language, gender, home_city,
              time_zone, email_subscribe, push_subscribe, custom_attributes, idfa_sha256,
              idfa_invalid_reason, gaid_sha256, gaid_invalid_reason, created_at, updated_at)
            SELECT %s, substr(md5(i::text), 1, 24), 'u' || i, 'user' || i || '@example.com',
              encode(sha256(('user' || i || '@example.com')::bytea), 'hex'), '',
              '+1650' || lpad(i::text, 7, '0'), '+1650' || lpad(i::text, 7, '0'),
              encode(sha256(('+1650' || lpad(i::text, 7, '0'))::bytea), 'hex'), '', '', '', '',
              '', '', '', '', '', '', '{}',
              CASE WHEN i %% 2 = 0 THEN encode(sha256(md5('idfa' || i)::bytea), 'hex') END, '',
              CASE WHEN i %% 2 = 1 THEN encode(sha256(md5('gaid' || i)::bytea), 'hex') END, '',
              now(), now()
            FROM generate_series(1, %s) AS i
            """,
            [app_group.pk, users],
        )
        cursor.execute("ANALYZE")
    print(f"seeded {users:,} profiles in {time.monotonic() - started:.1f} s")
    return canvas, step, audience_id
