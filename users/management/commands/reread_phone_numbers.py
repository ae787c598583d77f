"""Re-read an app group's stored phone numbers in its current default country, here and now.

Changing the country on Settings > Workspace Settings does this in the background
(users.phone_renormalize). This command is for numbers stored before a release that did: an app
group whose country was changed then still has numbers read in the old one.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from appgroups.models import AppGroup
from users import phone_renormalize
from users.models import PhoneRenormalization

WAIT_SECONDS = 5


class Command(BaseCommand):
    help = (
        "Re-read the phone numbers stored without a country code of an app group in its "
        "default country (as a change of the country on Workspace Settings does), in this "
        "process. Exits non-zero if a newer change of the country supersedes it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--app-group", required=True, help="Name of the app group.")

    def handle(self, *args, **options):
        try:
            app_group = AppGroup.objects.get(name=options["app_group"])
        except AppGroup.DoesNotExist as exc:
            raise CommandError(f"No app group named '{options['app_group']}'.") from exc
        with transaction.atomic():
            job = phone_renormalize.phone_renormalization_start(
                app_group=app_group, previous_country=""
            )
        self.stderr.write(f"Re-reading phone numbers of '{app_group.name}' in {job.country}…")
        while True:
            outcome = phone_renormalize.phone_renormalization_run(job_id=job.pk)
            job.refresh_from_db()
            self.stderr.write(
                f"  {job.profiles_done:,} of {job.profiles_total or 0:,} profiles, "
                f"{job.phones_changed:,} numbers read differently ({job.get_phase_display()})"
            )
            if outcome == phone_renormalize.Outcome.DONE:
                break
            if job.status == PhoneRenormalization.Status.SUPERSEDED:
                raise CommandError("The default country changed again: a newer job re-reads them.")
            if outcome != phone_renormalize.Outcome.MORE:
                time.sleep(WAIT_SECONDS)  # writes begun before, or a worker holding it
        self.stdout.write(
            f"Re-read the phone numbers of {job.profiles_done:,} profiles of "
            f"'{app_group.name}' in {job.country}: {job.phones_changed:,} read differently."
        )
