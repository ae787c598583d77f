import os
from getpass import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from appgroups.models import AppGroup, Role
from appgroups.services import dashboard_user_add

PASSWORD_ENV_VAR = "DASHBOARD_USER_PASSWORD"


class Command(BaseCommand):
    help = (
        "Give a dashboard user a role in an app group, creating the user if needed. "
        f"The password comes from --password, else ${PASSWORD_ENV_VAR}, else a prompt "
        "(existing users keep theirs when none is given and stdin is not a terminal)."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--app-group", required=True, help="The app group's exact name.")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password", help=f"Prefer ${PASSWORD_ENV_VAR}: argv is visible.")

    def handle(self, *args, email, app_group, role, password, **options):
        group = AppGroup.objects.filter(name=app_group).first()
        if group is None:
            raise CommandError(
                _(
                    "No app group named '%(name)s'. Create it first: "
                    'python manage.py create_app_group "%(name)s"'
                )
                % {"name": app_group}
            )
        password = password or os.environ.get(PASSWORD_ENV_VAR) or self._prompt(email)
        try:
            user, created = dashboard_user_add(
                email=email, app_group=group, role=role, password=password
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if created:
            line = _("Created %(email)s: %(role)s of '%(group)s'.")
        else:
            line = _("Updated %(email)s: %(role)s of '%(group)s'.")
        self.stdout.write(
            line % {"email": user.email, "role": Role(role).label, "group": group.name}
        )

    def _prompt(self, email: str) -> str | None:
        if not self.stdin_is_terminal():
            return None
        password = getpass(_("Password for %(email)s: ") % {"email": email})
        if password != getpass(_("Password (again): ")):
            raise CommandError(_("The two passwords differ."))
        return password

    @staticmethod
    def stdin_is_terminal() -> bool:
        import sys

        return sys.stdin.isatty()
