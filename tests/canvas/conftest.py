"""Canvas test helpers: a draft Canvas, a TikTok connection with a fake client (unit tests
only; integration tests use the sandbox), and shortcuts for building flows."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

import pytest

from canvas.models import StepType
from partners.tiktok.client import Audience, TikTokError
from tests.factories import CanvasFactory, TikTokAdAccountFactory, TikTokConnectionFactory

_ids = itertools.count(7250000000000000001)


@dataclass
class FakeAudienceTikTok:
    """The audience endpoints of TikTok, in memory: list (all pages), get, create."""

    audiences: dict[str, list[Audience]] = field(default_factory=dict)
    errors: dict[str, list[TikTokError]] = field(default_factory=dict)
    created: list[tuple[str, str]] = field(default_factory=list)
    is_configured: bool = True
    # Calls per method: what page views and launches cost in TikTok requests.
    calls: Counter = field(default_factory=Counter)

    def add(self, advertiser_id: str, name: str, *, create_time: str = "2020-01-01 00:00:00"):
        audience = Audience(
            audience_id=str(next(_ids)), name=name, audience_type="Partner",
            create_time=create_time,
        )  # fmt: skip
        self.audiences.setdefault(advertiser_id, []).append(audience)
        return audience

    def _raise(self, method: str) -> None:
        self.calls[method] += 1
        queued = self.errors.get(method)
        if queued:
            raise queued.pop(0)

    def list_audiences(self, *, access_token, advertiser_id):
        self._raise("list_audiences")
        return list(self.audiences.get(advertiser_id, []))

    def get_audiences(self, *, access_token, advertiser_id, audience_ids):
        self._raise("get_audiences")
        return [a for a in self.audiences.get(advertiser_id, []) if a.audience_id in audience_ids]

    def create_audience(self, *, access_token, advertiser_id, name):
        self._raise("create_audience")
        from django.utils import timezone

        audience = self.add(
            advertiser_id, name, create_time=timezone.now().strftime("%Y-%m-%d %H:%M:%S")
        )
        self.created.append((advertiser_id, name))
        return audience.audience_id

    def names(self, advertiser_id: str) -> list[str]:
        return [a.name for a in self.audiences.get(advertiser_id, [])]


@pytest.fixture
def fake_tiktok(monkeypatch):
    fake = FakeAudienceTikTok()
    monkeypatch.setattr("partners.tiktok.audiences.tiktok_client", lambda: fake)
    return fake


ADVERTISER_ID = "7230000000000000101"


@pytest.fixture
def connection(app_group, admin):
    """A connected TikTok with one ad account (a made-up token: the fake client ignores it)."""
    return TikTokConnectionFactory(
        app_group=app_group, connected_by=admin.user, tiktok_user_name="Ana",
        access_token="fake-token",
    )  # fmt: skip


@pytest.fixture
def ad_account(connection):
    return TikTokAdAccountFactory(
        connection=connection, advertiser_id=ADVERTISER_ID, name="Northwind US"
    )


@pytest.fixture
def canvas(app_group, marketer):
    return CanvasFactory(app_group=app_group, name="Cart abandoners", created_by=marketer.user)


__all__ = ["StepType"]


# Against the TikTok sandbox (integration and browser tests)

from tests.tiktok import connect_through_oauth, point_at_sandbox  # noqa: E402


@pytest.fixture
def sandbox_connection(settings, tiktok_sandbox, admin):
    """The app group's TikTok, connected through OAuth against the sandbox (a real token)."""
    point_at_sandbox(settings, tiktok_sandbox)
    return connect_through_oauth(admin, tiktok_sandbox, tiktok_sandbox.advertiser_ids[:1])


def sandbox_audiences(tiktok_sandbox, advertiser_id: str) -> list[dict]:
    """The ad account's live audiences, as the sandbox's control API lists them."""
    listed = tiktok_sandbox.control("GET", "/audiences", advertiser_id=advertiser_id)["audiences"]
    return [a for a in listed if not a["deleted"]]
