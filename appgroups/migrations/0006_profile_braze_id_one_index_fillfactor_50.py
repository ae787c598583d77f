from django.db import migrations, models

# Half-empty pages: every row of a page can take one new version on that same page, so a sweep
# that updates every profile (a CSV re-import, a /users/track burst over a segment) stays HOT on
# PostgreSQL: no index is written, and the old version is pruned on the page's next visit. At 80
# (0004), a sweep over ~400-byte rows found room for a third of them (docs/PERFORMANCE.md). The
# cost is a heap twice as large; indexes do not change. Existing pages keep their fill until
# rewritten (VACUUM FULL appgroups_profile, or pg_repack).
PROFILE_FILLFACTOR = 50
PREVIOUS_FILLFACTOR = 80


def _set_fillfactor(value: int):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE appgroups_profile SET (fillfactor = {value})")

    return operation


class Migration(migrations.Migration):
    dependencies = [("appgroups", "0005_profile_tables_without_db_constraints")]

    operations = [
        # One unique index on braze_id instead of two (unique=True adds a LIKE index too).
        migrations.AlterField(
            model_name="profile",
            name="braze_id",
            field=models.CharField(editable=False, max_length=24),
        ),
        migrations.AddConstraint(
            model_name="profile",
            constraint=models.UniqueConstraint(
                fields=("braze_id",), name="profile_braze_id_unique"
            ),
        ),
        migrations.RunPython(
            _set_fillfactor(PROFILE_FILLFACTOR), _set_fillfactor(PREVIOUS_FILLFACTOR)
        ),
    ]
