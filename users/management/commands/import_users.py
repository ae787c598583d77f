"""Import users from a CSV file, as Audience > Import Users does, with progress on stderr."""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from appgroups.models import AppGroup
from users.csv_import.lifecycle import ImportProgress, report_rows, user_import_run
from users.models import UserImport

# Seconds between progress lines when stderr is not a terminal.
LOG_INTERVAL_SECONDS = 5


def _number(value, decimals=None) -> str:
    return number_format(value, decimals, force_grouping=True)


class Command(BaseCommand):
    help = (
        "Import users from a CSV file into an app group (columns: external_id, email, phone, "
        "first_name, last_name, idfa, google_ad_id, ad_tracking_enabled, custom attributes). "
        "Exits non-zero when the file cannot be imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path of the CSV file (UTF-8, header row first).")
        parser.add_argument("--app-group", required=True, help="Name of the app group.")
        parser.add_argument(
            "--report", help="Write rejected rows and unusable values to this CSV file."
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(_("No such file: %(path)s") % {"path": path})
        try:
            app_group = AppGroup.objects.get(name=options["app_group"])
        except AppGroup.DoesNotExist as exc:
            raise CommandError(
                _("No app group named '%(name)s'.") % {"name": options["app_group"]}
            ) from exc
        size = path.stat().st_size
        user_import = UserImport.objects.create(
            app_group=app_group, file_name=path.name[:255], file_size=size
        )
        started = time.monotonic()
        last_log = 0.0
        interactive = sys.stderr.isatty()

        def show(progress: ImportProgress) -> None:
            nonlocal last_log
            elapsed = max(time.monotonic() - started, 1e-9)
            percent = 100 * progress.bytes_processed / size if size else 100
            line = _("%(percent)s%% %(rows)s rows (%(rate)s/s), %(rejected)s rejected") % {
                "percent": f"{percent:5.1f}",
                "rows": _number(progress.rows_processed),
                "rate": _number(round(progress.rows_processed / elapsed)),
                "rejected": _number(progress.rows_rejected),
            }
            if interactive:
                bar = "#" * int(percent / 5)
                self.stderr.write(f"\r[{bar:<20}] {line}", ending="")
            elif time.monotonic() - last_log >= LOG_INTERVAL_SECONDS:
                self.stderr.write(line)
                last_log = time.monotonic()

        with path.open("rb") as stream:
            finished = user_import_run(
                user_import_id=user_import.pk, stream=stream, on_progress=show
            )
        if interactive:
            self.stderr.write("")
        elapsed = time.monotonic() - started
        if finished is None or finished.status != UserImport.Status.DONE:
            error = finished.error_text if finished else _("the import could not start")
            raise CommandError(
                _("%(file)s was not imported: %(error)s") % {"file": path.name, "error": error}
            )
        issues = list(finished.issues.order_by("line", "id"))
        if options["report"]:
            with open(options["report"], "w", newline="", encoding="utf-8") as out:
                csv.writer(out).writerows(report_rows(issues))
        for issue in [i for i in issues if i.rejected][:20]:
            self.stderr.write(
                "  "
                + _("line %(line)s: %(reason)s") % {"line": issue.line, "reason": issue.reason_text}
            )
        self.stdout.write(
            _(
                "Imported %(imported)s of %(rows)s rows into '%(group)s' in %(seconds)s s; "
                "%(rejected)s rejected, %(unusable)s values kept but unusable for matching."
            )
            % {
                "imported": _number(finished.rows_imported),
                "rows": _number(finished.rows_processed),
                "group": app_group.name,
                "seconds": _number(elapsed, 1),
                "rejected": _number(finished.rows_rejected),
                "unusable": _number(finished.values_unusable),
            }
        )
