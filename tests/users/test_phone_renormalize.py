"""Changing an app group's default country re-reads the phone numbers it stores.

docs/ARCHITECTURE.md D5: a number typed without a country code is read in the default country
when the profile is written, and the hash TikTok receives is that reading's. The re-reading is a
Celery task working in chunks of profile ids (users.phone_renormalize); here it runs in this
process, with `now` moved instead of waiting, and through a real worker in
test_phone_renormalize_worker.py.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.utils import timezone

import users.tasks  # noqa: F401  (connects users' receivers of appgroups' signals, see there)
from appgroups.models import AppGroup, Role
from appgroups.services import app_group_settings_update
from tests.factories import MembershipFactory, profile_track
from users.identifiers import REASON_PHONE, sha256_hex
from users.models import Device, Profile, UserImport

# Raw value: (read in the US, read in Great Britain); None for "not a valid phone number".
NUMBERS = {
    # A national number: another country, another E.164 and hash.
    "2083661177": ("+12083661177", "+442083661177"),
    # With its country code: the same in every country.
    "+16502530000": ("+16502530000", "+16502530000"),
    "(+1) 650-253-0001": ("+16502530001", "+16502530001"),
    # Invalid in the US, valid in GB: loses its reason.
    "07400123456": (None, "+447400123456"),
    # Valid in the US, invalid in GB: gets a reason.
    "6502530000": ("+16502530000", None),
    # The US international prefix (011) means nothing in GB.
    "011 44 20 8366 1177": ("+442083661177", None),
}
HASHED = "a" * 64  # an already hashed number is kept as it is


def expected(e164):
    if e164 is None:
        return (None, None, REASON_PHONE)
    return (e164, sha256_hex(e164), "")


def phone_columns(profile_id):
    profile = Profile.objects.get(pk=profile_id)
    return (profile.phone_e164, profile.phone_sha256, profile.phone_invalid_reason)


def full_row(profile_id):
    return Profile.objects.filter(pk=profile_id).values().get()


@pytest.fixture
def admin_membership(app_group):
    return MembershipFactory(app_group=app_group, role=Role.ADMIN)


@pytest.fixture
def profiles(app_group):
    """One profile per number, written through /users/track's parser and service (US)."""
    assert app_group.default_country == "US"
    ids = {}
    for index, raw in enumerate([*NUMBERS, HASHED]):
        ids[raw] = profile_track(app_group, external_id=f"u{index}", phone=raw).pk
    return ids


def country_change(membership, country):
    """Change the country as Workspace Settings does; returns the re-reading it started."""
    app_group_settings_update(
        actor=membership, name=membership.app_group.name, default_country=country
    )
    return membership.app_group.phone_renormalizations.latest("created_at", "id")


def run(job, *, now=None, **kwargs):
    from users.phone_renormalize import phone_renormalization_run

    return phone_renormalization_run(job_id=job.pk, now=now, **kwargs)


def run_to_the_end(job, *, now=None):
    """Every chunk, and past the wait for writes begun before the change."""
    from users.phone_renormalize import SETTLE_SECONDS

    now = now or timezone.now()
    outcome = run(job, now=now)
    if outcome == "wait":
        outcome = run(job, now=now + dt.timedelta(seconds=SETTLE_SECONDS + 1))
    return outcome


def test_a_new_default_country_re_reads_every_number_typed_without_a_country_code(
    app_group, admin_membership, profiles
):
    for raw, (us, _) in NUMBERS.items():
        assert phone_columns(profiles[raw]) == expected(us), raw
    before = {raw: full_row(pk) for raw, pk in profiles.items()}

    job = country_change(admin_membership, "GB")
    outcome = run_to_the_end(job)

    assert outcome == "done"
    for raw, (_, gb) in NUMBERS.items():
        assert phone_columns(profiles[raw]) == expected(gb), raw
    assert phone_columns(profiles[HASHED]) == (None, HASHED, "")
    for raw, pk in profiles.items():
        row = full_row(pk)
        # The raw value is kept; re-reading is not an update by the customer (updated_at).
        assert row["phone"] == raw
        assert row["updated_at"] == before[raw]["updated_at"]
        changed = {c for c in row if row[c] != before[raw][c]}
        assert changed <= {"phone_e164", "phone_sha256", "phone_invalid_reason"}
    job.refresh_from_db()
    assert (job.status, job.previous_country, job.country) == ("done", "US", "GB")
    assert job.profiles_total == job.profiles_done == len(profiles)
    # 2083661177, 07400123456, 6502530000 and 011 44 … read differently in GB.
    assert job.phones_changed == 4


def test_csv_imported_numbers_and_device_mirrors(app_group, admin_membership):
    from users.csv_import.lifecycle import import_csv

    csv = (
        "external_id,phone,idfa\n"
        "c1,2083661177,8f14e45f-ceea-467f-a0f6-5e1a3b0c1d2e\n"
        "c2,+16502530000,\n"
    )
    import_csv(app_group=app_group, stream=io.BytesIO(csv.encode()))
    imported = Profile.objects.get(external_id="c1")
    device_before = Device.objects.filter(profile=imported).values().get()
    mirrors_before = (imported.idfa_sha256, imported.idfa_invalid_reason)

    run_to_the_end(country_change(admin_membership, "GB"))

    imported.refresh_from_db()
    assert phone_columns(imported.pk) == expected("+442083661177")
    assert phone_columns(Profile.objects.get(external_id="c2").pk) == expected("+16502530000")
    assert Device.objects.filter(profile=imported).values().get() == device_before
    assert (imported.idfa_sha256, imported.idfa_invalid_reason) == mirrors_before


def test_a_profile_identified_by_its_number_is_found_again_after_the_change(
    app_group, admin_membership
):
    """/users/track compares the hash of the number it is sent with the stored one: after the
    re-reading, sending the same national number finds the same profile (no duplicate)."""
    first = profile_track(app_group, phone="2083661177", first_name="Ann")

    run_to_the_end(country_change(admin_membership, "GB"))
    app_group.refresh_from_db()
    again = profile_track(app_group, phone="2083661177", first_name="Anne")

    assert again.pk == first.pk
    assert Profile.objects.filter(app_group=app_group).count() == 1


def test_each_chunk_commits_and_a_dead_workers_job_is_taken_over(
    app_group, admin_membership, profiles, monkeypatch
):
    from users import phone_renormalize

    now = timezone.now()
    job = country_change(admin_membership, "GB")
    ids = sorted(profiles.values())
    writes = []
    real_write = phone_renormalize._write

    def dies_in_the_second_chunk(rows):
        written = real_write(rows)
        writes.append(written)
        if len(writes) == 2:
            raise RuntimeError("worker killed")
        return written

    monkeypatch.setattr(phone_renormalize, "_write", dies_in_the_second_chunk)
    with pytest.raises(RuntimeError):
        run(job, now=now, chunk_profiles=3)
    monkeypatch.undo()

    job.refresh_from_db()
    # The first chunk (3 profile ids) is committed, the second rolled back with its cursor.
    assert (job.cursor, job.profiles_done) == (ids[2], 3)
    committed = job.phones_changed
    gb = {raw: expected(NUMBERS[raw][1]) for raw in NUMBERS}
    by_id = {pk: raw for raw, pk in profiles.items()}
    for pk in ids[3:]:
        raw = by_id[pk]
        if raw in NUMBERS and NUMBERS[raw][0] != NUMBERS[raw][1]:
            assert phone_columns(pk) != gb[raw], raw
    # A worker killed outright keeps its claim until its heartbeat is stale.
    job.__class__.objects.filter(pk=job.pk).update(claim_token=1, heartbeat_at=now)
    assert run(job, now=now + dt.timedelta(seconds=30)) == "taken"

    assert run_to_the_end(job, now=now + dt.timedelta(minutes=3)) == "done"

    for raw, pk in profiles.items():
        if raw in NUMBERS:
            assert phone_columns(pk) == gb[raw], raw
    job.refresh_from_db()
    assert job.profiles_done == job.profiles_total == len(profiles)
    assert job.phones_changed == 4 and committed < 4


def test_running_it_twice_writes_nothing_more(app_group, admin_membership, profiles):
    from users.phone_renormalize import phone_renormalization_start

    job = country_change(admin_membership, "GB")
    assert run_to_the_end(job) == "done"
    after = {pk: full_row(pk) for pk in profiles.values()}

    # The same delivery again: the job is finished.
    assert run(job) == "taken"
    # A whole second job for the same country reads everything and changes nothing.
    app_group.refresh_from_db()
    again = phone_renormalization_start(app_group=app_group, previous_country="GB")
    assert run_to_the_end(again) == "done"

    again.refresh_from_db()
    assert again.phones_changed == 0
    assert {pk: full_row(pk) for pk in profiles.values()} == after


def test_a_newer_country_supersedes_the_re_reading_in_progress(
    app_group, admin_membership, profiles
):
    first = country_change(admin_membership, "GB")
    assert run(first, chunk_profiles=2, run_seconds=0) == "more"

    second = country_change(admin_membership, "DE")

    first.refresh_from_db()
    assert first.status == "superseded"
    assert run(first) == "taken"
    assert run_to_the_end(second) == "done"
    for raw in ("2083661177", "6502530000", "07400123456"):
        assert phone_columns(profiles[raw])[0] == "+49" + raw.lstrip("0"), raw
    assert phone_columns(profiles["+16502530000"]) == expected("+16502530000")


def test_a_job_whose_country_is_no_longer_the_groups_stops_without_writing(
    app_group, admin_membership, profiles
):
    job = country_change(admin_membership, "GB")
    before = {pk: full_row(pk) for pk in profiles.values()}
    # Changed behind the service's back (e.g. Django admin): no newer job exists.
    AppGroup.objects.filter(pk=app_group.pk).update(default_country="FR")

    assert run(job) == "superseded"

    assert {pk: full_row(pk) for pk in profiles.values()} == before


def test_numbers_written_with_the_previous_country_during_the_change_are_read_again(
    app_group, admin_membership, profiles
):
    from users.phone_renormalize import SETTLE_SECONDS

    now = timezone.now()
    stale_group = AppGroup.objects.get(pk=app_group.pk)  # read before the change: US
    job = country_change(admin_membership, "GB")
    importing = UserImport.objects.create(
        app_group=app_group,
        file_name="big.csv",
        status=UserImport.Status.RUNNING,
        started_at=now - dt.timedelta(minutes=1),
        heartbeat_at=now,
    )
    assert run(job, now=now) == "wait"  # swept; writes begun before the change may be in flight

    # A request that read the country before the change writes after the sweep passed.
    late = profile_track(stale_group, external_id="u0", phone="3012345678")
    assert phone_columns(late.pk) == expected("+13012345678")

    settled = now + dt.timedelta(seconds=SETTLE_SECONDS + 1)
    assert run(job, now=settled) == "wait"  # the import begun before the change still runs
    UserImport.objects.filter(pk=importing.pk).update(status=UserImport.Status.DONE)
    assert run(job, now=settled) == "done"

    assert phone_columns(late.pk) == expected("+443012345678")


def test_the_task_queues_its_next_delivery(app_group, admin_membership, profiles, monkeypatch):
    from users import phone_renormalize, tasks

    queued = []
    monkeypatch.setattr(
        tasks.phone_renormalization_run,
        "apply_async",
        lambda args, countdown=None: queued.append((args, countdown)),
    )
    monkeypatch.setattr(phone_renormalize, "RUN_SECONDS", 0)
    monkeypatch.setattr(phone_renormalize, "CHUNK_PROFILES", 2)
    job = country_change(admin_membership, "GB")

    assert tasks.phone_renormalization_run(job.pk) == "more"
    assert queued == [((job.pk,), None)]


def test_a_command_re_reads_numbers_stored_before_this_release(app_group, profiles, monkeypatch):
    """A country changed before a release that re-read numbers left them in the old reading."""
    from django.core.management import call_command

    from users import phone_renormalize

    AppGroup.objects.filter(pk=app_group.pk).update(default_country="GB")
    monkeypatch.setattr(phone_renormalize, "SETTLE_SECONDS", 0)
    out = io.StringIO()

    call_command("reread_phone_numbers", "--app-group", "Acme", stdout=out, stderr=io.StringIO())

    for raw, (_, gb) in NUMBERS.items():
        assert phone_columns(profiles[raw]) == expected(gb), raw
    assert "Re-read the phone numbers of 7 profiles of 'Acme' in GB: 4 read differently." in (
        out.getvalue()
    )
