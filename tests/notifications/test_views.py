"""The notification list, the header's unread count, marking read, and isolation between users
and app groups."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from appgroups.models import Role
from notifications.models import Notification
from partners.tiktok.health import INVALID_TOKEN_ADVICE
from tests.factories import MembershipFactory
from tests.notifications.conftest import connection_for, invalidate, lose_ad_account

pytestmark = pytest.mark.django_db

LIST = reverse("notifications:list")


def unread_badge(content: str) -> int | None:
    found = re.search(r'class="badge bad notifications-count">(\d+)<', content)
    return int(found.group(1)) if found else None


@pytest.fixture
def two_problems(app_group, admin):
    """An invalid token and a lost ad account, both told to `admin` (the connector)."""
    connection = connection_for(app_group, admin.user)
    lose_ad_account(connection)
    invalidate(connection)
    return list(Notification.objects.filter(user=admin.user).order_by("pk"))


def test_the_header_shows_the_unread_count_on_every_page(admin_client, two_problems):
    home = admin_client.get(reverse("canvas:list")).content.decode()

    assert unread_badge(home) == 2
    assert f'href="{LIST}"' in home


def test_the_list_shows_what_happened_what_to_do_and_where(admin_client, two_problems):
    content = admin_client.get(LIST).content.decode()

    assert "Invalid Token for TikTok" in content
    assert "Ad Account Access Attempt on Acme US (7001)" in content
    assert str(INVALID_TOKEN_ADVICE) in content
    assert '<a href="/partners/tiktok/">Open the TikTok partner page</a>' in content
    assert content.count("Mark read</button>") == 2


def test_marking_one_read_lowers_the_count(admin_client, two_problems):
    first, second = two_problems

    response = admin_client.post(reverse("notifications:read", args=[first.pk]))

    assert response.status_code == 302 and response.url == LIST
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None and second.read_at is None
    assert unread_badge(admin_client.get(LIST).content.decode()) == 1


def test_mark_all_read_clears_the_badge(admin_client, two_problems):
    admin_client.post(reverse("notifications:read-all"))

    content = admin_client.get(LIST).content.decode()
    assert unread_badge(content) is None
    assert "Mark read</button>" not in content
    assert "Invalid Token for TikTok" in content  # read, still listed


def test_marking_read_needs_post_and_csrf(admin, two_problems):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin.user)
    url = reverse("notifications:read", args=[two_problems[0].pk])

    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403
    two_problems[0].refresh_from_db()
    assert two_problems[0].read_at is None


def test_another_users_notification_is_not_found(app_group, two_problems, client):
    colleague = MembershipFactory(app_group=app_group, role=Role.ADMIN)
    client.force_login(colleague.user)

    response = client.post(reverse("notifications:read", args=[two_problems[0].pk]))

    assert response.status_code == 404
    two_problems[0].refresh_from_db()
    assert two_problems[0].read_at is None
    content = client.get(LIST).content.decode()
    assert "Invalid Token" not in content
    assert unread_badge(content) is None


def test_another_app_groups_notifications_stay_there(
    admin, admin_client, other_app_group, two_problems
):
    # The same person is also an Admin of Globex, whose TikTok breaks too.
    MembershipFactory(app_group=other_app_group, role=Role.ADMIN, user=admin.user)
    invalidate(connection_for(other_app_group, admin.user))
    globex = Notification.objects.get(app_group=other_app_group)

    # Current app group: Acme (the first one). Globex's notification is not here.
    session = admin_client.session
    session["app_group_id"] = two_problems[0].app_group_id
    session.save()
    assert unread_badge(admin_client.get(LIST).content.decode()) == 2
    assert admin_client.post(reverse("notifications:read", args=[globex.pk])).status_code == 404
    globex.refresh_from_db()
    assert globex.read_at is None

    admin_client.post(reverse("notifications:read-all"))
    globex.refresh_from_db()
    assert globex.read_at is None  # "all" means all of this app group's

    # In Globex, only Globex's.
    admin_client.post(reverse("appgroups:switch"), {"app_group": other_app_group.pk, "next": LIST})
    content = admin_client.get(LIST).content.decode()
    assert unread_badge(content) == 1
    assert "Ad Account Access" not in content


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(LIST)

    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_an_empty_list_says_so(viewer_client):
    content = viewer_client.get(LIST).content.decode()

    assert "No notifications." in content
    assert unread_badge(content) is None
