"""The demo `make run` starts with: app group "Demo", an admin, a marketer and demo users."""

import io
import random
import secrets
import uuid

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from appgroups.models import AppGroup, Role, User
from appgroups.services import app_group_create, dashboard_user_add
from users.csv_import.lifecycle import import_csv
from users.models import Profile
from users.services.profiles import profiles_track
from users.tracking import parse_track_body

DEMO_APP_GROUP = "Demo"
DEMO_USERS = [("admin@demo.local", Role.ADMIN), ("marketer@demo.local", Role.MARKETER)]
# End users ("profiles"): enough for a demo Canvas to show Synced and Not Synced users.
DEMO_PROFILES = 3000
# Of them, this many also get two devices through the REST path (an iPhone and a Pixel).
DEMO_PROFILES_WITH_DEVICES = 40


class Command(BaseCommand):
    help = "Seed the demo app group and users (idempotent) and print their credentials."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo is for development: set DJANGO_DEBUG=1.")
        app_group, _ = app_group_create(name=DEMO_APP_GROUP)
        credentials = self._read_credentials()
        for email, role in DEMO_USERS:
            known = email in credentials and User.objects.filter(email=email).exists()
            # Passwords are random per machine and kept in var/; a lost file gets new ones.
            password = credentials[email] if known else secrets.token_urlsafe(12)
            dashboard_user_add(
                email=email, app_group=app_group, role=role, password=None if known else password
            )
            credentials[email] = password
        self._write_credentials(credentials)
        profiles = seed_demo_profiles(app_group)

        self.stdout.write(
            f"Demo app group '{app_group.name}' is ready, with {profiles:,} demo users. Sign in with:"
        )
        for email, role in DEMO_USERS:
            self.stdout.write(f"  {Role(role).label:<9} {email}  password: {credentials[email]}")

    def _read_credentials(self) -> dict[str, str]:
        path = settings.DEMO_CREDENTIALS_FILE
        if not path.exists():
            return {}
        lines = path.read_text().splitlines()
        return dict(line.split(" ", 1) for line in lines if " " in line)

    def _write_credentials(self, credentials: dict[str, str]) -> None:
        path = settings.DEMO_CREDENTIALS_FILE
        path.write_text("".join(f"{email} {pw}\n" for email, pw in credentials.items()))
        path.chmod(0o600)


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


def seed_demo_profiles(app_group: AppGroup) -> int:
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
