"""The demo `make run` starts with (manage.py seed_demo, never anything else): app group
"Demo", an admin and a marketer, 3,000 demo users, and a Draft Canvas that sends its high-value
users to TikTok, so that the first ten minutes show the product's point:

1. the admin connects TikTok (one round trip through the sandbox's consent page);
2. the marketer launches the Canvas;
3. Users Synced rises on its analytics page.

The Canvas's Audience Sync step is saved without an ad account (there is none before TikTok is
connected). When TikTok is connected in the Demo app group, `demo_canvas_complete` gives it the
first ad account and saves its new audience as a draft, as the marketer would in the step
editor. It touches nothing else: only that Canvas, while it is a Draft, in development.
"""

from __future__ import annotations

import io
import logging
import random
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from appgroups.models import AppGroup, Membership, Role
from canvas.models import (
    AudienceSyncSettings,
    Canvas,
    CanvasState,
    EntryType,
    MatchField,
    Step,
    StepType,
    SyncAction,
)
from canvas.services import (
    audience_draft_create,
    canvas_audience_update,
    canvas_create,
    canvas_entry_update,
    step_add,
)
from partners.models import AdAccountStatus, ConnectionStatus, TikTokConnection
from partners.tiktok.client import TikTokError
from users.csv_import.lifecycle import import_csv
from users.models import Profile
from users.services.profiles import profiles_track
from users.tracking import parse_track_body

logger = logging.getLogger(__name__)

DEMO_APP_GROUP = "Demo"
DEMO_USERS = [("admin@demo.local", Role.ADMIN), ("marketer@demo.local", Role.MARKETER)]
# End users ("profiles"): enough for a demo Canvas to show Synced and Not Synced users.
DEMO_PROFILES = 3000
# Of them, this many also get two devices through the REST path (an iPhone and a Pixel).
DEMO_PROFILES_WITH_DEVICES = 40

DEMO_CANVAS = "Demo: high-value users to TikTok"
DEMO_STEP = "Sync to TikTok"
DEMO_AUDIENCE = "Demo high-value users"
DEMO_MATCH_FIELDS = [MatchField.EMAIL, MatchField.PHONE]
# "High-value": the demo users on the gold plan (about a third of them).
DEMO_FILTERS = [{"field": "custom_attribute", "key": "plan", "op": "equals", "value": "gold"}]


def demo_credentials_read() -> dict[str, str]:
    """The demo users' passwords: random per machine, kept in var/ (mode 600)."""
    path = settings.DEMO_CREDENTIALS_FILE
    if not path.exists():
        return {}
    lines = path.read_text().splitlines()
    return dict(line.split(" ", 1) for line in lines if " " in line)


def demo_credentials_write(credentials: dict[str, str]) -> None:
    path = settings.DEMO_CREDENTIALS_FILE
    path.write_text("".join(f"{email} {pw}\n" for email, pw in credentials.items()))
    path.chmod(0o600)


def demo_canvas_seed(*, marketer: Membership) -> Canvas:
    """The Draft demo Canvas, created once (found by name afterwards, whatever became of it):
    Scheduled at launch, for users on the gold plan, one Audience Sync step adding them to a
    new audience by Email and Phone."""
    existing = Canvas.objects.filter(app_group=marketer.app_group, name=DEMO_CANVAS).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        canvas = canvas_create(
            actor=marketer,
            name=DEMO_CANVAS,
            description="Sends the demo users on the gold plan to a TikTok custom audience.",
            tags=["demo"],
        )
        canvas_entry_update(
            actor=marketer, canvas=canvas, entry_type=EntryType.SCHEDULED, schedule_at=None
        )
        canvas_audience_update(
            actor=marketer, canvas=canvas, filters=DEMO_FILTERS, allow_reentry=False
        )
        step = step_add(
            actor=marketer, canvas=canvas, step_type=StepType.AUDIENCE_SYNC, name=DEMO_STEP
        )
        # No ad account yet: TikTok is not connected (demo_canvas_complete fills it in).
        AudienceSyncSettings.objects.update_or_create(
            step=step,
            defaults={"action": SyncAction.ADD, "match_fields": list(DEMO_MATCH_FIELDS)},
        )
    return canvas


def demo_connection_is_ready(connection: TikTokConnection) -> bool:
    """A connected TikTok in the Demo app group, in development: the only case the demo acts on."""
    return (
        settings.DEBUG
        and connection.status == ConnectionStatus.CONNECTED
        and connection.app_group.name == DEMO_APP_GROUP
    )


def demo_canvas_complete(*, connection: TikTokConnection) -> int:
    """TikTok was connected in the Demo app group: the demo Canvas's steps that still have no
    ad account get the first connected one and the new audience, saved as a draft (created on
    TikTok at launch). Returns how many steps were completed."""
    if not demo_connection_is_ready(connection):
        return 0
    account = connection.ad_accounts.filter(status=AdAccountStatus.CONNECTED).order_by("pk").first()
    if account is None:
        return 0
    waiting = Step.objects.filter(
        canvas__app_group_id=connection.app_group_id,
        canvas__name=DEMO_CANVAS,
        canvas__state=CanvasState.DRAFT,
        step_type=StepType.AUDIENCE_SYNC,
        deleted_at__isnull=True,
        audience_sync__ad_account__isnull=True,
    ).select_related("canvas", "audience_sync")
    completed = 0
    for step in waiting:
        actor = Membership.objects.filter(
            app_group_id=connection.app_group_id, user_id=step.canvas.created_by_id
        ).first()
        if actor is None:
            continue
        try:
            audience_draft_create(
                actor=actor,
                step=step,
                ad_account_id=account.pk,
                name=DEMO_AUDIENCE,
                match_fields=step.audience_sync.match_fields or list(DEMO_MATCH_FIELDS),
            )
        except (ValidationError, TikTokError):
            # The marketer can still finish the step in the editor.
            logger.warning("demo canvas step %s not completed", step.pk, exc_info=True)
            continue
        completed += 1
    return completed


def _demo_csv(count: int) -> bytes:
    """The same users on every run (fixed seed): some without email or phone, a few with values
    that cannot be normalized, so Audience Sync has Synced and Not Synced users to show."""
    rng = random.Random(2024)
    first = ["Ana", "Bo", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea"]
    last = ["Lopez", "Smith", "Wang", "Okafor", "Novak", "Silva", "Kim", "Berg", "Rossi", "Sato"]
    countries = ["US", "US", "US", "GB", "FR", "DE", "CA", "BR"]
    out = io.StringIO()
    out.write(
        "external_id,email,phone,first_name,last_name,country,idfa,google_ad_id,"
        "ad_tracking_enabled,plan,visits,newsletter\n"
    )
    for i in range(1, count + 1):
        name_first, name_last = rng.choice(first), rng.choice(last)
        roll = rng.random()
        if roll < 0.10:
            email = phone = ""  # nothing to match on: Not Synced
        else:
            email = f"{name_first}.{name_last}{i}@example.com".lower() if roll < 0.85 else ""
            phone = f"+1 650 555 {i % 10000:04d}" if rng.random() < 0.6 else ""
        if i % 97 == 0:
            email = f"{name_first.lower()}-at-example.com"  # invalid: kept with its reason
        if i % 89 == 0:
            phone = "12345"
        idfa = str(uuid.UUID(int=rng.getrandbits(128))).upper() if rng.random() < 0.35 else ""
        gaid = str(uuid.UUID(int=rng.getrandbits(128))) if rng.random() < 0.30 else ""
        if i % 151 == 0:
            idfa = "00000000-0000-0000-0000-000000000000"  # limited ad tracking
        tracking = rng.choice(["true", "true", "false"]) if (idfa or gaid) else ""
        out.write(
            f"demo-{i:05d},{email},{phone},{name_first},{name_last},{rng.choice(countries)},"
            f"{idfa},{gaid},{tracking},{rng.choice(['free', 'silver', 'gold'])},"
            f"{rng.randint(0, 60)},{rng.choice(['true', 'false'])}\n"
        )
    return out.getvalue().encode()


def demo_profiles_seed(app_group: AppGroup) -> int:
    """Bulk-import the demo users (idempotent on external_id), then give a few of them devices
    through the /users/track path."""
    import_csv(app_group=app_group, stream=io.BytesIO(_demo_csv(DEMO_PROFILES)))
    attributes = [
        {
            "external_id": f"demo-{i:05d}",
            "devices": [
                {
                    "device_id": f"demo-iphone-{i}",
                    "os": "iOS 17.4",
                    "model": "iPhone 15",
                    "idfa": str(uuid.UUID(int=i * 7919)),
                    "ad_tracking_enabled": True,
                },
                {
                    "device_id": f"demo-pixel-{i}",
                    "os": "Android 14",
                    "model": "Pixel 8",
                    "google_ad_id": str(uuid.UUID(int=i * 104729)),
                    "ad_tracking_enabled": i % 3 != 0,
                },
            ],
        }
        for i in range(1, DEMO_PROFILES_WITH_DEVICES + 1)
    ]
    now = timezone.now()
    batch = parse_track_body(
        {"attributes": attributes}, default_country=app_group.default_country, now=now
    )
    profiles_track(app_group=app_group, batch=batch, now=now)
    return Profile.objects.filter(app_group=app_group).count()
