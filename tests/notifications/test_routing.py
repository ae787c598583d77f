"""Who is told (docs/ARCHITECTURE.md B2): integration problems go to the user who connected
TikTok, step problems to the Canvas's creator, and to the app group's Admins when that user is
gone."""

import pytest

from appgroups.models import Membership, Role
from audience_sync.flush import audience_sync_flush
from canvas.models import MatchField
from notifications.models import ProblemKind
from notifications.services import step_problems_open
from partners.tiktok.client import TikTokNotFoundError
from tests.factories import MembershipFactory
from tests.fakes import FakeTikTokClient
from tests.notifications.conftest import connection_for, invalidate, lose_ad_account, told
from tests.plugins.canvases import T0, enter

pytestmark = pytest.mark.django_db


def recipients():
    return sorted(email for email, _, _ in told())


def test_an_invalid_token_notifies_the_user_who_connected_tiktok(app_group, admin, connector):
    invalidate(connection_for(app_group, connector.user))

    assert told() == [("ana@acme.test", "Invalid Token for TikTok", False)]


def test_a_connector_removed_from_the_app_group_is_replaced_by_the_admins(
    app_group, admin, connector, marketer
):
    second_admin = MembershipFactory(app_group=app_group, role=Role.ADMIN, user__email="bo@a.test")
    connection = connection_for(app_group, connector.user)
    Membership.objects.filter(pk=connector.pk).delete()

    invalidate(connection)

    # Admins only: the marketer is not told.
    assert recipients() == sorted([admin.user.email, second_admin.user.email])


def test_a_deleted_or_deactivated_connector_is_replaced_by_the_admins(
    app_group, admin, connector, other_app_group
):
    connection = connection_for(app_group, connector.user)
    connector.user.is_active = False
    connector.user.save()
    invalidate(connection)
    assert recipients() == [admin.user.email]

    other_connector = MembershipFactory(app_group=other_app_group, role=Role.ADMIN)
    other_admin = MembershipFactory(app_group=other_app_group, role=Role.ADMIN)
    other = connection_for(other_app_group, other_connector.user)
    other_connector.user.delete()
    invalidate(other)
    assert told(app_group=other_app_group) == [
        (other_admin.user.email, "Invalid Token for TikTok", False)
    ]


def test_a_member_of_another_app_group_only_is_not_the_connector_here(
    app_group, admin, other_app_group
):
    outsider = MembershipFactory(app_group=other_app_group, role=Role.ADMIN)

    invalidate(connection_for(app_group, outsider.user))

    assert recipients() == [admin.user.email]


def test_lost_ad_account_access_notifies_whoever_connected_the_ad_account(
    app_group, admin, connector
):
    connection = connection_for(app_group, admin.user)
    connection.ad_accounts.update(connected_by=connector.user)

    lose_ad_account(connection)

    assert told() == [("ana@acme.test", "Ad Account Access Attempt on Acme US (7001)", False)]


@pytest.fixture
def not_found_step(sync_step, active_canvas, make_profiles):
    """A step whose TikTok audience does not exist, with one user queued for it."""
    step = sync_step([MatchField.EMAIL])
    enter(active_canvas, make_profiles({"external_id": "a", "email": "a@example.com"}).values())
    return step


def flush_not_found():
    audience_sync_flush(
        now=T0, client=FakeTikTokClient(errors=[TikTokNotFoundError("Not found", code=40007)])
    )


def test_a_step_problem_notifies_the_canvas_creator(active_canvas, not_found_step, admin, marketer):
    active_canvas.created_by = marketer.user
    active_canvas.save()

    flush_not_found()

    assert told() == [("marketer@acme.test", "Audience Does Not Exist For Canvas Journey", False)]


def test_a_step_problem_of_a_canvas_whose_creator_left_goes_to_the_admins(
    active_canvas, not_found_step, admin, marketer
):
    active_canvas.created_by = marketer.user
    active_canvas.save()
    marketer.delete()

    flush_not_found()

    assert recipients() == [admin.user.email]


def test_a_step_problem_of_a_canvas_without_creator_goes_to_the_admins(
    active_canvas, not_found_step, admin, connector, marketer
):
    assert active_canvas.created_by is None

    step_problems_open(kind=ProblemKind.USERS_ERRORING, step_ids=[not_found_step.pk])

    assert recipients() == sorted([admin.user.email, connector.user.email])
    assert {title for _, title, _ in told()} == {"Users Are Erroring Out For Canvas Journey"}
