"""An uploaded CSV crosses the real broker to a real Celery worker process and is imported."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from users.identifiers import sha256_hex
from users.models import Profile, UserImport, UserImportChunk

IMPORT_TIMEOUT_SECONDS = 60


def wait_until_finished(user_import_id: int, worker) -> UserImport:
    deadline = time.monotonic() + IMPORT_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        user_import = UserImport.objects.get(pk=user_import_id)
        if user_import.is_finished:
            return user_import
        time.sleep(0.2)  # polling another process's progress, not waiting for a guess
    pytest.fail(f"import not finished in {IMPORT_TIMEOUT_SECONDS} s:\n{worker.log()}")


@pytest.mark.django_db(transaction=True)
def test_an_uploaded_csv_is_imported_by_a_worker(celery_worker_process, marketer_client, app_group):
    rows = "".join(f"u{i},user{i}@example.com,+1 650 253 {i:04d}\n" for i in range(2500))
    content = "external_id,email,phone\n" + rows + ",missing@example.com,\nbad,x,\n"

    response = marketer_client.post(
        reverse("users:user-import"),
        {"file": SimpleUploadedFile("users.csv", content.encode(), content_type="text/csv")},
    )

    user_import = wait_until_finished(UserImport.objects.get().pk, celery_worker_process)
    assert response.status_code == 302
    assert user_import.status == "done", user_import.error
    assert (user_import.rows_processed, user_import.rows_imported, user_import.rows_rejected) == (
        2502,
        2501,
        1,
    )
    assert user_import.bytes_processed == user_import.file_size == len(content)
    assert Profile.objects.filter(app_group=app_group).count() == 2501
    assert Profile.objects.get(external_id="u7").email_sha256 == sha256_hex("user7@example.com")
    assert Profile.objects.get(external_id="u7").phone_e164 == "+16502530007"
    # The uploaded file does not outlive its import.
    assert not UserImportChunk.objects.exists()
    assert "users.tasks.user_import_run[" in celery_worker_process.log()

    page = marketer_client.get(response.url).content.decode()
    assert "Import finished" in page and "missing external_id" in page
