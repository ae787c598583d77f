"""CSV imports: normalization, rejected rows, idempotence, bulk writes (service and command)."""

from __future__ import annotations

import csv
import gc
import io
import sys
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tests.factories import profile_track
from users.csv_import.lifecycle import import_csv, user_import_run
from users.csv_import.reader import CsvFileError
from users.csv_import.writer import IMPORT_DEVICE_ID
from users.identifiers import sha256_hex
from users.models import Device, Profile, UserImport

IDFA = "6D92078A-8246-4BA4-AE5B-76104861E7DC"
GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"


def run(app_group, text: str | bytes, **kwargs):
    data = text.encode() if isinstance(text, str) else text
    return import_csv(app_group=app_group, stream=io.BytesIO(data), **kwargs)


def before_each_write(monkeypatch, step) -> None:
    """Every batch write first runs `step(writer, payload)`: to record it, or to fail the batch
    by raising."""
    from users.csv_import.writer import BatchWriter

    original = BatchWriter.write

    def write(self, payload):
        step(self, payload)
        original(self, payload)

    monkeypatch.setattr(BatchWriter, "write", write)


def staged_external_ids(payload) -> list[str]:
    """The external_ids of a batch prepared for PostgreSQL's COPY (either format)."""
    from users.csv_import.writer import COPY_TEXT

    lines = io.StringIO(payload.data.decode(), newline="")
    if payload.options == COPY_TEXT:
        return [row[0] for row in csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)]
    return [row[0] for row in csv.reader(lines)]


@pytest.mark.django_db
def test_rows_become_profiles_with_hashes_devices_and_custom_attributes(app_group):
    progress = run(
        app_group,
        "external_id,email,phone,first_name,last_name,idfa,google_ad_id,ad_tracking_enabled,"
        "plan,visits,score,vip,zip\n"
        f"u1, Ana@Example.com ,(650) 253-0000,Ana,Lopez,{IDFA},{GAID},true,gold,12,4.5,TRUE,01234\n",
    )

    assert (progress.rows_processed, progress.rows_imported, progress.rows_rejected) == (1, 1, 0)
    profile = Profile.objects.get(app_group=app_group, external_id="u1")
    assert profile.email_sha256 == sha256_hex("ana@example.com")
    assert profile.phone_e164 == "+16502530000"
    assert (profile.first_name, profile.last_name) == ("Ana", "Lopez")
    assert profile.idfa_sha256 == sha256_hex(IDFA.lower())
    assert profile.gaid_sha256 == sha256_hex(GAID)
    assert profile.ad_tracking_enabled is True
    # Booleans and plain numbers are typed; a zip code with a leading zero stays a string.
    assert profile.custom_attributes == {
        "plan": "gold",
        "visits": 12,
        "score": 4.5,
        "vip": True,
        "zip": "01234",
    }
    device = Device.objects.get(profile=profile)
    assert device.device_id == IMPORT_DEVICE_ID
    assert (device.idfa, device.google_ad_id) == (IDFA, GAID)
    assert device.idfa_reported_at is not None
    assert len(profile.braze_id) == 24


@pytest.mark.django_db
def test_rejected_rows_carry_their_line_and_reason_and_good_rows_go_in(app_group):
    progress = run(
        app_group,
        "external_id,email,country,ad_tracking_enabled,note\n"  # line 1
        "ok1,a@example.com,US,true,x\n"  # 2
        ",b@example.com,US,,\n"  # 3: no external id
        "bad-country,c@example.com,Atlantis,,\n"  # 4
        'multi,"d@example.com",US,,"two\nlines"\n'  # 5-6
        "short,row\n"  # 7
        "bad-flag,e@example.com,US,maybe,\n"  # 8
        "\n"  # 9: blank lines are skipped
        "ok2,not-an-email,FR,,\n",  # 10: imported, email unusable
    )

    assert (progress.rows_processed, progress.rows_imported, progress.rows_rejected) == (7, 3, 4)
    assert progress.values_unusable == 1
    issues = [(i.line, i.rejected, i.column, i.reason) for i in progress.issues]
    assert issues == [
        (3, True, "external_id", "missing external_id"),
        (4, True, "country", "'country' must be an ISO 3166-1 alpha-2 code"),
        (7, True, "", "expected 5 fields, found 2"),
        (8, True, "ad_tracking_enabled", "ad_tracking_enabled must be true or false"),
        (10, False, "email", "not an email address"),
    ]
    assert set(Profile.objects.values_list("external_id", flat=True)) == {"ok1", "multi", "ok2"}
    assert Profile.objects.get(external_id="multi").custom_attributes == {"note": "two\nlines"}
    kept = Profile.objects.get(external_id="ok2")
    assert (kept.email, kept.email_sha256, kept.email_invalid_reason) == (
        "not-an-email",
        None,
        "not an email address",
    )


@pytest.mark.django_db
def test_importing_again_is_idempotent_and_empty_cells_keep_values(app_group):
    csv_text = (
        "external_id,email,first_name,plan\nu1,a@example.com,Ana,gold\nu2,b@example.com,Bo,\n"
    )
    run(app_group, csv_text)
    first = {p.external_id: p.braze_id for p in Profile.objects.all()}

    run(app_group, csv_text)
    run(app_group, "external_id,first_name,email,plan\nu1,,,silver\n")

    assert Profile.objects.count() == 2
    assert {p.external_id: p.braze_id for p in Profile.objects.all()} == first
    u1 = Profile.objects.get(external_id="u1")
    assert (u1.first_name, u1.email_sha256) == ("Ana", sha256_hex("a@example.com"))
    assert u1.custom_attributes == {"plan": "silver"}


@pytest.mark.django_db
def test_an_import_updates_profiles_written_through_the_api(app_group):
    profile = profile_track(
        app_group,
        external_id="u1",
        email="old@example.com",
        keep="me",
        devices=[{"device_id": "phone", "idfa": IDFA}],
    )

    run(app_group, f"external_id,email,google_ad_id\nu1,new@example.com,{GAID}\n")

    profile.refresh_from_db()
    assert profile.email_sha256 == sha256_hex("new@example.com")
    assert profile.custom_attributes == {"keep": "me"}
    # The API device keeps its IDFA; the import adds a device with the GAID.
    assert profile.idfa_sha256 == sha256_hex(IDFA.lower())
    assert profile.gaid_sha256 == sha256_hex(GAID)
    assert Device.objects.filter(profile=profile).count() == 2


@pytest.mark.django_db
def test_the_same_external_id_twice_merges_in_file_order_across_batches(app_group):
    progress = run(
        app_group,
        "external_id,first_name,last_name,a,b\n"
        "u1,Ana,,1,\n"
        "u2,Bo,,,\n"
        "u1,,Lopez,,2\n"
        "u3,Cy,,,\n"
        "u1,Anna,,,\n",
        batch_rows=2,
    )

    assert progress.rows_imported == 5
    u1 = Profile.objects.get(external_id="u1")
    assert (u1.first_name, u1.last_name, u1.custom_attributes) == (
        "Anna",
        "Lopez",
        {"a": 1, "b": 2},
    )
    assert Profile.objects.count() == 3


@pytest.mark.django_db
def test_phone_numbers_take_the_app_groups_default_country(app_group):
    app_group.default_country = "GB"
    app_group.save()

    run(app_group, "external_id,phone\nu1,020 8366 1177\nu2,+1 650 253 0000\n")

    assert Profile.objects.get(external_id="u1").phone_e164 == "+442083661177"
    assert Profile.objects.get(external_id="u2").phone_e164 == "+16502530000"


@pytest.mark.django_db
def test_another_app_groups_profiles_are_untouched(app_group, other_app_group):
    theirs = profile_track(other_app_group, external_id="u1", first_name="Theirs")

    run(app_group, "external_id,first_name\nu1,Ours\n")

    theirs.refresh_from_db()
    assert theirs.first_name == "Theirs"
    assert Profile.objects.get(app_group=app_group, external_id="u1").first_name == "Ours"


@pytest.mark.django_db
def test_a_byte_order_mark_and_header_case_are_accepted(app_group):
    run(app_group, "\ufeffExternal_ID,EMAIL\r\nu1,a@example.com\r\n".encode())

    assert Profile.objects.get(external_id="u1").email == "a@example.com"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"email,first_name\na@example.com,Ana\n", "the header has no external_id column"),
        (b"external_id,email,Email\nu1,a,b\n", "column 'email' appears twice in the header"),
        (b"external_id,,email\nu1,,a\n", "column 2 of the header has no name"),
        (b"external_id,braze_id\nu1,x\n", "column 'braze_id' cannot be imported"),
        (b"external_id,name\nu1,\xff\xfe\n", "the file is not UTF-8 text"),
    ],
)
def test_files_that_cannot_be_imported(app_group, content, message):
    with pytest.raises(CsvFileError, match=message):
        run(app_group, content)


@pytest.mark.django_db
def test_the_command_imports_reports_and_records_the_import(app_group, tmp_path, capsys):
    path = tmp_path / "users.csv"
    path.write_text("external_id,email\nu1,a@example.com\n,b@example.com\nu2,nope\n")
    report = tmp_path / "report.csv"

    call_command("import_users", str(path), "--app-group", "Acme", "--report", str(report))

    out = capsys.readouterr()
    assert "Imported 2 of 3 rows into 'Acme'" in out.out
    assert "line 3: missing external_id" in out.err
    assert report.read_text().splitlines() == [
        "line,status,column,reason,external_id",
        "3,rejected,external_id,missing external_id,",
        '4,"imported, value unusable",email,not an email address,u2',
    ]
    user_import = UserImport.objects.get()
    assert (user_import.status, user_import.rows_imported, user_import.rows_rejected) == (
        "done",
        2,
        1,
    )
    assert user_import.issues.count() == 2


@pytest.mark.django_db
def test_the_command_fails_on_a_bad_file_or_unknown_group(app_group, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("email\na@example.com\n")

    with pytest.raises(CommandError, match="no external_id column"):
        call_command("import_users", str(bad), "--app-group", "Acme")
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_users", str(tmp_path / "missing.csv"), "--app-group", "Acme")
    with pytest.raises(CommandError, match="No app group named"):
        call_command("import_users", str(bad), "--app-group", "Nope")
    assert UserImport.objects.get().status == "failed"


@pytest.mark.django_db
def test_a_finished_import_is_not_run_twice(app_group, tmp_path):
    user_import = UserImport.objects.create(app_group=app_group, file_name="x.csv")
    user_import_run(user_import_id=user_import.pk, stream=io.BytesIO(b"external_id\nu1\n"))

    again = user_import_run(user_import_id=user_import.pk, stream=io.BytesIO(b"external_id\nu2\n"))

    assert again is None
    assert list(Profile.objects.values_list("external_id", flat=True)) == ["u1"]


@pytest.mark.django_db(transaction=True)
def test_batches_are_written_from_a_second_thread_when_not_in_a_transaction(app_group):
    rows = "".join(f"u{i},user{i}@example.com,{i}\n" for i in range(1050))

    progress = run(app_group, "external_id,email,n\n" + rows, batch_rows=100)

    assert progress.rows_imported == 1050
    assert Profile.objects.filter(app_group=app_group).count() == 1050
    assert Profile.objects.get(external_id="u1049").custom_attributes == {"n": 1049}


@pytest.mark.django_db(transaction=True)
def test_each_external_id_is_written_by_one_writer_in_file_order(app_group, monkeypatch):
    """PostgreSQL writes with two threads at once (SQLite with one): every row of an
    external_id goes to the same writer, so the file's last row for it still wins."""
    from users.csv_import.writer import WRITER_THREADS

    writers: dict[str, set[str]] = {}

    def record(batch_writer, payload):
        names = threading.current_thread().name
        for external_id in staged_external_ids(payload) if batch_writer.postgres else ():
            writers.setdefault(external_id, set()).add(names)

    before_each_write(monkeypatch, record)
    # 40 users, each on 30 rows spread over the file; n counts up, so the last row has the max.
    rows = "".join(f"u{i % 40},{i}\n" for i in range(1200))

    progress = run(app_group, "external_id,n\n" + rows, batch_rows=7)

    assert progress.rows_imported == 1200
    stored = dict(Profile.objects.values_list("external_id", "custom_attributes"))
    assert stored == {f"u{u}": {"n": 1160 + u} for u in range(40)}
    if connection.vendor == "postgresql":
        assert all(len(names) == 1 for names in writers.values())
        used = set().union(*writers.values())
        assert len(used) == WRITER_THREADS == 2


@pytest.mark.django_db
def test_the_first_batches_are_small_and_double_up_to_the_batch_size(app_group, monkeypatch):
    """The writers start while the reader is still on the file's first rows."""
    sizes = []

    def record(batch_writer, payload):
        sizes.append(len(staged_external_ids(payload)) if batch_writer.postgres else len(payload))

    before_each_write(monkeypatch, record)
    rows = "".join(f"u{i}\n" for i in range(6000))

    run(app_group, "external_id\n" + rows, batch_rows=2000)

    assert sizes == [1250, 2000, 2000, 750]
    assert Profile.objects.filter(app_group=app_group).count() == 6000


@pytest.mark.django_db(transaction=True)
def test_garbage_collection_is_paused_during_an_import_and_back_after(app_group, monkeypatch):
    seen = []

    def record(batch_writer, payload):
        seen.append(gc.isenabled())
        if len(seen) == 2:
            raise RuntimeError("disk full")

    before_each_write(monkeypatch, record)
    assert gc.isenabled()

    run(app_group, "external_id\nu1\n")
    assert seen == [False] and gc.isenabled()
    with pytest.raises(RuntimeError, match="disk full"):
        run(app_group, "external_id\nu1\n")
    assert seen == [False, False] and gc.isenabled()


def test_imports_sharing_a_process_restore_its_collector_and_switch_interval_last():
    from users.csv_import.lifecycle import IMPORT_SWITCH_INTERVAL, _import_tuning

    interval = sys.getswitchinterval()
    first, second = _import_tuning(), _import_tuning()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled() and sys.getswitchinterval() == IMPORT_SWITCH_INTERVAL
    second.__exit__(None, None, None)
    assert gc.isenabled() and sys.getswitchinterval() == interval


@pytest.mark.django_db(transaction=True)
def test_a_failing_batch_write_stops_the_import_with_its_error(app_group, monkeypatch):
    from users.csv_import import writer

    # One writer, so that "the second batch" is one batch whatever the hash seed deals.
    monkeypatch.setattr(writer, "WRITER_THREADS", 1)
    calls = []

    def fail_the_second(batch_writer, payload):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")

    before_each_write(monkeypatch, fail_the_second)
    rows = "".join(f"u{i}\n" for i in range(500))

    with pytest.raises(RuntimeError, match="disk full"):
        run(app_group, "external_id\n" + rows, batch_rows=100)
    # The first batch went in; nothing after the failure did.
    assert Profile.objects.count() == 100


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite writes with one thread: nothing to stop"
)
@pytest.mark.django_db(transaction=True)
def test_one_of_two_writers_failing_stops_the_import_with_its_error(app_group, monkeypatch):
    failed: list = []

    def fail_the_second_writers_first(batch_writer, payload):
        if not failed and threading.current_thread().name.endswith("-1"):
            failed.append(payload)
            raise RuntimeError("disk full")

    before_each_write(monkeypatch, fail_the_second_writers_first)
    rows = "".join(f"u{i}\n" for i in range(2000))

    with pytest.raises(RuntimeError, match="disk full"):
        run(app_group, "external_id\n" + rows, batch_rows=100)
    lost = set(staged_external_ids(failed[0]))
    stored = set(Profile.objects.values_list("external_id", flat=True))
    assert len(lost) == 100 and not lost & stored
    assert len(stored) < 2000


@pytest.mark.django_db
def test_re_importing_an_unchanged_row_does_not_touch_it(app_group):
    text = f"external_id,email,idfa,plan\nu1,a@example.com,{IDFA},gold\nu2,b@example.com,,free\n"
    run(app_group, text)
    before = {p.external_id: p.updated_at for p in Profile.objects.all()}

    run(app_group, text.replace("b@example.com,,free", "b@example.com,,silver"))

    after = {p.external_id: p.updated_at for p in Profile.objects.all()}
    assert after["u1"] == before["u1"]
    assert after["u2"] > before["u2"]
    assert Profile.objects.get(external_id="u2").custom_attributes == {"plan": "silver"}


def test_a_batch_is_copied_as_text_unless_a_value_needs_escaping():
    from users.csv_import.reader import STAGE_COLUMNS
    from users.csv_import.writer import COPY_CSV, COPY_TEXT, copy_batch

    def row(external_id, first_name=None):
        values = [None] * len(STAGE_COLUMNS)
        values[0], values[9], values[26] = external_id, first_name, "f"
        return values

    plain = copy_batch([row("u1", "Ana"), row("u2", "")])
    assert plain.options == COPY_TEXT
    assert plain.data.decode().splitlines() == [
        "u1" + "\t" * 9 + "Ana" + "\t" * 17 + "f",
        "u2" + "\t" * 26 + "f",
    ]
    for awkward in ("a\tb", "a\nb", "a\rb", "a\\b", "\\N", "\\."):
        batch = copy_batch([row("u1", "Ana"), row("u2", awkward)])
        assert batch.options == COPY_CSV, awkward
        assert list(csv.reader(io.StringIO(batch.data.decode(), newline="")))[1][9] == awkward
    # Only the columns the file can fill: the others are left to COPY's NULL.
    columns = ("external_id", "first_name", "ad_tracking_enabled")
    assert copy_batch([row("u1", "Ana"), row("u2")], columns) == (
        b"u1\tAna\tf\nu2\t\tf\n",
        columns,
        COPY_TEXT,
    )
    assert copy_batch([row("u1", "a\nb")], columns).data == b'u1,"a\nb",f\r\n'


def test_the_reader_names_the_staging_columns_a_file_can_fill():
    from users.csv_import.reader import RowReader

    assert RowReader(["external_id", "email", "plan", "dob"], "US").filled_columns == (
        "external_id",
        "braze_id",
        "email",
        "email_sha256",
        "email_invalid_reason",
        "dob",
        "custom_attributes",
    )
    assert RowReader(["google_ad_id", "external_id"], "US").filled_columns == (
        "external_id",
        "braze_id",
        "google_ad_id",
        "gaid_sha256",
        "gaid_invalid_reason",
    )


@pytest.mark.django_db
def test_a_custom_attribute_named_like_a_staging_column_is_imported(app_group):
    run(app_group, "external_id,email_sha256,phone_e164\nu1,abc,+1\n")

    profile = Profile.objects.get(external_id="u1")
    assert profile.custom_attributes == {"email_sha256": "abc", "phone_e164": "+1"}
    assert (profile.email_sha256, profile.phone_e164) == (None, None)


@pytest.mark.django_db
def test_values_that_need_escaping_are_stored_as_written(app_group):
    awkward = {
        "u1": "back\\slash",
        "u2": "\\N",
        "u3": "tab\there",
        "u4": "line\nbreak",
        "u5": "carriage\rreturn",
        "u6": "crlf\r\ninside",
    }
    lines = "".join(f'{key},"{value}","{value}"\n' for key, value in awkward.items())

    run(app_group, "external_id,first_name,note\nu0,Plain,plain\n" + lines, batch_rows=2)

    stored = {p.external_id: (p.first_name, p.custom_attributes) for p in Profile.objects.all()}
    assert stored == {
        "u0": ("Plain", {"note": "plain"}),
        **{key: (value, {"note": value}) for key, value in awkward.items()},
    }


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite probes for stored profiles in every batch"
)
@pytest.mark.django_db
def test_a_batch_of_new_profiles_is_inserted_without_probing_for_stored_ones(app_group):
    """New profiles change no stored hash, so an all-new batch skips the probe; a batch with
    stored profiles among new ones still tells their hash changes and leaves the rest alone."""
    from django.test.utils import CaptureQueriesContext

    from users.signals import profile_hashes_changing

    told: list[list[int]] = []

    def receiver(sender, profile_ids, **kwargs):
        told.append(sorted(profile_ids))

    profile_hashes_changing.connect(receiver)
    try:
        with CaptureQueriesContext(connection) as first:
            run(app_group, f"external_id,email,idfa\nu1,a@example.com,{IDFA}\nu2,b@example.com,\n")
        stored = {p.external_id: p for p in Profile.objects.all()}
        with CaptureQueriesContext(connection) as second:
            run(
                app_group,
                "external_id,email,idfa\n"
                "u1,a@example.com,\n"  # unchanged
                "u2,new@example.com,\n"  # a new hash
                f"u3,c@example.com,{IDFA}\n",  # a new profile
            )
    finally:
        profile_hashes_changing.disconnect(receiver)

    def probes(context) -> int:
        return sum("CROSS JOIN LATERAL" in query["sql"] for query in context.captured_queries)

    def statistics_checks(context) -> int:
        counts = "SELECT count(*) FROM (SELECT 1 FROM"
        return sum(query["sql"].startswith(counts) for query in context.captured_queries)

    assert (probes(first), probes(second)) == (0, 1)
    # Only a batch that probes asks whether the planner's statistics are stale.
    assert (statistics_checks(first), statistics_checks(second)) == (0, 1)
    assert told == [[stored["u2"].pk]]
    after = {p.external_id: p for p in Profile.objects.all()}
    assert after["u1"].updated_at == stored["u1"].updated_at
    assert after["u2"].email_sha256 == sha256_hex("new@example.com")
    assert after["u3"].idfa_sha256 == sha256_hex(IDFA.lower())
    assert Device.objects.filter(profile__external_id__in=["u1", "u3"]).count() == 2


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite has no hash join and no statistics unless analyzed: it probes the index",
)
@pytest.mark.django_db
def test_the_hash_change_check_probes_the_index_after_stale_statistics(app_group, other_app_group):
    """Statistics taken while the group was empty: the plain join was a hash join reading every
    profile of the group per batch, and even the per-row probe could take the (app group, id)
    index and filter the whole group on external_id. The next batch analyzes first."""
    from users.csv_import.writer import STAGE_TABLE, BatchWriter, _stage_table_sql

    def probe_plan() -> str:
        with connection.cursor() as cursor:
            cursor.execute(_stage_table_sql())
            cursor.execute(f"TRUNCATE {STAGE_TABLE}")
            cursor.execute(
                f"INSERT INTO {STAGE_TABLE} (external_id, email, email_sha256) "
                "SELECT 'u' || g, 'x@example.com', md5(g::text) FROM generate_series(1, 3000) g"
            )
            cursor.execute("EXPLAIN " + BatchWriter(app_group).hash_changing_sql, [app_group.pk])
            return "\n".join(line for (line,) in cursor.fetchall())

    def group_estimate() -> float:
        with connection.cursor() as cursor:
            cursor.execute(
                "EXPLAIN (FORMAT JSON) SELECT 1 FROM appgroups_profile WHERE app_group_id = %s",
                [app_group.pk],
            )
            return cursor.fetchone()[0][0]["Plan"]["Plan Rows"]

    # Statistics that know another group only: this one's estimate is a row at most.
    run(other_app_group, "external_id\n" + "".join(f"o{i}\n" for i in range(500)))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE appgroups_profile")
    text = "external_id,email\n" + "".join(f"u{i},u{i}@example.com\n" for i in range(3000))
    run(app_group, text)
    assert group_estimate() < 100  # stale: 3,000 profiles stored

    run(app_group, text.replace("@example.com", "@example.org"))

    assert group_estimate() > 1500
    plan = probe_plan()
    assert "Index Scan using profile_external_id_unique" in plan, plan
    assert "Hash Join" not in plan and "Seq Scan on appgroups_profile" not in plan, plan
