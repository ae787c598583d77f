"""A membership keeps no hash while the profile holds the ones sent; every write that changes a
profile's email, phone or ad id hash copies the hashes sent into the membership first, so that
deleting the user still takes back what TikTok received (docs/ARCHITECTURE.md D16)."""

import datetime as dt
import io

import pytest
from django.utils import timezone

import users.tasks  # noqa: F401  (connects users' receivers of appgroups' signals)
from appgroups.models import Role
from appgroups.services import app_group_settings_update
from audience_sync.flush import audience_sync_flush
from audience_sync.models import AudienceMember
from canvas.models import MatchField, Step, StepType
from journeys.engine import journeys_advance
from journeys.models import Entry
from tests.factories import MembershipFactory, profile_track
from tests.fakes import FakeTikTokClient
from tests.plugins.canvases import T0, enter
from users.csv_import.lifecycle import import_csv
from users.identifiers import sha256_hex
from users.services.profiles import profiles_delete

EMAIL_A = sha256_hex("a@example.com")
EMAIL_A2 = sha256_hex("a2@example.com")
PHONE_US = sha256_hex("+12083661177")
IDFA_1 = "6d92078a-8246-4ba4-ae5b-76104861e7dc"
IDFA_2 = "6d92078a-8246-4ba4-ae5b-76104861e7dd"

pytestmark = pytest.mark.django_db


def member():
    (row,) = AudienceMember.objects.all()
    return (row.schema, row.email_sha256, row.phone_sha256, row.idfa_sha256)


@pytest.fixture
def synced(active_canvas, sync_step, make_profiles):
    """Profile "a" (email and a US national phone number) added to the audience on both."""
    sync_step([MatchField.EMAIL, MatchField.PHONE])
    profiles = make_profiles({"external_id": "a", "email": "a@example.com", "phone": "2083661177"})
    enter(active_canvas, profiles.values())
    assert member() == (3, None, None, None)
    return profiles["a"]


def deletes_sent(app_group, profile):
    profiles_delete(app_group=app_group, profile_ids=[profile.pk])
    client = FakeTikTokClient()
    audience_sync_flush(client=client)
    return sorted(
        (tuple(call["id_schema"]), tuple(sorted(d["id"] for d in row)))
        for call in client.calls
        if call["action"] == "delete"
        for row in call["rows"]
    )


def test_users_track_changing_the_email_keeps_the_hashes_sent(app_group, synced):
    profile_track(app_group, external_id="a", first_name="Ana")
    assert member() == (3, None, None, None)  # no identifier changed: nothing copied
    profile_track(app_group, external_id="a", email=" A@Example.com ")
    assert member() == (3, None, None, None)  # the same email once normalized

    profile_track(app_group, external_id="a", email="a2@example.com")

    assert member() == (0, EMAIL_A, PHONE_US, None)
    # The new email never went to TikTok: only what it received is taken back.
    assert deletes_sent(app_group, synced) == [
        (("EMAIL_SHA256", "PHONE_SHA256"), tuple(sorted([EMAIL_A, PHONE_US])))
    ]


def test_added_again_after_the_change_both_emails_are_taken_back(app_group, active_canvas, synced):
    profile_track(app_group, external_id="a", email="a2@example.com")
    step = Step.objects.get(step_type=StepType.AUDIENCE_SYNC)
    Entry.objects.create(canvas=active_canvas, profile=synced, step=step, due_at=T0, entered_at=T0)
    journeys_advance(now=T0)
    assert member() == (3, EMAIL_A, PHONE_US, None)

    assert deletes_sent(app_group, synced) == sorted(
        [
            (("EMAIL_SHA256", "PHONE_SHA256"), tuple(sorted([EMAIL_A2, PHONE_US]))),
            (("EMAIL_SHA256", "PHONE_SHA256"), tuple(sorted([EMAIL_A, PHONE_US]))),
        ]
    )


def test_a_csv_import_changing_the_email_keeps_the_hashes_sent(app_group, synced):
    import_csv(app_group=app_group, stream=io.BytesIO(b"external_id,email\na,a@example.com\n"))
    assert member() == (3, None, None, None)

    import_csv(app_group=app_group, stream=io.BytesIO(b"external_id,email\na,a2@example.com\n"))

    assert member() == (0, EMAIL_A, PHONE_US, None)


def test_a_new_default_country_re_reading_the_phone_keeps_the_hash_sent(app_group, synced):
    from users.phone_renormalize import SETTLE_SECONDS, phone_renormalization_run

    admin = MembershipFactory(app_group=app_group, role=Role.ADMIN)
    app_group_settings_update(actor=admin, name=app_group.name, default_country="GB")
    job = app_group.phone_renormalizations.latest("created_at", "id")
    now = timezone.now()
    if phone_renormalization_run(job_id=job.pk, now=now) == "wait":
        later = now + dt.timedelta(seconds=SETTLE_SECONDS + 1)
        assert phone_renormalization_run(job_id=job.pk, now=later) == "done"
    synced.refresh_from_db()
    assert synced.phone_sha256 == sha256_hex("+442083661177")

    assert member() == (0, EMAIL_A, PHONE_US, None)


def test_a_device_reporting_another_idfa_keeps_the_hash_sent(
    app_group, active_canvas, sync_step, make_profiles
):
    sync_step([MatchField.IDFA])
    profiles = make_profiles(
        {"external_id": "a", "devices": [{"device_id": "phone", "idfa": IDFA_1}]}
    )
    enter(active_canvas, profiles.values())
    assert member() == (4, None, None, None)
    profile_track(app_group, external_id="a", devices=[{"device_id": "phone", "idfa": IDFA_1}])
    assert member() == (4, None, None, None)

    profile_track(app_group, external_id="a", devices=[{"device_id": "phone", "idfa": IDFA_2}])

    assert member() == (0, None, None, sha256_hex(IDFA_1))
    assert deletes_sent(app_group, profiles["a"]) == [(("IDFA_SHA256",), (sha256_hex(IDFA_1),))]
