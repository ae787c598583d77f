"""Problems and notifications, reached through the product's own services."""

from __future__ import annotations

import pytest

from appgroups.models import Role
from notifications.models import Notification
from partners.models import TikTokConnection
from partners.tiktok.access import tiktok_connection_mark_invalid
from partners.tiktok.client import Advertiser, TikTokAdAccountAccessError, TikTokAuthError
from tests.factories import MembershipFactory, TikTokAdAccountFactory, TikTokConnectionFactory

TOKEN = "unit-test-token"


@pytest.fixture
def connector(app_group):
    """The Admin who connected TikTok (the `admin` fixture is another Admin)."""
    return MembershipFactory(app_group=app_group, role=Role.ADMIN, user__email="ana@acme.test")


def connection_for(app_group, user, advertiser_id="7001") -> TikTokConnection:
    connection = TikTokConnectionFactory(app_group=app_group, connected_by=user, access_token=TOKEN)
    TikTokAdAccountFactory(
        connection=connection, advertiser_id=advertiser_id, name="Acme US", connected_by=user
    )
    return connection


def invalidate(connection, code=40105) -> None:
    """What any TikTok call does when TikTok refuses the token."""
    tiktok_connection_mark_invalid(
        connection=connection, error=TikTokAuthError("Access token is invalid", code=code)
    )


def lose_ad_account(connection, advertiser_id="7001") -> None:
    tiktok_connection_mark_invalid(
        connection=connection,
        error=TikTokAdAccountAccessError("No permission", code=40001),
        advertiser_id=advertiser_id,
    )


class StubTikTok:
    """The token check's one call (/oauth2/advertiser/get/), answering what the test says."""

    def __init__(self, advertiser_ids):
        self.advertiser_ids = advertiser_ids

    def authorized_advertisers(self, *, access_token):
        assert access_token == TOKEN
        return [Advertiser(advertiser_id=i) for i in self.advertiser_ids]


@pytest.fixture
def tiktok_lists(monkeypatch):
    """Make the token check see these advertisers (the token works)."""

    def set_answer(*advertiser_ids):
        monkeypatch.setattr(
            "partners.services.tiktok_client", lambda: StubTikTok(list(advertiser_ids))
        )

    return set_answer


def told(**filters) -> list[tuple[str, str, bool]]:
    """(recipient email, title, resolved) of every notification, oldest first."""
    return [
        (n.user.email, n.title, n.resolved)
        for n in Notification.objects.filter(**filters).select_related("user").order_by("pk")
    ]
