"""A database created at 41cb772's schema upgrades to today's with every table and row intact.

After 41cb772 models moved between apps (appgroups -> users and core, monitoring -> telemetry,
journeys -> audience_sync, analytics and partners) in state only: their tables keep the old
names, and content types are renamed by RunPython. Two data migrations rewrite the queue's and
the sync log's action 'delete' to 'remove'.

The test does what an upgrade of a production database does, with Django's own machinery
(MigrationExecutor, as django-test-migrations drives it): migrate the test database back to
41cb772's leaf migrations, which also proves the new migrations reverse; fill every table of
that schema through its historical models; migrate forward to the latest leaves; read
everything back through today's models. It proves that

- every row of every table of the old schema is still there with the same values (the only
  change allowed being 'delete' -> 'remove' on the queue and the sync log),
- foreign keys still resolve through the moved models (an entry's profile, a queue row's step,
  audience and connection, a step's counters),
- content types (and so permissions and admin history) of moved models carry their new app
  label and keep their ids,
- the ORM can insert into the moved tables (their id sequences or identity columns work).

The schema is left fully migrated afterwards, even when the test fails, so the tests that run
after it see the normal schema.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.apps import apps as current_apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from analytics.models import AudienceSyncBatch, NotSyncedReason, StepActivity, StepStats
from appgroups.models import AppGroup, User
from audience_sync.models import AudienceSyncItem
from canvas.models import AudienceSyncSettings, Canvas, Step, SyncAction
from core.models import RateLimitWindow
from journeys.models import Entry, MessageSend
from notifications.models import Notification
from partners.models import RateLimiterState, TikTokAudience, TikTokConnection
from telemetry.models import InFlightRequest, MetricCounter, TaskRun, WorkerHeartbeat
from users.models import Device, Profile, ProfileActivity, UserImport

# 41cb772's leaf migrations: `git ls-tree -r --name-only 41cb772 -- '*/migrations/*.py'`.
# Written down rather than read from git, so the test needs no repository history.
OLD_LEAVES = {
    "appgroups": ("appgroups", "0006_profile_braze_id_one_index_fillfactor_50"),
    "canvas": ("canvas", "0003_canvas_total_entries"),
    "journeys": ("journeys", "0006_sync_batch_sent_idx"),
    "monitoring": ("monitoring", "0002_in_flight_marker_without_unread_columns"),
    "notifications": ("notifications", "0001_initial"),
    "partners": ("partners", "0002_tiktokaudience"),
}
# Django's own apps existed then as now: they stay at their latest migrations.
DJANGO_APPS = {"admin", "auth", "contenttypes", "sessions"}

# (old app label, model) -> the app that owns the model now. Its table kept its old name.
MOVED = {
    ("appgroups", "profile"): "users",
    ("appgroups", "device"): "users",
    ("appgroups", "profileactivity"): "users",
    ("appgroups", "userimport"): "users",
    ("appgroups", "userimportchunk"): "users",
    ("appgroups", "userimportissue"): "users",
    ("appgroups", "ratelimitwindow"): "core",
    ("monitoring", "workerheartbeat"): "telemetry",
    ("monitoring", "taskrun"): "telemetry",
    ("monitoring", "metriccounter"): "telemetry",
    ("monitoring", "inflightrequest"): "telemetry",
    ("journeys", "audiencesyncitem"): "audience_sync",
    ("journeys", "stepstats"): "analytics",
    ("journeys", "stepactivity"): "analytics",
    ("journeys", "notsyncedreason"): "analytics",
    ("journeys", "audiencesyncbatch"): "analytics",
    ("journeys", "ratelimiterstate"): "partners",
}
# The only values an upgrade may change: the product's action words replace TikTok's.
ACTION_RENAMED = {("journeys", "audiencesyncitem"), ("journeys", "audiencesyncbatch")}

T0 = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Migrator:
    """Moves the test database between migration states the way django-test-migrations does:
    MigrationExecutor.migrate (no pre/post_migrate signals, so nothing recreates content types
    behind the test's back), then a new executor, whose loader reads the applied migrations
    again."""

    def __init__(self) -> None:
        self.executor = MigrationExecutor(connection)

    @property
    def graph(self):
        return self.executor.loader.graph

    def new_apps(self) -> set[str]:
        """Apps with migrations that did not exist at 41cb772 (core, users, telemetry, ...)."""
        return {app for app, _ in self.graph.leaf_nodes()} - set(OLD_LEAVES) - DJANGO_APPS

    def old_nodes(self) -> list[tuple[str, str]]:
        """41cb772's leaves, plus Django's apps at their latest (for the historical models)."""
        django_leaves = [node for node in self.graph.leaf_nodes() if node[0] in DJANGO_APPS]
        return [*OLD_LEAVES.values(), *django_leaves]

    def migrate(self, targets) -> None:
        self.executor.migrate(targets)
        self.executor = MigrationExecutor(connection)

    def to_old(self):
        """Back to 41cb772: its leaves, and the apps created since back to zero. Returns the
        historical apps registry of that state."""
        self.migrate(
            [*OLD_LEAVES.values(), *((app, None) for app in sorted(self.new_apps()))],
        )
        return self.executor.loader.project_state(self.old_nodes()).apps

    def to_latest(self) -> None:
        self.migrate(self.graph.leaf_nodes())

    def at_latest(self) -> bool:
        return not self.executor.migration_plan(self.graph.leaf_nodes())


@pytest.fixture
def migrator(transactional_db):
    migrator = Migrator()
    yield migrator
    # Whatever happened in the test, later tests need today's schema (pytest-django then
    # flushes the rows; its post_migrate recreates content types and permissions).
    migrator = Migrator()
    if not migrator.at_latest():
        migrator.to_latest()
    ContentType.objects.clear_cache()


def populate(old):
    """One or more rows in every table of 41cb772's schema, written through its historical
    models (`old` is that state's apps registry). Returns the rows' ids by name."""
    get = old.get_model
    ids: dict[str, object] = {}

    app_group = get("appgroups", "AppGroup").objects.create(name="Acme", default_country="GB")
    user = get("appgroups", "User").objects.create(email="admin@acme.test", password="!")
    membership = get("appgroups", "Membership").objects.create(
        app_group=app_group, user=user, role="admin"
    )
    api_key = get("appgroups", "RestApiKey").objects.create(
        app_group=app_group, name="CRM", prefix="bs_12345", key_sha256=sha256("secret"),
        permissions=["users.track"], created_by=user,
    )  # fmt: skip

    Profile = get("appgroups", "Profile")
    ada = Profile.objects.create(
        app_group=app_group, braze_id="0123456789abcdef01234567", external_id="ada",
        email="Ada@Example.com", email_sha256=sha256("ada@example.com"),
        phone="+44 20 7946 0000", phone_e164="+442079460000", phone_sha256=sha256("+442079460000"),
        first_name="Ada", country="GB", dob=dt.date(1815, 12, 10),
        custom_attributes={"plan": "gold", "seats": 3},
        idfa_sha256=sha256("6d92078a-8246-4ba4-ae5b-76104861e7dc"), ad_tracking_enabled=True,
        created_at=T0, updated_at=T0,
    )  # fmt: skip
    # Alias-only, phone-only: the other identifier shapes.
    grace = Profile.objects.create(
        app_group=app_group, braze_id="fedcba9876543210fedcba98", alias_name="g-1",
        alias_label="crm", phone_sha256=sha256("+15555550100"), phone_e164="+15555550100",
        email_invalid_reason="missing", gaid_sha256=sha256("38400000-8cf0-11bd-b23e-10b96e40000d"),
    )  # fmt: skip
    device = get("appgroups", "Device").objects.create(
        profile=ada, device_id="ios-1", os="iOS 18", idfa="6d92078a-8246-4ba4-ae5b-76104861e7dc",
        idfa_sha256=ada.idfa_sha256, idfa_reported_at=T0, ad_tracking_enabled=True,
    )  # fmt: skip
    activity = get("appgroups", "ProfileActivity").objects.create(
        profile=ada, kind="purchase", name="Gold plan", first_at=T0, last_at=T0, count=3
    )
    user_import = get("appgroups", "UserImport").objects.create(
        app_group=app_group, created_by=user, file_name="users.csv", file_size=64,
        status="done", rows_processed=2, rows_imported=1, rows_rejected=1, finished_at=T0,
    )  # fmt: skip
    chunk = get("appgroups", "UserImportChunk").objects.create(
        user_import=user_import, seq=0, data=b"external_id,email\nada,ada@example.com\n"
    )
    issue = get("appgroups", "UserImportIssue").objects.create(
        user_import=user_import, line=3, column="email", reason="Not an email address",
        external_id="bob",
    )  # fmt: skip
    window = get("appgroups", "RateLimitWindow").objects.create(
        key="api:1:/users/track", window_start=1_796_040_000, count=7
    )

    connection_ = get("partners", "TikTokConnection").objects.create(
        app_group=app_group, access_token_ciphertext="v1:gAAAAABnX3-ciphertext==",
        scope=[4, 5], tiktok_user_name="Acme Ads", tiktok_user_id="7000000000000000001",
        connected_at=T0, connected_by=user, invalid_message="",
    )  # fmt: skip
    ad_account = get("partners", "TikTokAdAccount").objects.create(
        app_group=app_group, connection=connection_, advertiser_id="7100000000000000001",
        name="Acme EU", currency="EUR", timezone="Europe/London", invalid_message="",
        connected_by=user,
    )  # fmt: skip
    oauth = get("partners", "TikTokOAuthAttempt").objects.create(
        app_group=app_group, user=user, state="s" * 43, access_token_ciphertext="v1:pending==",
        tiktok_user_name="Acme Ads", tiktok_user_id="7000000000000000001",
        advertisers=[{"advertiser_id": "7100000000000000001", "name": "Acme EU"}],
    )  # fmt: skip
    audience = get("partners", "TikTokAudience").objects.create(
        app_group=app_group, ad_account=ad_account, name="Gold buyers",
        tiktok_audience_id="150000001", status="created", error_message="",
        created_on_tiktok_at=T0, created_by=user,
    )  # fmt: skip

    canvas = get("canvas", "Canvas").objects.create(
        app_group=app_group, created_by=user, name="Win-back", description="", state="active",
        launched_at=T0, total_entries=2,
    )  # fmt: skip
    Step = get("canvas", "Step")
    sync_step = Step.objects.create(canvas=canvas, step_type="audience_sync", name="To TikTok")
    message_step = Step.objects.create(
        canvas=canvas, step_type="message", parent=sync_step, config={"channel": "email"}
    )
    sync_settings = get("canvas", "AudienceSyncSettings").objects.create(
        step=sync_step, ad_account=ad_account, audience=audience, action="add",
        match_fields=["email", "phone"],
    )  # fmt: skip

    Entry = get("journeys", "Entry")
    ada_entry = Entry.objects.create(
        canvas=canvas, profile=ada, step=message_step, due_at=T0, properties={"coupon": "X"}
    )
    grace_entry = Entry.objects.create(canvas=canvas, profile=grace, exited_at=T0)
    send = get("journeys", "MessageSend").objects.create(
        step=message_step, entry=ada_entry, profile=ada, sent_at=T0
    )
    Item = get("journeys", "AudienceSyncItem")
    item_add = Item.objects.create(
        step=sync_step, audience=audience, connection=connection_, action="add", schema=3,
        email_sha256=ada.email_sha256, phone_sha256=ada.phone_sha256, deadline_at=T0,
    )  # fmt: skip
    item_delete = Item.objects.create(
        step=sync_step, audience=audience, connection=connection_, action="delete", schema=2,
        phone_sha256=grace.phone_sha256, attempts=2, last_error_code=40100,
        last_error_message="Too many requests",
    )  # fmt: skip
    stats = get("journeys", "StepStats").objects.create(
        step=sync_step, entered=2, proceeded=1, synced=1, errored=1, last_synced_at=T0
    )
    step_activity = get("journeys", "StepActivity").objects.create(
        step=sync_step, period="minute", start=T0, entered=2, synced=1
    )
    reason = get("journeys", "NotSyncedReason").objects.create(
        step=sync_step, reason="No email or phone", count=4
    )
    Batch = get("journeys", "AudienceSyncBatch")
    batch_add = Batch.objects.create(
        audience=audience, action="add", size=1, outcome="synced", request_id="req-add",
        milliseconds=120, oldest_enqueued_at=T0,
    )  # fmt: skip
    batch_delete = Batch.objects.create(
        audience=audience, action="delete", size=1, outcome="retry", code=40100, message="Slow down"
    )
    limiter = get("journeys", "RateLimiterState").objects.create(
        key="ratelimit:tiktok", recent=[1796040000.25, 1796040000.5]
    )

    heartbeat = get("monitoring", "WorkerHeartbeat").objects.create(
        hostname="celery@worker-1", pid=4242, concurrency=4, started_at=T0, last_seen_at=T0
    )
    task_run = get("monitoring", "TaskRun").objects.create(
        name="audience_sync_flush", last_started_at=T0, last_finished_at=T0,
        last_hostname="celery@worker-1", last_result={"sent": 1, "retried": 1},
    )  # fmt: skip
    counter = get("monitoring", "MetricCounter").objects.create(
        name="tiktok_requests_total", labels='code="0",endpoint="/segment/mapping/"', value=5.0
    )
    in_flight = get("monitoring", "InFlightRequest").objects.create(
        audience_id=audience.id, users=1, started_at=T0, expires_at=T0 + dt.timedelta(minutes=1)
    )

    problem = get("notifications", "Problem").objects.create(
        app_group=app_group, kind="users_erroring", key=f"step:{sync_step.id}", code=40100,
        connection=connection_, step=sync_step,
    )  # fmt: skip
    notification = get("notifications", "Notification").objects.create(
        app_group=app_group, user=user, problem=problem, title="Users are erroring",
        body="TikTok refused 1 user.", advice="", link="/canvas/", link_label="Open Canvas",
    )  # fmt: skip

    # A 41cb772 deployment has content types under the old labels (its post_migrate made
    # them), permissions on them and admin history pointing at them.
    ContentType = get("contenttypes", "ContentType")
    for app_label, model in MOVED:
        ContentType.objects.get_or_create(app_label=app_label, model=model)
    profile_ct = ContentType.objects.get(app_label="appgroups", model="profile")
    permission = get("auth", "Permission").objects.get_or_create(
        content_type=profile_ct, codename="view_profile", defaults={"name": "Can view profile"}
    )[0]
    log_entry = get("admin", "LogEntry").objects.create(
        user=user, content_type=profile_ct, object_id=str(ada.id), object_repr="ada",
        action_flag=2, change_message="[]", action_time=T0,
    )  # fmt: skip

    # Every row made above, by its variable's name.
    for name, row in locals().copy().items():
        if hasattr(row, "_meta") and not isinstance(row, type):
            ids[name] = row.pk
    ids["content_types"] = {
        (ct.app_label, ct.model): ct.id
        for ct in ContentType.objects.filter(
            app_label__in={app for app, _ in MOVED}, model__in={m for _, m in MOVED}
        )
    }
    return ids


def snapshot(models) -> dict[tuple[str, str], dict]:
    """Every row of every table, as {(app, model): {pk: {column: value}}}."""

    def plain(value):
        # PostgreSQL hands bytea back as memoryview, SQLite as bytes.
        return bytes(value) if isinstance(value, memoryview) else value

    return {
        (model._meta.app_label, model._meta.model_name): {
            row["pk"]: {column: plain(value) for column, value in row.items() if column != "pk"}
            for row in model.objects.values("pk", *(f.attname for f in model._meta.concrete_fields))
        }
        for model in models
    }


def test_41cb772_database_migrates_with_every_row(migrator):
    # 1. Back to 41cb772. This runs the migrations written since in reverse: each must reverse.
    assert migrator.new_apps() >= {"core", "users", "telemetry", "audience_sync", "analytics"}
    old = migrator.to_old()
    # Exactly 41cb772's migrations are applied now, no more, no fewer.
    applied = set(migrator.executor.loader.applied_migrations)
    expected = {
        node
        for leaf in OLD_LEAVES.values()
        for node in migrator.graph.forwards_plan(leaf)
        if node[0] not in DJANGO_APPS
    }
    assert {node for node in applied if node[0] not in DJANGO_APPS} == expected
    # The reversed RunPython gave the moved models' content types back their old labels.
    OldContentType = old.get_model("contenttypes", "ContentType")
    for (_, model_name), new_label in MOVED.items():
        assert not OldContentType.objects.filter(app_label=new_label, model=model_name).exists()

    # 2. Fill every table of that schema, through the models of that time (today's models
    # may already differ from the old tables).
    old_models = [m for m in old.get_models() if m._meta.app_label in OLD_LEAVES]
    assert {(m._meta.app_label, m._meta.model_name) for m in old_models} >= set(MOVED)
    ids = populate(old)
    before = snapshot(old_models)
    empty = sorted(key for key, rows in before.items() if not rows)
    assert not empty, f"populate() leaves tables empty, so they would go unchecked: {empty}"

    # 3. Forward to today's leaves, as `manage.py migrate` does on deploy.
    migrator.to_latest()
    assert migrator.at_latest()

    # 4a. Every row of every old table, read through today's models, column for column: a
    # moved model pointing at another table, or a migration that rewrites or drops data, shows
    # up here.
    def current_model(app_label, model_name):
        return current_apps.get_model(MOVED.get((app_label, model_name), app_label), model_name)

    for (app_label, model_name), rows in before.items():
        model = current_model(app_label, model_name)
        if (app_label, model_name) in ACTION_RENAMED:
            rows = {
                pk: {**row, "action": {"delete": "remove"}.get(row["action"], row["action"])}
                for pk, row in rows.items()
            }
        after = snapshot([model])[(model._meta.app_label, model_name)]
        # Columns added since 41cb772 hold their defaults; every old column keeps its value.
        added = {
            f.attname: f.get_default()
            for f in model._meta.concrete_fields
            if any(f.attname not in row for row in rows.values())
        }
        assert after == {pk: {**row, **added} for pk, row in rows.items()}, (
            f"{app_label}.{model_name} is now {model._meta.label}"
        )

    # 4b. Spot checks through relations that cross the moved models.
    ada = Profile.objects.get(braze_id="0123456789abcdef01234567")
    assert ada.pk == ids["ada"]
    assert (ada.external_id, ada.email_sha256) == ("ada", sha256("ada@example.com"))
    assert ada.app_group == AppGroup.objects.get(pk=ids["app_group"])
    grace = Profile.objects.get(pk=ids["grace"])
    assert (grace.alias_label, grace.alias_name) == ("crm", "g-1")
    assert grace.phone_sha256 == sha256("+15555550100")
    assert list(ada.devices.all()) == [Device.objects.get(pk=ids["device"])]
    assert list(ada.activities.values_list("pk", "count")) == [(ids["activity"], 3)]
    assert ProfileActivity.objects.get(pk=ids["activity"]).profile == ada

    user_import = UserImport.objects.get(pk=ids["user_import"])
    assert user_import.created_by == User.objects.get(pk=ids["user"])
    assert bytes(user_import.chunks.get().data).startswith(b"external_id,email\n")
    assert user_import.issues.get().reason == "Not an email address"
    assert RateLimitWindow.objects.get(pk=ids["window"]).count == 7

    canvas = Canvas.objects.get(pk=ids["canvas"])
    sync_step = Step.objects.get(pk=ids["sync_step"])
    assert sync_step.canvas == canvas and canvas.total_entries == 2
    assert sync_step.audience_sync == AudienceSyncSettings.objects.get(pk=ids["sync_settings"])
    assert Entry.objects.get(pk=ids["ada_entry"]).profile == ada
    assert Entry.objects.get(pk=ids["grace_entry"]).profile == grace
    send = MessageSend.objects.get(pk=ids["send"])
    assert (send.profile, send.entry_id, send.step_id) == (
        ada,
        ids["ada_entry"],
        ids["message_step"],
    )

    connection_ = TikTokConnection.objects.get(pk=ids["connection_"])
    assert connection_.access_token_ciphertext == "v1:gAAAAABnX3-ciphertext=="
    audience = TikTokAudience.objects.get(pk=ids["audience"])
    for name, action in [("item_add", SyncAction.ADD), ("item_delete", SyncAction.REMOVE)]:
        item = AudienceSyncItem.objects.get(pk=ids[name])
        assert item.action == action, name
        assert (item.step, item.audience, item.connection) == (sync_step, audience, connection_)
    assert AudienceSyncItem.objects.get(pk=ids["item_add"]).email_sha256 == ada.email_sha256
    assert dict(AudienceSyncBatch.objects.values_list("pk", "action")) == {
        ids["batch_add"]: SyncAction.ADD,
        ids["batch_delete"]: SyncAction.REMOVE,
    }
    assert sync_step.stats == StepStats.objects.get(pk=ids["stats"])
    assert (sync_step.stats.entered, sync_step.stats.synced, sync_step.stats.pending) == (2, 1, 0)
    assert StepActivity.objects.get(pk=ids["step_activity"]).step == sync_step
    assert list(sync_step.not_synced_reasons.all()) == [
        NotSyncedReason.objects.get(pk=ids["reason"])
    ]
    assert RateLimiterState.objects.get(pk="ratelimit:tiktok").recent == [
        1796040000.25,
        1796040000.5,
    ]

    assert WorkerHeartbeat.objects.get(pk=ids["heartbeat"]).hostname == "celery@worker-1"
    assert TaskRun.objects.get(pk="audience_sync_flush").last_result == {"sent": 1, "retried": 1}
    assert MetricCounter.objects.get(pk=ids["counter"]).value == 5.0
    assert InFlightRequest.objects.get(pk=ids["in_flight"]).audience_id == audience.pk
    notification = Notification.objects.get(pk=ids["notification"])
    assert (notification.problem.step, notification.problem.connection) == (sync_step, connection_)

    # 4c. Content types moved with their models: same rows (ids), new labels, none left behind,
    # so permissions and admin history follow.
    ContentType.objects.clear_cache()
    for (old_label, model_name), new_label in MOVED.items():
        content_type = ContentType.objects.get_for_model(current_model(old_label, model_name))
        assert (content_type.app_label, content_type.pk) == (
            new_label,
            ids["content_types"][(old_label, model_name)],
        ), f"{old_label}.{model_name}'s content type was not moved to {new_label}"
    stale = ContentType.objects.filter(
        app_label__in={app for app, _ in MOVED}, model__in={m for _, m in MOVED}
    )
    assert not stale.exists()
    assert Permission.objects.get(pk=ids["permission"]).content_type.app_label == "users"
    assert LogEntry.objects.get(pk=ids["log_entry"]).get_edited_object() == ada

    # 4d. New rows go into the moved tables: id sequences / identity columns carried over.
    new_profile = Profile.objects.create(app_group=ada.app_group, braze_id="1" * 24)
    new_item = AudienceSyncItem.objects.create(
        step=sync_step, audience=audience, connection=connection_, action=SyncAction.REMOVE,
        schema=1, email_sha256=sha256("new@example.com"),
    )  # fmt: skip
    new_batch = AudienceSyncBatch.objects.create(
        audience=audience, action=SyncAction.ADD, size=1, outcome="synced"
    )
    new_counter = MetricCounter.objects.create(name="tiktok_limiter_waits_total", value=1)
    new_window = RateLimitWindow.objects.create(key="api:1:/users/track", window_start=1)
    assert new_profile.pk > ids["grace"]
    assert new_item.pk > ids["item_delete"]
    assert new_batch.pk > ids["batch_delete"]
    assert new_counter.pk > ids["counter"]
    assert new_window.pk > ids["window"]
