"""Two app groups full of objects, for the security sweeps.

Acme (the `app_group` fixture) owns one of everything a URL can name: a Canvas with steps, a
TikTok connection made through OAuth against the sandbox (ad accounts, an audience), a profile,
an import with its report, a REST API key and a notification. Globex has its own Canvas and
connection and an Admin, Marketer and Viewer. Every secret-looking string of Acme's is listed in
`World.acme_strings`, so a page shown to Globex can be searched for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.utils import timezone

from appgroups.models import AppGroup, Membership, RestApiKey, Role
from canvas.models import AudienceSyncSettings, Canvas, Step, StepType, SyncAction
from notifications.models import Notification
from partners.models import TikTokAdAccount, TikTokAudience
from partners.tiktok.access import tiktok_connection_mark_invalid
from partners.tiktok.client import TikTokAdAccountAccessError
from tests.factories import (
    AudienceSyncSettingsFactory,
    CanvasFactory,
    MembershipFactory,
    StepFactory,
    TikTokAudienceFactory,
    profile_track,
    rest_api_key,
)
from tests.tiktok import connect_through_oauth, point_at_sandbox
from users.models import Profile, UserImport

# The redirect URI the sandbox allows for tests that drive the callback with Django's client.
TESTSERVER_CALLBACK = "http://testserver/partners/tiktok/callback/"
ACME_CANVAS = "Acme Canvas 7f3e"
ACME_EMAIL = "ana.secret@acme-customers.test"
ACME_KEY_NAME = "Acme warehouse key 91c2"
ACME_IMPORT = "acme-customers-5b1d.csv"
ACME_AUDIENCE = "Acme Buyers 2c8a"


@dataclass
class World:
    acme: AppGroup
    globex: AppGroup
    acme_admin: Membership
    acme_marketer: Membership
    acme_viewer: Membership
    globex_admin: Membership
    globex_marketer: Membership
    globex_viewer: Membership
    canvas: Canvas
    sync_step: Step
    delay_step: Step
    ad_account: TikTokAdAccount
    audience: TikTokAudience
    profile: Profile
    user_import: UserImport
    api_key: RestApiKey
    notification: Notification
    globex_canvas: Canvas
    globex_step: Step
    globex_ad_account: TikTokAdAccount
    acme_strings: list[str] = field(default_factory=list)

    def member(self, group: str, role: str) -> Membership:
        return getattr(self, f"{group}_{role}")


def _canvas_with_steps(app_group, user, name):
    canvas = CanvasFactory(app_group=app_group, name=name, created_by=user)
    sync = StepFactory(canvas=canvas, step_type=StepType.AUDIENCE_SYNC, name="To TikTok")
    AudienceSyncSettingsFactory(step=sync)  # as services.step_add does
    delay = StepFactory(
        canvas=canvas, step_type=StepType.DELAY, name="Wait", parent=sync, config={"seconds": 60}
    )
    return canvas, sync, delay


@pytest.fixture
def world(settings, tiktok_sandbox, app_group, admin, marketer, viewer, other_app_group) -> World:
    point_at_sandbox(settings, tiktok_sandbox)
    acme, globex = app_group, other_app_group
    ids = tiktok_sandbox.advertiser_ids
    connection = connect_through_oauth(admin, tiktok_sandbox, ids[:2])
    first, second = connection.ad_accounts.order_by("advertiser_id")
    audience = TikTokAudienceFactory(
        ad_account=first, name=ACME_AUDIENCE, draft=True, created_by=admin.user
    )
    canvas, sync, delay = _canvas_with_steps(acme, admin.user, ACME_CANVAS)
    AudienceSyncSettings.objects.filter(step=sync).update(
        ad_account=first, audience=audience, action=SyncAction.ADD, match_fields=["email"],
        creates_audience=True,
    )  # fmt: skip
    # A notification for Acme's admin: the second ad account lost its access.
    tiktok_connection_mark_invalid(
        connection=connection,
        error=TikTokAdAccountAccessError("No permission", code=40001),
        advertiser_id=second.advertiser_id,
    )
    notification = Notification.objects.get(user=admin.user, app_group=acme)
    profile = profile_track(acme, external_id="acme-user-1", email=ACME_EMAIL)
    user_import = UserImport.objects.create(
        app_group=acme, file_name=ACME_IMPORT, created_by=admin.user,
        status=UserImport.Status.DONE, finished_at=timezone.now(),
    )  # fmt: skip
    user_import.issues.create(line=2, rejected=True, column="email", reason="bad", external_id="x")
    api_key, _ = rest_api_key(app_group=acme, permissions=["users.track"], name=ACME_KEY_NAME)

    globex_admin = MembershipFactory(app_group=globex, role=Role.ADMIN)
    globex_connection = connect_through_oauth(globex_admin, tiktok_sandbox, ids[2:3])
    globex_canvas, globex_step, _ = _canvas_with_steps(globex, globex_admin.user, "Globex Canvas")
    return World(
        acme=acme,
        globex=globex,
        acme_admin=admin,
        acme_marketer=marketer,
        acme_viewer=viewer,
        globex_admin=globex_admin,
        globex_marketer=MembershipFactory(app_group=globex, role=Role.MARKETER),
        globex_viewer=MembershipFactory(app_group=globex, role=Role.VIEWER),
        canvas=canvas,
        sync_step=sync,
        delay_step=delay,
        ad_account=first,
        audience=audience,
        profile=profile,
        user_import=user_import,
        api_key=api_key,
        notification=notification,
        globex_canvas=globex_canvas,
        globex_step=globex_step,
        globex_ad_account=globex_connection.ad_accounts.get(),
        acme_strings=[
            ACME_CANVAS,
            ACME_EMAIL,
            ACME_KEY_NAME,
            ACME_IMPORT,
            ACME_AUDIENCE,
            first.name,
            second.name,
            first.advertiser_id,
            notification.title,
            api_key.prefix,
            profile.braze_id,
        ],  # fmt: skip
    )


# Rows that change by merely being looked at or signed in, not by a write of product data.
VOLATILE = {
    "sessions.session": None,
    "core.ratelimitwindow": None,
    # The TikTok limiter's send times: a page that asks TikTok takes a slot (database mode).
    "partners.ratelimiterstate": None,
    "appgroups.user": {"last_login"},
    "appgroups.restapikey": {"last_used_at"},
}


def snapshot() -> dict[str, list[dict]]:
    """Every row of every product table (minus VOLATILE), to compare before and after."""
    rows = {}
    for model in apps.get_models():
        label = model._meta.label_lower
        if label in VOLATILE and VOLATILE[label] is None:
            continue
        skipped = VOLATILE.get(label) or set()
        names = [f.attname for f in model._meta.concrete_fields if f.attname not in skipped]
        rows[label] = list(model.objects.order_by("pk").values(*names))
    return rows


def assert_unchanged(before: dict, after: dict, context: str = "") -> None:
    changed = [label for label in before if before[label] != after.get(label)]
    assert not changed, f"{context}: rows changed in {changed}"


@pytest.fixture
def sandbox(settings, tiktok_sandbox):
    """The sandbox, with the product pointed at it and the test client's callback allowed
    (the `tiktok_sandbox` fixture has already reset it to its seed)."""
    point_at_sandbox(settings, tiktok_sandbox)
    tiktok_sandbox.add_redirect_uri(TESTSERVER_CALLBACK)
    return tiktok_sandbox
