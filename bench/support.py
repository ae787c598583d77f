"""Helpers shared by the benchmarks (bench/) and the fault scenarios (chaos/).

Processes (the sandbox, Celery, gunicorn), databases, settings, seeding an Audience Sync, and
what a figure was measured on. Everything started listens on 127.0.0.1 only. Run the scripts as
modules from the repository root (`.venv/bin/python -m bench.sync_throughput`,
`.venv/bin/python -m chaos`), so that `bench`, `chaos` and the product import as packages.
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

# Real US area codes, so that generated phone numbers are valid ones.
US_AREA_CODES = (650, 415, 212, 310, 617, 206, 305, 312, 702, 512, 404, 713, 303, 602, 503)


# What a figure was measured on


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


def machine_info() -> str:
    """machine(), the database Django is connected to and the commit: a figure's context."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            database = "PostgreSQL " + cursor.fetchone()[0]
        else:
            cursor.execute("SELECT sqlite_version()")
            database = "SQLite " + cursor.fetchone()[0]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = "?"
    return f"machine: {machine()}; {database}; commit {commit}"


def cpu_seconds(*pids: int) -> float:
    """User + system CPU seconds of these processes (Linux /proc; a gone process counts 0)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


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


# Processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def spawn(
    args: list[str], env: dict, log: Path | None = None, *, new_session: bool = False
) -> subprocess.Popen:
    """`python ARGS` from the repository root with `env`, its output appended to `log` (or
    this process's own). `new_session`: its own process group, so that os.killpg takes its
    children too."""
    out = open(log, "ab") if log else None  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=out,
        stderr=subprocess.STDOUT if out else None, start_new_session=new_session,
    )  # fmt: skip


def start_celery(
    args: list[str], env: dict, log: Path, *, new_session: bool = False
) -> subprocess.Popen:
    """`celery -A braze_sync ARGS` (a worker or beat)."""
    return spawn(["-m", "celery", "-A", "braze_sync", *args], env, log, new_session=new_session)


def start_gunicorn(
    port: int, workers: int, env: dict, log: Path | None = None, options: tuple[str, ...] = ()
) -> subprocess.Popen:
    """gunicorn serving the product on 127.0.0.1:`port` (keep-alive 30 s); returns once it
    accepts connections."""
    process = spawn(
        ["-m", "gunicorn", "braze_sync.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--keep-alive", "30", "--log-level", "warning", *options],
        env, log,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if listening(port):
            return process
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"gunicorn did not start{f'; see {log}' if log else ''}")


def start_sandbox(
    port: int, data_dir: Path, env: dict | None = None, timeout: float = 30
) -> subprocess.Popen:
    """`python -m tiktok_sandbox` on 127.0.0.1:`port`, logging to data_dir/sandbox.log."""
    data_dir.mkdir(parents=True, exist_ok=True)
    process = spawn(
        ["-m", "tiktok_sandbox", "--port", str(port)],
        {**(env or os.environ), "TIKTOK_SANDBOX_DATA_DIR": str(data_dir)},
        data_dir / "sandbox.log",
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
    """SIGTERM each process, then wait for it (SIGKILL after 20 s)."""
    for process in processes:
        if process is not None and process.poll() is None:
            process.terminate()
    for process in processes:
        if process is not None:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


# Settings and databases


def production_env(token_key: str | None = None) -> dict[str, str]:
    """Production settings (DJANGO_DEBUG=0) with a throwaway secret key and token key. They
    talk to the TikTok sandbox on this machine over plain http, which production settings
    refuse without TIKTOK_API_ALLOW_HTTP=1 (honoured for a loopback TIKTOK_API_BASE only)."""
    from cryptography.fernet import Fernet

    return {
        "DJANGO_SETTINGS_MODULE": "braze_sync.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
        "TIKTOK_TOKEN_KEYS": token_key or Fernet.generate_key().decode(),
        "TIKTOK_API_ALLOW_HTTP": "1",
        "LOG_LEVEL": "WARNING",
    }


def fresh_database(url: str, env: dict | None = None) -> None:
    """An empty database at `url`, migrated with `manage.py migrate` under `env` (without it:
    created only). PostgreSQL (postgres://user@host:port/name): dropped, with its sessions,
    and created; SQLite (sqlite:////path): the file removed."""
    if url.startswith("postgres"):
        import psycopg

        base, name = url.rsplit("/", 1)
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    elif url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).unlink(missing_ok=True)
    if env is not None:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v", "0"],
            cwd=ROOT, env={**env, "DATABASE_URL": url}, check=True,
        )  # fmt: skip


# One database per benchmark: the others (bench/sync_throughput.py and bench/analytics_page.py)
# drop theirs at start.
BENCH_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_braze_sync_{name}"


def django_setup(*, name: str, fresh: bool) -> dict[str, str]:
    """Production settings (no TLS redirect, hosts 127.0.0.1 and localhost) on DATABASE_URL, or
    else on the benchmark's own PostgreSQL database `bench_braze_sync_<name>`; with `fresh`,
    dropped and migrated first. Sets them in os.environ, sets Django up and returns them (for
    the processes the benchmark starts)."""
    environment = {
        **production_env(os.environ.get("TIKTOK_TOKEN_KEYS")),
        "DATABASE_URL": os.environ.get("DATABASE_URL", BENCH_DATABASE_URL.format(name=name)),
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_BEHIND_PROXY": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    os.environ.update(environment)
    if fresh:
        fresh_database(environment["DATABASE_URL"], os.environ)
    import django

    django.setup()
    return environment


# Seeding


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


def seed_audience_sync(
    users: int,
    tiktok_base: str,
    match_fields: list[str] | None = None,
    *,
    first_step: str = "audience_sync",
    name: str = "Bench",
    first_profile: int = 1,
):
    """App group, TikTok connection (real OAuth services against the sandbox), audience, an
    active Canvas with one Audience Sync step matching `match_fields` (default: all four), and
    `users` profiles with an email, a phone and an IDFA or GAID, hashed as /users/track does.
    `first_step="delay"` puts a Delay of 0 seconds before the Audience Sync step, so users reach
    it through the engine as they do after any earlier step. `name` and `first_profile` (the
    number of its first profile) let a second app group be seeded beside the first. Needs
    Django set up on PostgreSQL.
    Returns (canvas, the Audience Sync step, TikTok audience id)."""
    from django.db import connection

    from appgroups.models import Role
    from appgroups.selectors import membership_for_user
    from appgroups.services import app_group_create, dashboard_user_add
    from canvas.models import AudienceSyncSettings, Canvas, CanvasState, MatchField, Step
    from partners.models import AudienceStatus, TikTokAudience
    from partners.tiktok.access import tiktok_client

    app_group, _ = app_group_create(name=name)
    user, _ = dashboard_user_add(
        email=f"{name.lower()}@example.com", app_group=app_group, role=Role.ADMIN,
        password="bench-password-123",
    )  # fmt: skip
    admin = membership_for_user(user=user, app_group_id=app_group.id)
    connection_ = tiktok_connect(admin, tiktok_base)
    ad_account = connection_.ad_accounts.get()
    audience_id = tiktok_client().create_audience(
        access_token=connection_.access_token,
        advertiser_id=ad_account.advertiser_id,
        name=f"{name} buyers",
    )
    audience = TikTokAudience.objects.create(
        app_group=app_group, ad_account=ad_account, name=f"{name} buyers",
        tiktok_audience_id=audience_id, status=AudienceStatus.CREATED,
    )  # fmt: skip
    canvas = Canvas.objects.create(app_group=app_group, name=name, state=CanvasState.ACTIVE)
    parent = None
    if first_step == "delay":
        parent = Step.objects.create(
            canvas=canvas, step_type="delay", name="Wait", config={"seconds": 0}
        )
    step = Step.objects.create(
        canvas=canvas, step_type="audience_sync", name="To TikTok", parent=parent
    )
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
            FROM generate_series(%s, %s) AS i
            """,
            [app_group.pk, first_profile, first_profile + users - 1],
        )
        cursor.execute("ANALYZE")
    print(f"seeded {users:,} profiles in {time.monotonic() - started:.1f} s")
    return canvas, step, audience_id
