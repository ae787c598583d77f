from django.db import migrations

# Updates that leave every indexed column alone (custom attributes, names, a re-imported row
# with the same email) can then be HOT updates on PostgreSQL: the new row version stays on its
# page and no index is touched. /users/track and CSV re-imports are mostly such updates.
PROFILE_FILLFACTOR = 80


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE appgroups_profile SET (fillfactor = {PROFILE_FILLFACTOR})"
        )


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE appgroups_profile RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("appgroups", "0003_device_ad_tracking_reported_at_and_more")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
