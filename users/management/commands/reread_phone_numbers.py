"""Re-read an app group's stored phone numbers in its current default country, here and now.

Changing the country on Settings > Workspace Settings does this in the background
(users.phone_renormalize). This command is for numbers stored before a release that did: an app
group whose country was changed then still has numbers read in the old one.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _

from appgroups.models import AppGroup
from core.i18n import number_grouped
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
            raise CommandError(
                _("No app group named '%(name)s'.") % {"name": options["app_group"]}
            ) from exc
        with transaction.atomic():
            job = phone_renormalize.phone_renormalization_start(
                app_group=app_group, previous_country=""
            )
        self.stderr.write(
            _("Re-reading phone numbers of '%(group)s' in %(country)s…")
            % {"group": app_group.name, "country": job.country}
        )
        while True:
            outcome = phone_renormalize.phone_renormalization_run(job_id=job.pk)
            job.refresh_from_db()
            self.stderr.write(
                "  "
                + _(
                    "%(done)s of %(total)s profiles, %(changed)s numbers read differently (%(phase)s)"
                )
                % {
                    "done": number_grouped(job.profiles_done),
                    "total": number_grouped(job.profiles_total or 0),
                    "changed": number_grouped(job.phones_changed),
                    "phase": job.get_phase_display(),
                }
            )
            if outcome == phone_renormalize.Outcome.DONE:
                break
            if job.status == PhoneRenormalization.Status.SUPERSEDED:
                raise CommandError(
                    _("The default country changed again: a newer job re-reads them.")
                )
            if outcome != phone_renormalize.Outcome.MORE:
                time.sleep(WAIT_SECONDS)  # writes begun before, or a worker holding it
        self.stdout.write(
            _(
                "Re-read the phone numbers of %(done)s profiles of '%(group)s' in %(country)s: "
                "%(changed)s read differently."
            )
            % {
                "done": number_grouped(job.profiles_done),
                "group": app_group.name,
                "country": job.country,
                "changed": number_grouped(job.phones_changed),
            }
        )
