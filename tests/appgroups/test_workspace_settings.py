"""Settings > Workspace Settings: the default country, and the re-reading of stored phone
numbers that a change of it starts (users.phone_renormalize), as the page shows it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from appgroups.forms import AppGroupSettingsForm
from tests.factories import profile_track

SETTINGS_URL = reverse("appgroups:settings")
SYNCED_WARNING = "Users already synced to TikTok keep their old phone hash in TikTok's audiences"


def page(client, **headers) -> str:
    response = client.get(SETTINGS_URL, headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def latest_job(app_group):
    return app_group.phone_renormalizations.latest("created_at", "id")


def run(job, **kwargs):
    from users.phone_renormalize import phone_renormalization_run

    return phone_renormalization_run(job_id=job.pk, **kwargs)


def test_the_default_country_help_says_synced_users_keep_their_old_hash(admin_client):
    help_text = AppGroupSettingsForm().fields["default_country"].help_text

    assert "without a country code are read in this country" in help_text
    assert SYNCED_WARNING in help_text
    assert SYNCED_WARNING.replace("'", "&#x27;") in page(admin_client)


def test_the_country_list_names_the_countries(admin_client):
    html = page(admin_client)

    assert '<option value="DE">DE – Germany (+49)</option>' in html
    assert '<option value="US" selected>US – United States (+1)</option>' in html


def test_changing_the_country_shows_the_re_reading_until_it_is_done(admin_client, app_group):
    for index, raw in enumerate(["2083661177", "+16502530000", "6502530000", "", "07400123456"]):
        profile_track(app_group, external_id=f"u{index}", phone=raw or None)

    response = admin_client.post(SETTINGS_URL, {"name": "Acme", "default_country": "GB"})

    assert response.status_code == 302
    job = latest_job(app_group)
    assert (job.previous_country, job.country, job.status) == ("US", "GB", "queued")
    html = page(admin_client)
    assert "Re-reading phone numbers in United Kingdom: waiting for a worker." in html
    assert 'hx-trigger="every 2s"' in html and 'hx-select="#workspace-notices"' in html

    # One chunk of two profile ids, then the page (as htmx polls it).
    now = timezone.now()
    assert run(job, now=now, chunk_profiles=2, run_seconds=0) == "more"
    html = page(admin_client, HX_Request="true")
    assert "Re-reading phone numbers in United Kingdom: 2 of 5 profiles." in html
    assert "some numbers typed without a country code are still read in United States" in html
    assert SYNCED_WARNING.replace("'", "&#x27;") in html
    assert '<progress max="100" value="40"' in html

    assert run(job, now=now) == "wait"
    assert "5 of 5 profiles; checking the numbers written while the country changed" in page(
        admin_client
    )

    assert run(job, now=now + dt.timedelta(minutes=2)) == "done"
    html = page(admin_client)
    assert (
        "Phone numbers re-read in United Kingdom: 5 profiles checked, 3 numbers read differently."
        in html
    )
    assert SYNCED_WARNING.replace("'", "&#x27;") in html
    assert "hx-trigger" not in html.split('id="workspace-notices"')[1].split(">")[0]


def test_saving_the_same_country_starts_nothing(admin_client, app_group):
    response = admin_client.post(SETTINGS_URL, {"name": "Acme Prod", "default_country": "US"})

    assert response.status_code == 302
    assert not app_group.phone_renormalizations.exists()
    assert "Re-reading phone numbers" not in page(admin_client)


def test_a_second_change_supersedes_the_first(admin_client, app_group):
    admin_client.post(SETTINGS_URL, {"name": "Acme", "default_country": "GB"})
    admin_client.post(SETTINGS_URL, {"name": "Acme", "default_country": "DE"})

    first, second = app_group.phone_renormalizations.order_by("id")
    assert (first.status, second.status) == ("superseded", "queued")
    assert (second.previous_country, second.country) == ("GB", "DE")
    assert "Re-reading phone numbers in Germany" in page(admin_client)


def test_a_stalled_re_reading_is_woken_while_the_page_is_open(admin_client, app_group, monkeypatch):
    from users import tasks

    woken = []
    monkeypatch.setattr(tasks, "_phone_renormalization_queue", woken.append)
    admin_client.post(SETTINGS_URL, {"name": "Acme", "default_country": "GB"})
    job = latest_job(app_group)

    page(admin_client)
    assert woken == []  # queued just now: its message is on its way

    # Its worker died holding the claim three minutes ago.
    old = timezone.now() - dt.timedelta(minutes=3)
    type(job).objects.filter(pk=job.pk).update(
        status="running", claim_token=7, heartbeat_at=old, created_at=old
    )
    page(admin_client)
    page(admin_client)

    assert woken == [job.pk]  # once, not at every refresh
    job.refresh_from_db()
    assert job.claim_token is None


@pytest.mark.parametrize("who", ["viewer_client", "marketer_client"])
def test_only_admins_change_the_country(request, who, app_group):
    client = request.getfixturevalue(who)

    response = client.post(SETTINGS_URL, {"name": "Acme", "default_country": "GB"})

    assert response.status_code == 403
    assert not app_group.phone_renormalizations.exists()
