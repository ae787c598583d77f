"""Secrets and PII: TikTok tokens never in the database in plaintext, in logs, in Django admin
or in any page; after a full demo run no seeded email, phone or ad id in any log output, and
only 64-hex ids leave the product for TikTok.

Logs are captured at DEBUG (stricter than production's INFO) three ways: the raw records
before any filter, what the product's configured `stderr` handler writes (plain format, with
its redaction filters), and the same records in the JSON format. Every HTTP request the
product makes is recorded on its way out (requests.Session.send).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
import requests
from django.contrib import admin as django_admin
from django.core.management import call_command
from django.db import connection as db
from django.test import Client
from django.urls import reverse

from appgroups.models import Membership, Role
from audience_sync.flush import audience_sync_flush
from braze_sync.logs import JsonFormatter, NoQueryStrings, RedactIdentifiers, RequestContext
from canvas import services as canvas_services
from canvas.launch import canvas_launch
from canvas.models import EntryType, StepType
from journeys.engine import journeys_advance
from journeys.entries import scheduled_entries_run
from partners.models import TikTokConnection
from partners.tasks import tiktok_connections_check
from tests.factories import UserFactory, rest_api_key
from tests.security.conftest import TESTSERVER_CALLBACK
from tests.security.test_tenancy import ROUTES
from users.models import Device, Profile

pytestmark = pytest.mark.django_db(transaction=True)

HEX64 = re.compile(r"^[0-9a-f]{64}$")
CALLBACK = TESTSERVER_CALLBACK


class _RawRecords(logging.Handler):
    """Every record's text as logged, before any filter rewrites it."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        self.lines.append(f"{text} {extras}")


_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", (), None))) | {"message", "asctime"}


@dataclass
class Captured:
    raw: _RawRecords
    plain: io.StringIO
    json: io.StringIO
    sent: list[tuple[str, str, bytes]] = field(default_factory=list)  # method, url, body

    def outputs(self) -> dict[str, str]:
        return {"plain": self.plain.getvalue(), "json": self.json.getvalue()}

    def raw_text(self) -> str:
        return "\n".join(self.raw.lines)


@pytest.fixture
def captured(monkeypatch):
    root = logging.getLogger()
    stderr = next(h for h in root.handlers if h.get_name() == "stderr")
    plain = io.StringIO()
    old_stream = stderr.setStream(plain)
    json_stream = io.StringIO()
    json_handler = logging.StreamHandler(json_stream)
    for kind in (NoQueryStrings, RedactIdentifiers, RequestContext):
        json_handler.addFilter(kind())
    json_handler.setFormatter(JsonFormatter())
    raw = _RawRecords()
    root.handlers.insert(0, raw)  # first: sees each record before the filters change it
    root.addHandler(json_handler)
    server = logging.getLogger("django.server")
    server.addHandler(raw)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    result = Captured(raw=raw, plain=plain, json=json_stream)

    real_send = requests.Session.send

    def send(session, request, **kwargs):
        body = request.body or b""
        result.sent.append(
            (request.method, request.url, body if isinstance(body, bytes) else body.encode())
        )
        return real_send(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    yield result
    root.setLevel(old_level)
    root.removeHandler(raw)
    root.removeHandler(json_handler)
    server.removeHandler(raw)
    stderr.setStream(old_stream)


def connect_through_the_views(client: Client, sandbox, advertiser_ids=None) -> TikTokConnection:
    """Connect TikTok, TikTok's consent form, the callback and the ad-account picker."""
    response = client.post(reverse("partners:tiktok-connect"))
    query = {k: v[0] for k, v in parse_qs(urlsplit(response.url).query).items()}
    consent = requests.post(
        f"{sandbox.base_url}/portal/auth",
        data={
            "app_id": query["app_id"], "redirect_uri": query["redirect_uri"],
            "state": query["state"], "user_id": sandbox.owner_user_id,
            "advertiser_ids": advertiser_ids or sandbox.advertiser_ids, "decision": "confirm",
        },
        allow_redirects=False, timeout=10,
    )  # fmt: skip
    back = urlsplit(consent.headers["Location"])
    client.get(back.path, parse_qs(back.query))
    chosen = advertiser_ids or sandbox.advertiser_ids
    done = client.post(reverse("partners:tiktok-accounts"), {"advertiser_ids": chosen})
    assert done.status_code == 302, done.content[:500]
    return TikTokConnection.objects.get(
        app_group__memberships__user_id=client.session["_auth_user_id"]
    )


def text_columns_containing(needle: str) -> list[str]:
    """'table.column' of every text column of every table whose value contains `needle`."""
    found = []
    with db.cursor() as cursor:
        for table in db.introspection.table_names(cursor):
            columns = db.introspection.get_table_description(cursor, table)
            for column in columns:
                type_name = str(db.introspection.get_field_type(column.type_code, column) or "")
                if type_name not in ("CharField", "TextField", "JSONField", "BinaryField", ""):
                    continue
                q = db.ops.quote_name
                cursor.execute(f"SELECT {q(column.name)} FROM {q(table)}")
                for (value,) in cursor.fetchall():
                    if value is None:
                        continue
                    text = (
                        value.decode(errors="replace")
                        if isinstance(value, bytes | memoryview)
                        else str(value)
                    )
                    if needle in text:
                        found.append(f"{table}.{column.name}")
                        break
    return found


# Tokens


def test_tiktok_tokens_never_leak(sandbox, captured, admin, admin_client, app_group):
    connection = connect_through_the_views(admin_client, sandbox, sandbox.advertiser_ids[:2])
    token = connection.access_token
    assert sandbox.api_get("/user/info/", token=token)["code"] == 0  # a real token

    # Use it: the token check, an audience and a sync.
    tiktok_connections_check()
    marketer = Membership.objects.create(
        user=UserFactory(), app_group=app_group, role=Role.MARKETER
    )
    _build_and_launch(marketer, connection, profiles=[("t-1", "tok.user@example.com")])
    _drain()

    # The database: not in any text column of any table, in plaintext.
    assert text_columns_containing(token) == []
    assert connection.access_token_ciphertext  # stored, encrypted

    # The logs: not in any record, before or after the filters.
    assert token not in captured.raw_text()
    for name, text in captured.outputs().items():
        assert token not in text, name
    # Only TikTok's own endpoints ever received it.
    for _method, url, body in captured.sent:
        if token.encode() in body:
            assert url.startswith(sandbox.base_url), url

    # Django admin, for a superuser: every registered model's list and change pages.
    staff = UserFactory(is_staff=True, is_superuser=True)
    staff_client = Client()
    staff_client.force_login(staff)
    for model, _ in django_admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        pages = [reverse("admin:{}_{}_changelist".format(*info))]
        pages += [
            reverse("admin:{}_{}_change".format(*info), args=[pk])
            for pk in model.objects.values_list("pk", flat=True)[:5]
        ]
        for url in pages:
            response = staff_client.get(url)
            assert response.status_code == 200, url
            body = response.content.decode()
            assert token not in body, url
            assert connection.access_token_ciphertext not in body, url

    # Every dashboard page the admin can open.
    for name, spec in ROUTES.items():
        if spec.ids is not None or name in ("logout", "metrics"):
            continue
        body = admin_client.get(reverse(name)).content.decode()
        assert token not in body, name
    for url in _object_pages(app_group):
        body = admin_client.get(url).content.decode()
        assert token not in body, url

    # Disconnecting forgets it.
    admin_client.post(reverse("partners:tiktok-disconnect"))
    connection.refresh_from_db()
    assert connection.access_token_ciphertext == ""


def _object_pages(app_group) -> list[str]:
    from canvas.models import Canvas

    urls = []
    for canvas in Canvas.objects.filter(app_group=app_group):
        urls += [
            reverse(n, args=[canvas.pk])
            for n in ("canvas:build", "canvas:summary", "analytics:canvas-analytics")
        ]
        for step in canvas.steps.all():
            urls.append(reverse("canvas:step-edit", args=[canvas.pk, step.pk]))
            if step.step_type == StepType.AUDIENCE_SYNC:
                urls.append(reverse("canvas:audience-sync", args=[canvas.pk, step.pk]))
    return urls


def _build_and_launch(
    marketer, connection, profiles=(), match_fields=("email", "phone", "idfa", "gaid")
):
    """A Scheduled Canvas with one Audience Sync step to a new audience, launched through the
    product's services (the audience is created on TikTok at launch)."""
    from tests.factories import profile_track

    for external_id, email in profiles:
        profile_track(marketer.app_group, external_id=external_id, email=email)
    canvas = canvas_services.canvas_create(
        actor=marketer, name="Sync everyone", description="", tags=[]
    )
    step = canvas_services.step_add(actor=marketer, canvas=canvas, step_type=StepType.AUDIENCE_SYNC)
    account = connection.ad_accounts.order_by("advertiser_id").first()
    canvas_services.audience_draft_create(
        actor=marketer, step=step, ad_account_id=account.pk, name="Everyone",
        match_fields=list(match_fields), step_name="To TikTok",
    )  # fmt: skip
    canvas_services.canvas_entry_update(
        actor=marketer, canvas=canvas, entry_type=EntryType.SCHEDULED, schedule_at=None
    )
    canvas_launch(actor=marketer, canvas=canvas)
    return canvas, step


def _drain():
    scheduled_entries_run()
    for _ in range(20):
        moved = journeys_advance()
        report = audience_sync_flush(max_seconds=30)
        if not moved and not report.requests:
            break


# The demo run


def _seeded_identifiers() -> set[str]:
    values: set[str] = set()
    for email, phone, e164 in Profile.objects.values_list("email", "phone", "phone_e164"):
        values.update(v for v in (email, phone, e164) if v)
    for idfa, gaid in Device.objects.values_list("idfa", "google_ad_id"):
        for value in (idfa, gaid):
            if value:
                values.update({value, value.lower(), value.upper()})
    # Values so short they would match unrelated text ("12345") are no identifier.
    return {v for v in values if len(v) >= 8}


def test_a_full_demo_run_logs_no_identifier_and_sends_only_hashes(
    sandbox, captured, settings, tmp_path
):
    settings.DEBUG = True  # seed_demo is a development command
    settings.DEMO_CREDENTIALS_FILE = tmp_path / "demo-credentials.txt"
    call_command("seed_demo", stdout=io.StringIO())
    settings.DEBUG = False
    admin = Membership.objects.get(user__email="admin@demo.local")
    marketer = Membership.objects.get(user__email="marketer@demo.local")
    client = Client()
    client.force_login(admin.user)
    connection = connect_through_the_views(client, sandbox, sandbox.advertiser_ids[:1])
    canvas, step = _build_and_launch(marketer, connection)
    _drain()
    tiktok_connections_check()

    # The REST API and the dashboard see the same people.
    seeded = list(Profile.objects.exclude(email="").values_list("external_id", "email")[:20])
    _, key = rest_api_key(
        app_group=admin.app_group, permissions=["users.track", "users.export.ids", "users.delete"]
    )
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    track = {
        "attributes": [
            {"external_id": x, "email": e.upper(), "phone": "not a phone"} for x, e in seeded
        ]
    }
    assert api.post("/api/users/track", track, content_type="application/json").status_code == 201
    exported = api.post(
        "/api/users/export/ids",
        {"external_ids": [x for x, _ in seeded]},
        content_type="application/json",
    )
    assert exported.status_code in (200, 201)
    client.post(reverse("users:user-list"), {"q": seeded[0][1]})
    for profile in Profile.objects.filter(app_group=admin.app_group)[:10]:
        client.get(reverse("users:user-detail", args=[profile.pk]))
    client.get(reverse("analytics:canvas-analytics", args=[canvas.pk]))

    identifiers = _seeded_identifiers()
    assert len(identifiers) > 3000
    synced = _synced(step)
    assert synced > 1000, "the demo must actually sync users"

    # Log output, in both formats: no seeded email, phone or ad id.
    outputs = captured.outputs()
    assert outputs["plain"].count("\n") > 10
    for name, text in outputs.items():
        leaked = sorted(v for v in identifiers if v in text)
        assert not leaked, f"{name} log output carries {len(leaked)} identifiers, e.g. {leaked[:3]}"

    # What left the product: only 64-hex ids in mapping requests, no identifier anywhere.
    mapping_bodies = [body for _, url, body in captured.sent if url.endswith("/segment/mapping/")]
    assert mapping_bodies
    ids_sent = 0
    for body in mapping_bodies:
        payload = orjson.loads(body)
        for row in payload["batch_data"]:
            for cell in row:
                if cell:
                    assert HEX64.match(cell["id"]), cell
                    ids_sent += 1
    everything_sent = b"\n".join(body for _, _, body in captured.sent).decode(errors="replace")
    leaked = sorted(v for v in identifiers if v in everything_sent)
    assert not leaked, f"sent to TikTok: {leaked[:3]}"

    # The sandbox's own view agrees: every mapping request accepted, its audience holds only
    # SHA-256 hex digests, as many as the product sent.
    log = sandbox.requests(endpoint="/segment/mapping/", limit=5000)
    assert log and all(entry["code"] == 0 for entry in log)
    assert sum(entry["ids"] for entry in log) == ids_sent
    audience = step.audience_sync.audience
    audience.refresh_from_db()
    members = sandbox.members(audience.tiktok_audience_id)
    stored = [digest for digests in members.values() for digest in digests]
    assert stored and all(HEX64.match(d) for d in stored)


def _synced(step) -> int:
    from analytics.models import StepStats

    return sum(StepStats.objects.filter(step=step).values_list("synced", flat=True))


def test_error_lines_carry_no_identifier_from_a_query_string(captured, admin_client, app_group):
    """Django logs every 4xx/5xx answer ("Not Found: /path") with the request attached; a
    pasted link may carry an email, phone or ad id in its query string."""
    secrets_in_url = [
        "ana.query@example.com",
        "+16505550123",
        "6D92078A-8246-4BA4-AE5B-76104861E7DC",
    ]
    admin_client.get(
        f"/users/{987654321}/",
        {"email": secrets_in_url[0], "phone": secrets_in_url[1], "idfa": secrets_in_url[2]},
    )
    Client().post(
        "/api/users/track?email=ana.query@example.com", "{}", content_type="application/json"
    )

    outputs = captured.outputs()
    assert "Not Found" in outputs["plain"] and "Not Found" in outputs["json"]
    for name, text in outputs.items():
        for value in secrets_in_url + ["ana.query%40example.com", "%2B16505550123"]:
            assert value not in text, (name, value)


# Database errors in exception logs


# One person as a REST client or a CSV file sends them. The first name holds a line break (a
# JSON string or a quoted CSV cell may), so a database error that quotes the row runs over more
# than one line; the phone is as typed, national format.
BLOCKED_ROW = {
    "external_id": "blocked-row-4b1d",
    "email": "ana.rowleak@example.com",
    "phone": "(650) 555-0142",
    "first_name": "Ana\nMarisol",
    "last_name": "Rowleakova",
    "loyalty_phone": "650 555 0199",  # a custom attribute
}
ROW_SECRETS = [
    BLOCKED_ROW["external_id"],
    BLOCKED_ROW["email"],
    BLOCKED_ROW["phone"],
    "+16505550142",  # the phone as stored, E.164
    "6505550142",
    "Marisol",
    "Rowleakova",
    BLOCKED_ROW["loyalty_phone"],
]
BLOCKER = "users_profile_blocked_row"


@pytest.fixture
def database_refuses_the_row():
    """The profile table refuses BLOCKED_ROW with an error that quotes it.

    PostgreSQL: a CHECK constraint, whose violation repeats the row ("DETAIL:  Failing row
    contains (…)"). SQLite names no value in its constraint errors, so a trigger makes it
    evaluate a JSON path built from the row, and SQLite quotes that path in its error ("JSON
    path error near '…'"). Installed and committed for every connection (the CSV import writes
    from a thread of its own), removed afterwards."""
    table = db.ops.quote_name(Profile._meta.db_table)
    external_id = BLOCKED_ROW["external_id"]
    with db.cursor() as cursor:
        if db.vendor == "postgresql":
            cursor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {BLOCKER} "
                f"CHECK (external_id IS DISTINCT FROM '{external_id}')"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER {BLOCKER} BEFORE INSERT ON {table} "
                f"WHEN NEW.external_id = '{external_id}' BEGIN "
                "SELECT json_extract('{}', 'row ' || NEW.external_id || ', ' || NEW.email || ', '"
                " || NEW.phone || ', ' || NEW.first_name || ', ' || NEW.last_name || ', '"
                " || NEW.custom_attributes); END"
            )
    yield
    with db.cursor() as cursor:
        if db.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {BLOCKER}")
        else:
            cursor.execute(f"DROP TRIGGER IF EXISTS {BLOCKER}")


def _assert_logged_without_row_values(captured: Captured, line: str) -> None:
    """The failure is logged (`line`, with its exception) in both formats, saying what failed,
    and none of the row's values is in any output."""
    # The records really carried the row's values before the filters: the error quoted them.
    raw = captured.raw_text()
    assert line in raw
    assert BLOCKED_ROW["email"] in raw and "(650) 555-0142" in raw, raw[-3000:]
    if db.vendor == "postgresql":
        what_failed = ["CheckViolation", f'check constraint "{BLOCKER}"', Profile._meta.db_table]
    else:
        what_failed = ["OperationalError", "JSON path error"]

    plain = captured.plain.getvalue()
    start = plain.index(line)
    logged = plain[start : plain.find("\n20", start) if "\n20" in plain[start:] else None]
    assert "Traceback (most recent call last)" in logged, logged
    for words in what_failed:
        assert words in logged, (words, logged)

    entries = [orjson.loads(text) for text in captured.json.getvalue().splitlines()]
    failure = next(e for e in entries if e["message"].startswith(line))
    assert failure["level"] == "ERROR"
    for words in what_failed:
        assert words in failure["exception"], (words, failure["exception"])

    for name, text in captured.outputs().items():
        for value in ROW_SECRETS:
            assert value not in text, (name, value, text[text.find(value) - 800 :][:1600])


def test_a_rest_request_failing_in_the_database_logs_no_row_values(
    captured, database_refuses_the_row, app_group
):
    """/users/track's write fails in the database; the REST plumbing logs it with
    `logger.exception` and answers 500."""
    _, key = rest_api_key(app_group=app_group, permissions=["users.track"])
    attributes = {k: v for k, v in BLOCKED_ROW.items()}
    response = Client(HTTP_AUTHORIZATION=f"Bearer {key}").post(
        "/api/users/track", {"attributes": [attributes]}, content_type="application/json"
    )

    assert response.status_code == 500, response.content
    assert orjson.loads(response.content)["message"] == "Internal server error"
    assert not Profile.objects.filter(external_id=BLOCKED_ROW["external_id"]).exists()
    _assert_logged_without_row_values(captured, "REST /api/users/track failed")


def test_a_csv_import_whose_batch_write_fails_logs_no_row_values(
    captured, database_refuses_the_row, marketer_client, monkeypatch
):
    """An upload through Audience > Import Users, run as the worker runs it: the batch write
    (PostgreSQL: COPY into the staging table, then INSERT … SELECT into profiles; SQLite:
    INSERT … SELECT) fails in the writer thread, and the import logs it with
    `logger.exception`."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from users.csv_import.lifecycle import user_import_run
    from users.models import UserImport

    monkeypatch.setattr("users.tasks.user_import_run.delay", lambda import_id: None)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(BLOCKED_ROW))
    writer.writerow(["fine-row-1", "fine.row@example.net", "", "Bo", "Fine", ""])
    writer.writerow(list(BLOCKED_ROW.values()))
    upload = SimpleUploadedFile("people.csv", buffer.getvalue().encode(), "text/csv")
    response = marketer_client.post(reverse("users:user-import"), {"file": upload})
    assert response.status_code == 302, response.content[:500]
    user_import = UserImport.objects.get()

    user_import_run(user_import_id=user_import.pk)

    user_import.refresh_from_db()
    assert user_import.status == UserImport.Status.FAILED
    assert user_import.error == "The import stopped on an internal error."
    assert not Profile.objects.filter(external_id=BLOCKED_ROW["external_id"]).exists()
    _assert_logged_without_row_values(captured, f"user import {user_import.pk} failed")
