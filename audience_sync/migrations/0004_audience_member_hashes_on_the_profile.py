"""Memberships written before this change hold the hashes they sent in their cells: they become
"hashes sent that the profile may no longer have" (schema 0), which deletion still takes back."""

from django.db import migrations


def cells_are_what_was_sent(apps, schema_editor):
    apps.get_model("audience_sync", "AudienceMember").objects.update(schema=0)


class Migration(migrations.Migration):
    dependencies = [("audience_sync", "0003_audience_member_and_queued_profile")]

    operations = [migrations.RunPython(cells_are_what_was_sent, migrations.RunPython.noop)]
