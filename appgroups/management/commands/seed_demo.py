"""The demo `make run` starts with: app group "Demo", an admin and a marketer."""

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from appgroups.models import Role, User
from appgroups.services import app_group_create, dashboard_user_add

DEMO_APP_GROUP = "Demo"
DEMO_USERS = [("admin@demo.local", Role.ADMIN), ("marketer@demo.local", Role.MARKETER)]


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

        self.stdout.write(f"Demo app group '{app_group.name}' is ready. Sign in with:")
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
