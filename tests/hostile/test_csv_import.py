"""Hostile CSV files, through Audience > Import Users and `manage.py import_users`: broken
encodings, huge fields, missing columns and formula-injection cells get clear rejections, and
nothing is ever half-imported (a file that fails writes no row, a rejected row writes nothing).
"""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from users.csv_import.lifecycle import BATCH_ROWS, user_import_run
from users.models import Device, Profile, UserImport

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("users:user-import")


def many_rows(count: int) -> bytes:
    return b"".join(f"u{i},user{i}@example.com\n".encode() for i in range(count))


def command(tmp_path, content: bytes, report: bool = True):
    """Run `import_users`; (error or None, report rows)."""
    path = tmp_path / "users.csv"
    path.write_bytes(content)
    out = tmp_path / "report.csv"
    args = [str(path), "--app-group", "Acme"] + (["--report", str(out)] if report else [])
    try:
        call_command("import_users", *args, stdout=io.StringIO(), stderr=io.StringIO())
    except CommandError as exc:
        return str(exc), []
    rows = list(csv.reader(out.open(encoding="utf-8"))) if report else []
    return None, rows


def upload(client, content: bytes, name="users.csv", monkeypatch=None):
    """Upload through the dashboard and run the queued import inline (the worker's part)."""
    response = client.post(IMPORT_URL, {"file": SimpleUploadedFile(name, content, "text/csv")})
    created = UserImport.objects.order_by("-id").first()
    if response.status_code == 302 and created is not None:
        user_import_run(user_import_id=created.pk)
        created.refresh_from_db()
    return response, created


@pytest.fixture
def queued(monkeypatch):
    monkeypatch.setattr("users.tasks.user_import_run.delay", lambda import_id: None)


# Encodings


@pytest.mark.parametrize(
    "content",
    [
        "external_id,first_name\nu1,Zoë\n".encode("latin-1"),
        "external_id,first_name\nu1,Zoë\n".encode("utf-16"),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    ],
    ids=["latin-1", "utf-16", "binary"],
)
def test_files_in_another_encoding_are_refused_by_the_command(app_group, tmp_path, content):
    error, _ = command(tmp_path, content)

    assert error is not None and "was not imported" in error
    assert not Profile.objects.exists()


def test_a_bad_byte_deep_in_a_big_file_imports_nothing(app_group, tmp_path):
    """More than one batch of good rows, then a Latin-1 line: no batch may stay written."""
    content = (
        b"external_id,email\n"
        + many_rows(BATCH_ROWS + 500)
        + "zoë,x@example.com\n".encode("latin-1")
    )

    error, _ = command(tmp_path, content)

    assert error is not None and "not UTF-8" in error
    assert Profile.objects.count() == 0
    assert UserImport.objects.get().status == UserImport.Status.FAILED


def test_a_bad_byte_deep_in_an_upload_imports_nothing(app_group, marketer_client, queued):
    content = (
        b"external_id,email\n" + many_rows(BATCH_ROWS + 300) + b"u-last,\xff\xfe@example.com\n"
    )

    response, user_import = upload(marketer_client, content)

    assert response.status_code == 302  # the header is fine; the worker finds the rest
    assert user_import.status == UserImport.Status.FAILED
    assert "not UTF-8" in user_import.error
    assert Profile.objects.count() == 0
    page = marketer_client.get(reverse("users:user-import-detail", args=[user_import.pk]))
    assert "not UTF-8" in page.content.decode()


def test_an_upload_in_latin_1_is_refused_at_the_form(app_group, marketer_client, queued):
    response, created = upload(marketer_client, "external_id,prénom\nu1,x\n".encode("latin-1"))

    assert response.status_code == 200
    assert "The file is not UTF-8 text." in response.content.decode()
    assert not Profile.objects.exists()
    assert created is None or created.status != UserImport.Status.DONE


# Huge fields


def test_a_field_past_the_csv_limit_late_in_the_file_imports_nothing(app_group, tmp_path):
    content = (
        b"external_id,notes\n"
        + b"".join(f"u{i},ok\n".encode() for i in range(BATCH_ROWS + 10))
        + b'u-huge,"'
        + b"x" * 200_000
        + b'"\n'
    )

    error, _ = command(tmp_path, content)

    assert error is not None and "field larger than field limit" in error
    assert Profile.objects.count() == 0


def test_an_unclosed_quote_does_not_swallow_the_file(app_group, tmp_path):
    content = b'external_id,first_name\nu1,"Ana\n' + b"u2,Bo\n" * 30_000

    error, _ = command(tmp_path, content)

    assert error is not None
    assert Profile.objects.count() == 0


def test_huge_values_within_the_csv_limit_reject_their_row_only(app_group, tmp_path):
    long = "x" * 100_000
    content = (
        "external_id,email,first_name,custom\n"
        f"u1,a@example.com,Ana,ok\n"
        f"u2,{long}@example.com,Bo,ok\n"
        f"u3,c@example.com,{long},ok\n"
        f"u4,d@example.com,Di,{long}\n"
        f"{'e' * 600},e@example.com,Ed,ok\n"
    ).encode()

    error, report = command(tmp_path, content)

    assert error is None
    assert list(Profile.objects.values_list("external_id", flat=True)) == ["u1"]
    reasons = {row[0]: row[3] for row in report[1:]}
    assert "longer than" in reasons["3"] and "longer than" in reasons["4"]
    assert "longer than" in reasons["5"] and "too long" in reasons["6"]


def test_a_header_with_too_many_columns_is_refused(app_group, tmp_path):
    header = ",".join(["external_id"] + [f"c{i}" for i in range(600)])
    error, _ = command(tmp_path, f"{header}\nu1{',x' * 600}\n".encode())

    assert error is not None and "more than 500 columns" in error
    assert not Profile.objects.exists()


# Missing columns and rows that are only partly right


def test_a_file_without_external_id_is_refused_at_the_form(app_group, marketer_client, queued):
    response, _ = upload(marketer_client, b"email,first_name\na@example.com,Ana\n")

    assert response.status_code == 200
    assert "the header has no external_id column" in response.content.decode()
    assert not Profile.objects.exists()


def test_rows_with_missing_or_extra_fields_are_rejected_whole(app_group, tmp_path):
    content = (
        b"external_id,email,phone,idfa,ad_tracking_enabled\n"
        b"u1,a@example.com,+16505550100,6D92078A-8246-4BA4-AE5B-76104861E7DC,true\n"
        b"u2,b@example.com\n"  # too few fields
        b"u3,c@example.com,+16505550101,,true,extra\n"  # too many
        b"u4,d@example.com,+16505550102,6D92078A-8246-4BA4-AE5B-76104861E7DD,maybe\n"
        b",e@example.com,+16505550103,,true\n"  # no external_id
    )

    error, report = command(tmp_path, content)

    assert error is None
    assert list(Profile.objects.values_list("external_id", flat=True)) == ["u1"]
    # The rejected u4 had a valid email, phone and IDFA: none of them was written.
    assert not Device.objects.exclude(profile__external_id="u1").exists()
    reasons = {row[0]: row[3] for row in report[1:] if row[1] == "rejected"}
    assert reasons == {
        "3": "expected 5 fields, found 2",
        "4": "expected 5 fields, found 6",
        "5": "ad_tracking_enabled must be true or false",
        "6": "missing external_id",
    }


# Formula injection


FORMULAS = [
    '=HYPERLINK("http://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
]


def test_formula_cells_are_neutralized_in_the_rejected_rows_report(
    app_group, tmp_path, marketer_client, queued
):
    lines = ["external_id,email,ad_tracking_enabled"]
    lines += [f'"{f.replace(chr(34), chr(34) * 2)}",a@example.com,maybe' for f in FORMULAS]
    lines += ['"=1+1",ok@example.com,true']  # a formula-looking id that imports fine
    content = ("\n".join(lines) + "\n").encode()

    error, report = command(tmp_path, content)
    response, user_import = upload(marketer_client, content, name="formulas.csv")
    download = marketer_client.get(reverse("users:user-import-report", args=[user_import.pk]))
    downloaded = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))

    assert error is None
    for rows in (report, downloaded):
        cells = [cell for row in rows[1:] for cell in row]
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells), rows
        ids = [row[4] for row in rows[1:]]
        assert ids == ["'" + f.strip() for f in FORMULAS]
    # The stored value is the value given (shown escaped in HTML, sent hashed or not at all).
    assert Profile.objects.filter(external_id="=1+1").exists()


def test_a_formula_in_a_column_name_is_neutralized_in_the_report(app_group, tmp_path):
    content = b'external_id,"=cmd|x"\nu1,\x00bad\n'

    error, report = command(tmp_path, content)

    assert error is None
    assert report[1][2] == "'=cmd|x"
    assert report[1][3].startswith("'=cmd|x")
    assert not Profile.objects.exists()
