"""One notification per problem, not one per failed request; a resolved problem says so once;
a problem that comes back notifies again."""

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.db.models import QuerySet

from audience_sync.flush import audience_sync_flush
from canvas.models import MatchField
from notifications import services
from notifications.models import Problem, ProblemKind, ProblemStatus
from notifications.services import step_problems_resolve
from partners.models import AdAccountStatus, ConnectionStatus
from partners.services import tiktok_ad_account_disconnect, tiktok_connection_check
from partners.tiktok.client import TikTokNotFoundError
from tests.fakes import FakeTikTokClient
from tests.notifications.conftest import connection_for, invalidate, lose_ad_account, told
from tests.plugins.canvases import T0, enter

pytestmark = pytest.mark.django_db

INVALID = ("ana@acme.test", "Invalid Token for TikTok", False)
RESOLVED = ("ana@acme.test", "Resolved: Invalid Token for TikTok", True)


def test_many_auth_failures_open_one_problem_with_one_notification(app_group, admin, connector):
    connection = connection_for(app_group, connector.user)

    for _ in range(5):
        invalidate(connection)

    assert told() == [INVALID]
    assert Problem.objects.get().status == ProblemStatus.OPEN


def test_the_token_check_resolves_once_and_a_new_failure_notifies_again(
    app_group, admin, connector, tiktok_lists
):
    connection = connection_for(app_group, connector.user)
    invalidate(connection)
    tiktok_lists("7001")

    tiktok_connection_check(connection=connection)
    tiktok_connection_check(connection=connection)
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.CONNECTED
    assert told() == [INVALID, RESOLVED]

    invalidate(connection)
    invalidate(connection)
    assert told() == [INVALID, RESOLVED, INVALID]
    assert Problem.objects.filter(status=ProblemStatus.OPEN).count() == 1
    assert Problem.objects.filter(status=ProblemStatus.RESOLVED).count() == 1


def test_ad_account_access_lost_and_back_through_the_token_check(
    app_group, admin, connector, tiktok_lists
):
    connection = connection_for(app_group, connector.user)
    tiktok_lists()  # the token works, but TikTok no longer lists the ad account

    tiktok_connection_check(connection=connection)
    lose_ad_account(connection)  # a sync request hitting the same loss: already known
    tiktok_connection_check(connection=connection)
    assert [title for _, title, _ in told()] == ["Ad Account Access Attempt on Acme US (7001)"]

    tiktok_lists("7001")
    tiktok_connection_check(connection=connection)
    assert [title for _, title, _ in told()] == [
        "Ad Account Access Attempt on Acme US (7001)",
        "Resolved: Ad Account Access Attempt on Acme US (7001)",
    ]


def test_disconnecting_an_ad_account_without_access_closes_its_problem_silently(
    app_group, connector
):
    connection = connection_for(app_group, connector.user)
    lose_ad_account(connection)
    account = connection.ad_accounts.get()

    tiktok_ad_account_disconnect(actor=connector, ad_account_id=account.pk)

    account.refresh_from_db()
    assert account.status == AdAccountStatus.DISCONNECTED
    assert Problem.objects.get().status == ProblemStatus.CLOSED
    assert len(told()) == 1  # the opening only


def test_many_failed_batches_open_one_step_problem_and_a_success_resolves_it_once(
    active_canvas, sync_step, make_profiles, marketer
):
    active_canvas.created_by = marketer.user
    active_canvas.save()
    sync_step([MatchField.EMAIL])
    enter(active_canvas, make_profiles({"external_id": "a", "email": "a@example.com"}).values())
    not_found = [TikTokNotFoundError("Not found", code=40007) for _ in range(4)]
    client = FakeTikTokClient(errors=not_found)

    later = T0
    for _ in range(5):  # four failures, then the audience is back and the user goes through
        audience_sync_flush(now=later, client=client)
        later += timedelta(hours=1)

    assert len(client.calls) == 5
    assert [(title, resolved) for _, title, resolved in told()] == [
        ("Audience Does Not Exist For Canvas Journey", False),
        ("Resolved: Audience Does Not Exist For Canvas Journey", True),
    ]

    # Later users hit a deleted audience again: a new problem, a new notification.
    enter(active_canvas, make_profiles({"external_id": "b", "email": "b@example.com"}).values())
    client.errors = [TikTokNotFoundError("Not found", code=40007)]
    audience_sync_flush(now=later, client=client)
    assert [resolved for _, _, resolved in told()] == [False, True, False]


def test_a_second_open_problem_for_the_same_thing_is_refused_by_the_database(app_group, connector):
    connection = connection_for(app_group, connector.user)
    invalidate(connection)
    key = f"connection:{connection.pk}"

    with pytest.raises(IntegrityError):
        Problem.objects.create(
            app_group=app_group, kind=ProblemKind.INVALID_TOKEN, key=key, connection=connection
        )


def test_losing_the_race_to_open_a_problem_tells_nobody_twice(app_group, connector, monkeypatch):
    connection = connection_for(app_group, connector.user)
    invalidate(connection)
    # Another worker's check ran before the first insert committed: it sees nothing open.
    monkeypatch.setattr(QuerySet, "exists", lambda self: False)

    services._problem_open(
        kind=ProblemKind.INVALID_TOKEN,
        key=f"connection:{connection.pk}",
        app_group=app_group,
        connection=connection,
    )

    monkeypatch.undo()
    assert Problem.objects.count() == 1
    assert told() == [INVALID]


def test_a_successful_batch_costs_one_query_when_nothing_is_open(
    active_canvas, sync_step, django_assert_num_queries
):
    step = sync_step([MatchField.EMAIL])

    with django_assert_num_queries(1):
        step_problems_resolve(step_ids=[step.pk])
