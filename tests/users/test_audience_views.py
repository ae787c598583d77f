"""Audience > Users and Import Users pages: roles, app-group scoping, search, upload, report."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from tests.factories import ProfileFactory, profile_track
from users.csv_import.lifecycle import user_import_run
from users.models import Profile, UserImport, UserImportChunk, UserImportIssue
from users.selectors.profiles import PAGE_SIZE

USERS_URL = reverse("users:user-list")
IMPORT_URL = reverse("users:user-import")


def csv_upload(text: str | bytes, name: str = "users.csv") -> SimpleUploadedFile:
    data = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type="text/csv")


@pytest.mark.django_db
def test_every_role_sees_users_and_profiles(viewer_client, app_group):
    profile = profile_track(
        app_group,
        external_id="u1",
        email="ana@example.com",
        phone="nope",
        vip=True,
        devices=[{"device_id": "iphone", "idfa": "6D92078A-8246-4BA4-AE5B-76104861E7DC"}],
    )

    listing = viewer_client.get(USERS_URL)
    detail = viewer_client.get(reverse("users:user-detail", args=[profile.id]))

    assert listing.status_code == 200
    assert "u1" in listing.content.decode()
    page = detail.content.decode()
    assert detail.status_code == 200
    assert "ana@example.com" in page and "not a valid phone number" in page
    assert "iphone" in page and "6D92078A-8246-4BA4-AE5B-76104861E7DC" in page
    assert "<code>vip</code></td><td>true</td>" in page
    assert "This user has not entered any Canvas yet." in page
    # A Viewer is not offered the import.
    assert 'href="/users/import/"' not in listing.content.decode().split("<main")[1]


@pytest.mark.django_db
def test_another_groups_profile_answers_404(admin_client, other_app_group):
    theirs = ProfileFactory(app_group=other_app_group)

    response = admin_client.get(reverse("users:user-detail", args=[theirs.id]))

    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ["u1", " ANA@example.com ", "(650) 253-0000", "+16502530000", "650.253.0000"],
)
def test_search_finds_a_user_by_external_id_email_or_phone(admin_client, app_group, query):
    profile_track(app_group, external_id="u1", email="ana@example.com", phone="+1 650 253 0000")
    profile_track(app_group, external_id="u2", email="bo@example.com")

    response = admin_client.post(USERS_URL, {"q": query})

    assert [p.external_id for p in response.context["profiles"]] == ["u1"]


@pytest.mark.django_db
def test_search_never_shows_another_groups_users(admin_client, app_group, other_app_group):
    profile_track(other_app_group, external_id="u1", email="ana@example.com")

    for query in ["u1", "ana@example.com"]:
        response = admin_client.post(USERS_URL, {"q": query})
        assert response.context["profiles"] == []
        assert "No user matches" in response.content.decode()


@pytest.mark.django_db
def test_search_by_braze_id(admin_client, app_group):
    profile = profile_track(app_group, email="ana@example.com")

    response = admin_client.post(USERS_URL, {"q": profile.braze_id})

    assert response.context["profiles"] == [profile]


@pytest.mark.django_db
def test_the_list_pages_newest_first_without_counting(admin_client, app_group):
    for _ in range(PAGE_SIZE + 3):
        ProfileFactory(app_group=app_group)
    # The SQL itself (Django's query log is emptied at each request's start, so a
    # CaptureQueriesContext around a test-client request keeps the count but not the text).
    sqls = []

    def record(execute, sql, params, many, context):
        sqls.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        first = admin_client.get(USERS_URL)
    ids = [p.id for p in first.context["profiles"]]
    second = admin_client.get(USERS_URL, {"before": first.context["next_before"]})

    assert ids == sorted(ids, reverse=True) and len(ids) == PAGE_SIZE
    assert len(second.context["profiles"]) == 3
    assert second.context["next_before"] is None
    # 9 at most, the header's unread-notification count among them.
    assert len(sqls) <= 9, sqls
    # Keyset pagination: no COUNT(*) and no OFFSET over millions of rows.
    profile_queries = [sql for sql in sqls if "appgroups_profile" in sql]
    assert profile_queries
    assert not any("COUNT(" in sql or "OFFSET" in sql for sql in profile_queries), profile_queries


@pytest.mark.django_db
def test_viewer_gets_limited_access_for_import(viewer_client):
    get = viewer_client.get(IMPORT_URL)
    post = viewer_client.post(IMPORT_URL, {"file": csv_upload("external_id\nu1\n")})

    assert get.status_code == post.status_code == 403
    assert "Limited access" in get.content.decode()
    assert not UserImport.objects.exists()


@pytest.mark.django_db
def test_marketer_uploads_a_csv_and_its_import_is_queued(
    marketer_client, app_group, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(
        "users.tasks.user_import_run.delay", lambda import_id: queued.append(import_id)
    )
    content = "external_id,email\n" + "".join(f"u{i},u{i}@example.com\n" for i in range(100))

    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(IMPORT_URL, {"file": csv_upload(content)})

    user_import = UserImport.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("users:user-import-detail", args=[user_import.id])
    assert queued == [user_import.id]
    assert (user_import.status, user_import.file_name, user_import.file_size) == (
        "queued",
        "users.csv",
        len(content),
    )
    stored = b"".join(c.data for c in UserImportChunk.objects.order_by("seq"))
    assert bytes(stored) == content.encode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", "The submitted file is empty."),
        (b"email\na@example.com\n", "the header has no external_id column"),
        (b"external_id,\xff\xfe\n", "not UTF-8"),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_at_the_form(marketer_client, content, error):
    response = marketer_client.post(IMPORT_URL, {"file": csv_upload(content)})

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not UserImport.objects.exists()
    assert not UserImportChunk.objects.exists()


@pytest.mark.django_db
def test_import_page_shows_progress_then_the_report(marketer_client, app_group, marketer):
    user_import = UserImport.objects.create(
        app_group=app_group, file_name="u.csv", created_by=marketer.user
    )
    url = reverse("users:user-import-detail", args=[user_import.id])

    running = marketer_client.get(url, headers={"HX-Request": "true"})
    assert 'hx-trigger="every 1s"' in running.content.decode()
    assert "<html" not in running.content.decode()  # the panel alone, for htmx

    user_import_run(
        user_import_id=user_import.id,
        stream=io.BytesIO(b"external_id,email\nu1,a@example.com\n,b@example.com\nu3,bad\n"),
    )
    done = marketer_client.get(url)
    page = done.content.decode()
    assert "Import finished" in page and "hx-trigger" not in page
    assert "missing external_id" in page and "not an email address" in page

    report = marketer_client.get(reverse("users:user-import-report", args=[user_import.id]))
    assert report["Content-Type"].startswith("text/csv")
    assert b"".join(report.streaming_content).decode().splitlines() == [
        "line,status,column,reason,external_id",
        "3,rejected,external_id,missing external_id,",
        '4,"imported, value unusable",email,not an email address,u3',
    ]


@pytest.mark.django_db
def test_another_groups_import_answers_404(marketer_client, other_app_group):
    theirs = UserImport.objects.create(app_group=other_app_group, file_name="x.csv")
    UserImportIssue.objects.create(user_import=theirs, line=2, reason="secret reason")

    for name in ("users:user-import-detail", "users:user-import-report"):
        assert marketer_client.get(reverse(name, args=[theirs.id])).status_code == 404


@pytest.mark.django_db
def test_profile_pages_show_what_the_hashes_are_missing(admin_client, app_group):
    profile = Profile.objects.create(
        app_group=app_group,
        braze_id="0" * 24,
        external_id="u9",
        email="x",
        email_invalid_reason="not an email address",
    )

    page = admin_client.get(reverse("users:user-detail", args=[profile.id])).content.decode()

    assert "not an email address" in page
    assert "No value" in page


def test_the_search_is_posted_so_identifiers_stay_out_of_urls_and_logs(admin_client, app_group):
    page = admin_client.get(USERS_URL).content.decode()

    assert '<form class="search-form panel" method="post"' in page
    # A query string is ignored: nothing is searched by URL.
    assert admin_client.get(USERS_URL, {"q": "ana@example.com"}).context["query"] == ""
