"""Problems raised by the TikTok sandbox over HTTP: a revoked token found by the beat check and
cleared by reconnecting; a deleted audience found by the flush, users erroring at the deadline,
and both resolved when users reach TikTok again."""

from datetime import timedelta

import pytest

from audience_sync.flush import audience_sync_flush
from canvas.models import MatchField
from notifications.models import Problem, ProblemStatus
from partners.models import ConnectionStatus
from partners.services import tiktok_disconnect
from partners.tasks import tiktok_connections_check
from tests.notifications.conftest import told
from tests.plugins.canvases import T0, enter
from tests.tiktok import connect_through_oauth

pytestmark = pytest.mark.django_db


def test_a_revoked_token_notifies_the_connector_and_reconnecting_resolves_it(
    tiktok_sandbox, sandbox_tiktok, admin, marketer, mailoutbox, django_capture_on_commit_callbacks
):
    connection, _ = sandbox_tiktok
    tiktok_sandbox.revoke(connection.access_token)

    with django_capture_on_commit_callbacks(execute=True):
        tiktok_connections_check()  # the beat task
        tiktok_connections_check()
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.INVALID
    assert told() == [("admin@acme.test", "Invalid Token for TikTok", False)]
    assert [e.to for e in mailoutbox] == [["admin@acme.test"]]

    with django_capture_on_commit_callbacks(execute=True):
        connect_through_oauth(admin, tiktok_sandbox, tiktok_sandbox.advertiser_ids[:1])

    assert told()[1:] == [("admin@acme.test", "Resolved: Invalid Token for TikTok", True)]
    assert mailoutbox[-1].subject == "[Acme] Resolved: Invalid Token for TikTok"
    assert not Problem.objects.filter(status=ProblemStatus.OPEN).exists()


def test_a_deleted_audience_and_users_erroring_are_told_to_the_creator_then_resolved(
    tiktok_sandbox, sandbox_tiktok, sync_to_sandbox, active_canvas, make_profiles, marketer
):
    connection, audience = sandbox_tiktok
    active_canvas.created_by = marketer.user
    active_canvas.save()
    sync_to_sandbox([MatchField.EMAIL])
    enter(active_canvas, make_profiles({"external_id": "a", "email": "a@example.com"}).values())
    tiktok_sandbox.delete_audience(audience.tiktok_audience_id)

    audience_sync_flush(now=T0)
    audience_sync_flush(now=T0 + timedelta(hours=1))  # retried, still not found
    audience_sync_flush(now=T0 + timedelta(hours=13))  # the retry window ends

    assert told() == [
        ("marketer@acme.test", "Audience Does Not Exist For Canvas Journey", False),
        ("marketer@acme.test", "Users Are Erroring Out For Canvas Journey", False),
    ]

    # The marketer picks a new audience; the next users reach TikTok.
    audience.tiktok_audience_id = tiktok_sandbox.create_audience(
        connection.access_token, audience.ad_account.advertiser_id, "Buyers again"
    )
    audience.save()
    later = T0 + timedelta(hours=14)
    enter(
        active_canvas,
        make_profiles({"external_id": "b", "email": "b@example.com"}).values(),
        now=later,
    )
    audience_sync_flush(now=later)

    assert sorted(title for _, title, resolved in told() if resolved) == [
        "Resolved: Audience Does Not Exist For Canvas Journey",
        "Resolved: Users Are Erroring Out For Canvas Journey",
    ]
    assert not Problem.objects.filter(status=ProblemStatus.OPEN).exists()


def test_disconnect_and_reconnect_the_braze_fix_resolves_the_invalid_token_once(
    tiktok_sandbox, sandbox_tiktok, admin
):
    connection, audience = sandbox_tiktok
    tiktok_sandbox.revoke(connection.access_token)
    tiktok_connections_check()
    assert len(told()) == 1

    tiktok_disconnect(actor=admin)
    # Still a problem while disconnected (nothing syncs), and nothing more to say yet.
    assert Problem.objects.get(key=f"connection:{connection.pk}").status == ProblemStatus.OPEN
    assert len(told()) == 1

    connect_through_oauth(admin, tiktok_sandbox, [audience.ad_account.advertiser_id])

    assert told() == [
        ("admin@acme.test", "Invalid Token for TikTok", False),
        ("admin@acme.test", "Resolved: Invalid Token for TikTok", True),
    ]
