"""manage.py seed_demo: what `make run` starts with (demo/services.py). Idempotent."""

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from appgroups.models import Membership, Role, User
from appgroups.services import app_group_create, dashboard_user_add
from demo.services import (
    DEMO_APP_GROUP,
    DEMO_CANVAS,
    DEMO_USERS,
    demo_canvas_seed,
    demo_credentials_read,
    demo_credentials_write,
    demo_profiles_seed,
)


class Command(BaseCommand):
    help = (
        "Seed the demo app group, its users and its Draft Canvas (idempotent) and print the "
        "credentials."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo is for development: set DJANGO_DEBUG=1.")
        app_group, _ = app_group_create(name=DEMO_APP_GROUP)
        credentials = demo_credentials_read()
        for email, role in DEMO_USERS:
            known = email in credentials and User.objects.filter(email=email).exists()
            # Passwords are random per machine and kept in var/; a lost file gets new ones.
            password = credentials[email] if known else secrets.token_urlsafe(12)
            dashboard_user_add(
                email=email, app_group=app_group, role=role, password=None if known else password
            )
            credentials[email] = password
        demo_credentials_write(credentials)
        profiles = demo_profiles_seed(app_group)
        marketer = Membership.objects.get(
            app_group=app_group, user__email=DEMO_USERS[1][0], role=Role.MARKETER
        )
        demo_canvas_seed(marketer=marketer)

        self.stdout.write(
            f"Demo app group '{app_group.name}' is ready, with {profiles:,} demo users and the "
            f"Draft Canvas '{DEMO_CANVAS}'. Sign in with:"
        )
        for email, role in DEMO_USERS:
            self.stdout.write(f"  {Role(role).label:<9} {email}  password: {credentials[email]}")
