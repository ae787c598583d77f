from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from appgroups.services import app_group_create


class Command(BaseCommand):
    help = "Create an app group (Braze workspace). Does nothing if it already exists."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The app group's name, e.g. 'Acme Production'.")

    def handle(self, *args, name, **options):
        try:
            app_group, created = app_group_create(name=name)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if created:
            line = _("Created app group '%(name)s' (id %(id)s).")
        else:
            line = _("Already exists: app group '%(name)s' (id %(id)s).")
        self.stdout.write(line % {"name": app_group.name, "id": app_group.id})
