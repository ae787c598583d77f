"""Emails go through Django's email backend after the commit, one per recipient, with Braze's
wording and a link to where to fix it, and never a token or an end user's identifiers."""

import hashlib

import pytest

from appgroups.models import Role
from audience_sync.flush import audience_sync_flush
from canvas.models import MatchField
from notifications import services
from partners.tiktok.client import TikTokNotFoundError
from partners.tiktok.health import INVALID_TOKEN_ADVICE
from tests.factories import MembershipFactory
from tests.fakes import FakeTikTokClient
from tests.notifications.conftest import TOKEN, connection_for, invalidate
from tests.plugins.canvases import T0, enter

pytestmark = pytest.mark.django_db


def test_an_invalid_token_is_emailed_to_the_connector_after_the_commit(
    app_group, admin, connector, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.DASHBOARD_URL = "https://dash.example.test"
    connection = connection_for(app_group, connector.user)

    with django_capture_on_commit_callbacks(execute=True):
        invalidate(connection)
        assert mailoutbox == []  # nothing leaves before the commit

    (email,) = mailoutbox
    assert email.to == ["ana@acme.test"]
    assert email.subject == "[Acme] Invalid Token for TikTok"
    assert "TikTok code 40105" in email.body
    assert f"What to do: {INVALID_TOKEN_ADVICE}" in email.body
    assert "https://dash.example.test/partners/tiktok/" in email.body
    assert TOKEN not in email.body and TOKEN not in email.subject


def test_admins_get_one_email_each(
    app_group, admin, connector, mailoutbox, django_capture_on_commit_callbacks
):
    other_admin = MembershipFactory(app_group=app_group, role=Role.ADMIN, user__email="bo@a.test")
    connection = connection_for(app_group, None)

    with django_capture_on_commit_callbacks(execute=True):
        invalidate(connection)

    assert sorted(tuple(e.to) for e in mailoutbox) == sorted(
        [(admin.user.email,), (connector.user.email,), (other_admin.user.email,)]
    )


def test_a_rolled_back_problem_sends_no_email(
    app_group, connector, mailoutbox, django_capture_on_commit_callbacks
):
    connection = connection_for(app_group, connector.user)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invalidate(connection)

    assert len(callbacks) == 1  # registered for the commit, not run
    assert mailoutbox == []


def test_a_step_problem_email_names_the_canvas_and_no_end_user(
    active_canvas,
    sync_step,
    make_profiles,
    marketer,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    active_canvas.created_by = marketer.user
    active_canvas.save()
    sync_step([MatchField.EMAIL])
    enter(
        active_canvas,
        make_profiles({"external_id": "u-1", "email": "private.person@example.com"}).values(),
    )
    client = FakeTikTokClient(errors=[TikTokNotFoundError("Audience not found", code=40007)])

    with django_capture_on_commit_callbacks(execute=True):
        audience_sync_flush(now=T0, client=client)

    (email,) = mailoutbox
    assert email.to == ["marketer@acme.test"]
    assert email.subject == "[Acme] Audience Does Not Exist For Canvas Journey"
    assert "pick or create another audience" in email.body
    assert f"/canvas/{active_canvas.pk}/analytics/" in email.body
    digest = hashlib.sha256(b"private.person@example.com").hexdigest()
    for secret in ("private.person@example.com", digest, "u-1", "unit-test-token"):
        assert secret not in email.body


def test_a_failing_mail_server_is_logged_and_keeps_the_in_app_notification(
    app_group, connector, settings, django_capture_on_commit_callbacks, caplog
):
    settings.EMAIL_BACKEND = "tests.notifications.test_emails.BrokenBackend"
    connection = connection_for(app_group, connector.user)

    with django_capture_on_commit_callbacks(execute=True):
        invalidate(connection)

    assert connector.user.notifications.count() == 1
    assert "notification emails failed count=1 error=ConnectionRefusedError" in caplog.text
    assert "ana@acme.test" not in caplog.text


class BrokenBackend:
    def __init__(self, **kwargs):
        assert kwargs["timeout"] == services.EMAIL_TIMEOUT_SECONDS

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")


def test_each_recipient_reads_the_email_and_the_notification_in_their_language(
    app_group, admin, connector, mailoutbox, django_capture_on_commit_callbacks
):
    # Issue 16: one Admin chose German in the user menu, the other chose nothing; with no
    # connector on record, every Admin is told.
    connector.user.language = "de"
    connector.user.save(update_fields=["language"])
    connection = connection_for(app_group, None)

    with django_capture_on_commit_callbacks(execute=True):
        invalidate(connection)

    by_recipient = {tuple(email.to): email for email in mailoutbox}
    german = by_recipient[(connector.user.email,)]
    assert german.subject == "[Acme] Ungültiges Token für TikTok"
    assert "TikTok code 40105" not in german.body and "40105" in german.body
    english = by_recipient[(admin.user.email,)]
    assert english.subject == "[Acme] Invalid Token for TikTok"
    (notification,) = connector.user.notifications.all()
    assert notification.title == "Ungültiges Token für TikTok"
