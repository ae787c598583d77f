"""A change of the default country crosses the real broker to a real Celery worker process,
which re-reads the stored phone numbers (users.phone_renormalize, users.tasks)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import profile_track
from users.identifiers import sha256_hex
from users.models import Profile

TIMEOUT_SECONDS = 60


def wait_until_re_read(profile, e164: str, worker) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        profile.refresh_from_db()
        if profile.phone_e164 == e164:
            return
        time.sleep(0.2)  # polling another process's progress, not waiting for a guess
    pytest.fail(f"number not re-read in {TIMEOUT_SECONDS} s:\n{worker.log()}")


@pytest.mark.django_db(transaction=True)
def test_a_worker_re_reads_the_numbers_when_the_country_changes(
    celery_worker_process, admin_client, app_group
):
    national = profile_track(app_group, external_id="n", phone="2083661177")
    international = profile_track(app_group, external_id="i", phone="+16502530000")
    for index in range(25):
        profile_track(app_group, external_id=f"x{index}", phone=f"20 8366 {1200 + index}")

    response = admin_client.post(
        reverse("appgroups:settings"), {"name": "Acme", "default_country": "GB"}
    )

    wait_until_re_read(national, "+442083661177", celery_worker_process)
    assert response.status_code == 302
    # The sweep's last chunk moved the job on in the transaction that re-read the numbers.
    job = app_group.phone_renormalizations.get()
    assert job.phase == "settle" or job.status == "done"
    international.refresh_from_db()
    assert national.phone_e164 == "+442083661177"
    assert national.phone_sha256 == sha256_hex("+442083661177")
    assert international.phone_sha256 == sha256_hex("+16502530000")
    assert Profile.objects.filter(phone_e164__startswith="+4420836612").count() == 25
    assert job.profiles_done == job.profiles_total == 27
    assert job.phones_changed == 26
    assert "users.tasks.phone_renormalization_run[" in celery_worker_process.log()

    # The worker now waits for writes begun before the change; the page says where it is.
    page = admin_client.get(reverse("appgroups:settings")).content.decode()
    assert "27 of 27 profiles" in page or "Phone numbers re-read in United Kingdom" in page

    # Once nothing that read the old country can be in flight, the job finishes.
    celery_worker_process.process.terminate()
    celery_worker_process.process.wait(timeout=20)
    from users.phone_renormalize import SETTLE_SECONDS, phone_renormalization_run

    later = timezone.now() + dt.timedelta(seconds=SETTLE_SECONDS + 1)
    assert phone_renormalization_run(job_id=job.pk, now=later) in ("done", "taken")
    job.refresh_from_db()
    assert job.status == "done"
