"""Canvases, steps, profiles and TikTok connections for engine tests: canvases, steps and
TikTok rows from tests/factories.py, profiles written through the product's own paths. A pytest
plugin (tests/conftest.py), so every test folder has them."""

from __future__ import annotations

import pytest
from django.utils import timezone

from canvas.models import Branch, CanvasState, Step, StepType, SyncAction
from journeys.engine import journeys_advance
from journeys.entries import canvas_entries_create_for
from tests.factories import (
    AudienceSyncSettingsFactory,
    CanvasFactory,
    StepFactory,
    TikTokAdAccountFactory,
    TikTokAudienceFactory,
    TikTokConnectionFactory,
)
from tests.tiktok import connect_through_oauth, point_at_sandbox
from users import identifiers
from users.models import Profile
from users.services.profiles import profiles_track
from users.tracking import parse_track_body

T0 = timezone.now().replace(microsecond=0)


@pytest.fixture
def make_profiles(app_group):
    """Write profiles as /users/track would (normalized and hashed); returns them by external id."""

    def make(*attributes: dict) -> dict[str, Profile]:
        batch = parse_track_body(
            {"attributes": list(attributes)},
            default_country=app_group.default_country,
            now=timezone.now(),
        )
        outcome = profiles_track(app_group=app_group, batch=batch)
        assert not outcome.errors, outcome.errors
        ids = [a["external_id"] for a in attributes]
        return {p.external_id: p for p in Profile.objects.filter(external_id__in=ids)}

    return make


@pytest.fixture
def active_canvas(app_group):
    return CanvasFactory(app_group=app_group, name="Journey", state=CanvasState.ACTIVE)


def add_step(canvas, step_type, *, parent=None, branch=Branch.NEXT, name="", **config) -> Step:
    return StepFactory(
        canvas=canvas, step_type=step_type, parent=parent, branch=branch, name=name,
        config=config,
    )  # fmt: skip


@pytest.fixture
def step():
    return add_step


@pytest.fixture
def tiktok(app_group):
    """A connected TikTok account with one ad account and one audience on TikTok."""
    connection = TikTokConnectionFactory(app_group=app_group, access_token="unit-test-token")
    ad_account = TikTokAdAccountFactory(connection=connection, advertiser_id="7001", name="Acme US")
    audience = TikTokAudienceFactory(
        ad_account=ad_account, name="Buyers", tiktok_audience_id="9001"
    )
    return connection, ad_account, audience


@pytest.fixture
def sync_step(active_canvas, tiktok):
    def make(fields, action=SyncAction.ADD):
        step = add_step(active_canvas, "audience_sync", name="To TikTok")
        AudienceSyncSettingsFactory(
            step=step, audience=tiktok[2], action=action, match_fields=fields
        )
        return step

    return make


def enter(canvas, profiles, now=T0):
    """Enter the profiles by API and let the engine take them through the flow."""
    canvas_entries_create_for(canvas=canvas, recipients=[(p.pk, None) for p in profiles], now=now)
    journeys_advance(now=now)


# Against the TikTok sandbox over HTTP


@pytest.fixture
def sandbox_tiktok(settings, tiktok_sandbox, admin):
    """A real connection (OAuth against the sandbox) and an audience created on TikTok."""
    point_at_sandbox(settings, tiktok_sandbox)
    connection = connect_through_oauth(admin, tiktok_sandbox, tiktok_sandbox.advertiser_ids[:1])
    ad_account = connection.ad_accounts.get()
    audience_id = tiktok_sandbox.create_audience(
        connection.access_token, ad_account.advertiser_id, "Buyers"
    )
    audience = TikTokAudienceFactory(
        ad_account=ad_account, name="Buyers", tiktok_audience_id=audience_id
    )
    return connection, audience


@pytest.fixture
def sync_to_sandbox(active_canvas, sandbox_tiktok):
    def make(fields, action=SyncAction.ADD, parent=None):
        step = add_step(active_canvas, StepType.AUDIENCE_SYNC, parent=parent)
        AudienceSyncSettingsFactory(
            step=step, audience=sandbox_tiktok[1], action=action, match_fields=fields
        )
        return step

    return make


def members(tiktok_sandbox, audience):
    return {k: set(v) for k, v in tiktok_sandbox.members(audience.tiktok_audience_id).items() if v}


def bulk_profiles(app_group, count: int) -> None:
    """Many profiles at once, hashed by the product's normalizer."""
    Profile.objects.bulk_create(
        [
            Profile(
                app_group=app_group,
                braze_id=f"{i:024x}",
                external_id=f"bulk{i}",
                email=f"bulk{i}@example.com",
                email_sha256=identifiers.normalize_email(f"bulk{i}@example.com").sha256,
            )  # fmt: skip
            for i in range(count)
        ],
        batch_size=5000,
    )
