"""A deleted user is never sent to TikTok afterwards, and leaves the audiences this product
added them to (docs/ARCHITECTURE.md D16). Unit level with a fake client; the same through the
sandbox over HTTP is in test_erasure_sandbox.py."""

import threading

import pytest
from django.db import connection as db_connection

from analytics.models import StepStats
from audience_sync.flush import audience_sync_flush
from audience_sync.models import AudienceMember, AudienceSyncItem
from canvas.models import MatchField, StepType, SyncAction
from journeys.engine import _AUDIENCES_WITH_MEMBERS, journeys_advance
from journeys.models import Entry
from tests.factories import AudienceSyncSettingsFactory
from tests.fakes import FakeTikTokClient
from tests.plugins.canvases import T0, add_step, enter
from users.identifiers import sha256_hex
from users.models import Profile
from users.services.profiles import profiles_delete

EMAIL_A = sha256_hex("a@example.com")
EMAIL_B = sha256_hex("b@example.com")
PHONE_A = sha256_hex("+33612345678")


def _delete(app_group, *profiles):
    return profiles_delete(app_group=app_group, profile_ids=[p.pk for p in profiles])


@pytest.mark.django_db
def test_a_queued_user_deleted_is_never_sent_and_leaves_users_pending(
    app_group, active_canvas, sync_step, make_profiles
):
    step = sync_step([MatchField.EMAIL])
    profiles = make_profiles(
        {"external_id": "a", "email": "a@example.com"},
        {"external_id": "b", "email": "b@example.com"},
    )
    enter(active_canvas, profiles.values())
    assert AudienceSyncItem.objects.count() == 2

    assert _delete(app_group, profiles["a"]) == 1

    # Gone with the profile, in the same transaction: nothing of a is left to add, only b's add
    # and a's removal (a was remembered as a member when queued).
    assert set(AudienceSyncItem.objects.values_list("action", "email_sha256")) == {
        (SyncAction.ADD, EMAIL_B),
        (SyncAction.REMOVE, EMAIL_A),
    }
    stats = StepStats.objects.get(step=step)
    assert (stats.entered, stats.deleted, stats.synced, stats.errored, stats.pending) == (
        2, 1, 0, 0, 1,
    )  # fmt: skip
    client = FakeTikTokClient()
    audience_sync_flush(client=client)
    # Only b is added; TikTok is told to remove a, a no-op there; nothing of a is left here.
    adds = [row for call in client.calls if call["action"] == "add" for row in call["rows"]]
    assert adds == [[{"id": EMAIL_B, "audience_ids": ["9001"]}]]
    deletes = [row for call in client.calls if call["action"] == "delete" for row in call["rows"]]
    assert deletes == [[{"id": EMAIL_A, "audience_ids": ["9001"]}]]
    assert not AudienceSyncItem.objects.exists()
    stats.refresh_from_db()
    assert (stats.synced, stats.deleted, stats.pending, stats.errored) == (1, 1, 0, 0)


@pytest.mark.django_db
def test_a_synced_user_deleted_is_removed_from_the_audience_in_the_next_flush(
    app_group, active_canvas, sync_step, make_profiles
):
    sync_step([MatchField.EMAIL, MatchField.PHONE])
    profiles = make_profiles(
        {"external_id": "a", "email": "a@example.com", "phone": "+33612345678"},
        {"external_id": "b", "email": "b@example.com"},
    )
    enter(active_canvas, profiles.values())
    client = FakeTikTokClient()
    audience_sync_flush(now=T0, client=client)
    # The fields sent are kept, not the hashes: the profiles hold those.
    members = AudienceMember.objects.order_by("profile_id")
    assert [(m.profile_id, m.schema, m.email_sha256, m.phone_sha256) for m in members] == [
        (profiles["a"].pk, 3, None, None),
        (profiles["b"].pk, 1, None, None),
    ]

    _delete(app_group, profiles["a"])

    # Only what the removal needs is kept, and no longer under the profile.
    assert not AudienceMember.objects.filter(profile_id=profiles["a"].pk).exists()
    (removal,) = AudienceSyncItem.objects.all()
    assert (removal.action, removal.step_id, removal.profile_id) == (SyncAction.REMOVE, None, None)
    audience_sync_flush(client=client)  # due at once: the next flush, whenever it runs
    last = client.calls[-1]
    assert last["action"] == "delete"
    assert last["id_schema"] == ["EMAIL_SHA256", "PHONE_SHA256"]
    assert last["rows"] == [
        [{"id": EMAIL_A, "audience_ids": ["9001"]}, {"id": PHONE_A, "audience_ids": ["9001"]}]
    ]
    # Sent: no trace of a's identifiers is left; b is still a member.
    assert not AudienceSyncItem.objects.exists()
    assert list(AudienceMember.objects.values_list("profile_id", flat=True)) == [profiles["b"].pk]
    # The removal counts on no step.
    assert StepStats.objects.get().synced == 2


@pytest.mark.django_db
def test_a_user_removed_by_a_remove_step_is_not_removed_again_at_deletion(
    app_group, active_canvas, sync_step, make_profiles
):
    add = sync_step([MatchField.EMAIL])
    profiles = make_profiles({"external_id": "a", "email": "a@example.com"})
    enter(active_canvas, profiles.values())
    client = FakeTikTokClient()
    audience_sync_flush(now=T0, client=client)
    assert AudienceMember.objects.count() == 1
    # A later step of the same Canvas removes them from that audience.
    AudienceSyncItem.objects.create(
        step=add, profile=profiles["a"], audience=add.audience_sync.audience,
        connection=add.audience_sync.ad_account.connection, action=SyncAction.REMOVE, schema=1,
        email_sha256=EMAIL_A, next_attempt_at=T0,
    )  # fmt: skip
    audience_sync_flush(now=T0, client=client)
    assert client.calls[-1]["action"] == "delete"
    assert not AudienceMember.objects.exists()

    _delete(app_group, profiles["a"])

    assert not AudienceSyncItem.objects.exists()


@pytest.mark.django_db
def test_adding_a_user_again_keeps_every_field_to_take_back(
    app_group, active_canvas, tiktok, make_profiles
):
    # Two steps add to the same audience: the first with the email, the second with the phone.
    first = add_step(active_canvas, StepType.AUDIENCE_SYNC)
    AudienceSyncSettingsFactory(step=first, audience=tiktok[2], match_fields=[MatchField.EMAIL])
    second = add_step(active_canvas, StepType.AUDIENCE_SYNC, parent=first)
    AudienceSyncSettingsFactory(step=second, audience=tiktok[2], match_fields=[MatchField.PHONE])
    profiles = make_profiles(
        {"external_id": "a", "email": "a@example.com", "phone": "+33612345678"}
    )

    _AUDIENCES_WITH_MEMBERS.discard(tiktok[2].pk)

    enter(active_canvas, profiles.values())

    (member,) = AudienceMember.objects.all()
    assert (member.schema, member.email_sha256, member.phone_sha256) == (3, None, None)
    # Both adds are queued. On PostgreSQL the second step's plain INSERT met the member and
    # the batch ran again with the upsert, which the audience keeps (journeys/engine.py).
    assert AudienceSyncItem.objects.filter(action=SyncAction.ADD).count() == 2
    assert (tiktok[2].pk in _AUDIENCES_WITH_MEMBERS) == (db_connection.vendor == "postgresql")
    _delete(app_group, profiles["a"])
    client = FakeTikTokClient()
    audience_sync_flush(client=client)
    (delete,) = [call for call in client.calls if call["action"] == "delete"]
    assert delete["id_schema"] == ["EMAIL_SHA256", "PHONE_SHA256"]
    assert delete["rows"] == [
        [{"id": EMAIL_A, "audience_ids": ["9001"]}, {"id": PHONE_A, "audience_ids": ["9001"]}]
    ]


@pytest.mark.django_db(transaction=True)
def test_a_deletion_during_a_request_in_flight_still_takes_the_user_back(
    app_group, active_canvas, sync_step, make_profiles
):
    """The request carrying the user is out when the deletion comes: TikTok receives the add,
    then the delete; the flush never records a membership for a deleted profile."""
    sync_step([MatchField.EMAIL])
    profiles = make_profiles({"external_id": "a", "email": "a@example.com"})
    enter(active_canvas, profiles.values())
    deleting = threading.Event()
    deleted = threading.Event()
    outcome = []

    def delete_in_another_connection():
        try:
            deleting.wait(10)
            _delete(app_group, profiles["a"])
            outcome.append("deleted")
        except Exception as exc:  # noqa: BLE001 - the assertion below shows it
            outcome.append(repr(exc))
        finally:
            deleted.set()
            db_connection.close()

    class SlowClient(FakeTikTokClient):
        def map_users(self, **kwargs):
            if not self.calls:
                deleting.set()
                # PostgreSQL: the deletion waits for this flush to record its batch (so this
                # times out and goes on). SQLite: it deletes the rows meanwhile.
                deleted.wait(1.5)
            return super().map_users(**kwargs)

    thread = threading.Thread(target=delete_in_another_connection)
    thread.start()
    client = SlowClient()
    audience_sync_flush(now=T0, client=client)
    thread.join(15)
    assert outcome == ["deleted"]
    assert not Profile.objects.exists()
    assert not AudienceMember.objects.exists()
    # The add went out before the deletion completed; its removal is queued and sent after it
    # (on SQLite once more when the flush records the add, in case another worker sent the
    # first removal while the add was still out: deleting twice changes nothing at TikTok).
    audience_sync_flush(client=client)
    actions = [call["action"] for call in client.calls]
    assert actions[0] == "add" and set(actions[1:]) == {"delete"}
    assert all(
        row == [{"id": EMAIL_A, "audience_ids": ["9001"]}]
        for call in client.calls[1:]
        for row in call["rows"]
    )
    assert not AudienceSyncItem.objects.exists()


@pytest.mark.django_db
def test_a_user_twice_in_one_batch_is_one_member(
    app_group, active_canvas, sync_step, make_profiles
):
    """Two entries of one user reach the step in the same batch: both adds are queued, one
    membership is kept (on PostgreSQL the plain INSERT fails on the second and the batch runs
    again with the upsert)."""
    step = sync_step([MatchField.EMAIL])
    _AUDIENCES_WITH_MEMBERS.discard(step.audience_sync.audience_id)
    profiles = make_profiles({"external_id": "a", "email": "a@example.com"})
    # Entering by API keeps one entry per user; a user who entered again (re-eligibility)
    # while the first entry still waited can reach the step with it.
    for _ in range(2):
        Entry.objects.create(
            canvas=active_canvas, profile=profiles["a"], step=step, due_at=T0, entered_at=T0
        )
    journeys_advance(now=T0)

    assert AudienceSyncItem.objects.filter(action=SyncAction.ADD).count() == 2
    (member,) = AudienceMember.objects.all()
    assert (member.profile_id, member.schema) == (profiles["a"].pk, 1)
    assert StepStats.objects.get(step=step).entered == 2
    in_upsert_mode = step.audience_sync.audience_id in _AUDIENCES_WITH_MEMBERS
    assert in_upsert_mode == (db_connection.vendor == "postgresql")


@pytest.mark.skipif(
    db_connection.vendor != "postgresql",
    reason="SQLite runs one writing transaction at a time: the two cannot overlap",
)
@pytest.mark.django_db(transaction=True)
def test_a_deletion_while_the_user_is_being_queued_still_sees_the_queued_row(
    app_group, active_canvas, sync_step, make_profiles
):
    """The engine's statement that queues a user holds the app group's erasure lock until it
    commits: a deletion meanwhile waits, then finds the queued row and the membership (else
    the row would outlive the profile and be sent to TikTok)."""
    from django.db import transaction

    sync_step([MatchField.EMAIL])
    profiles = make_profiles({"external_id": "a", "email": "a@example.com"})
    Entry.objects.create(
        canvas=active_canvas, profile=profiles["a"], step=active_canvas.steps.get(),
        due_at=T0, entered_at=T0,
    )  # fmt: skip
    queued = threading.Event()
    release = threading.Event()

    def queue_and_hold():
        try:
            with transaction.atomic():
                journeys_advance(now=T0)
                queued.set()
                release.wait(10)
        finally:
            db_connection.close()

    engine = threading.Thread(target=queue_and_hold)
    engine.start()
    assert queued.wait(10)
    deleting = threading.Thread(
        target=lambda: (_delete(app_group, profiles["a"]), db_connection.close())
    )
    deleting.start()
    deleting.join(1.5)
    assert deleting.is_alive()  # waiting for the engine's transaction
    release.set()
    engine.join(10)
    deleting.join(10)

    assert not Profile.objects.exists()
    # The add was dropped with the profile and its removal queued (TikTok gets a no-op delete).
    assert list(AudienceSyncItem.objects.values_list("action", "profile_id", "email_sha256")) == [
        (SyncAction.REMOVE, None, EMAIL_A)
    ]
    assert not AudienceMember.objects.exists()
