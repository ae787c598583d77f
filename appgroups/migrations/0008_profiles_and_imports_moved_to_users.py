# Profiles, devices, activity counts and CSV imports moved to the users app (users.models).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('appgroups', '0007_ratelimitwindow_moved_to_core'),
        ('users', '0001_initial'),
        ('journeys', '0007_profile_moved_to_users'),
    ]

    operations = [
        # The tables stay where they are: only Django's idea of which app owns them changes.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='profile',
                    name='app_group',
                ),
                migrations.RemoveField(
                    model_name='profileactivity',
                    name='profile',
                ),
                migrations.RemoveField(
                    model_name='userimport',
                    name='app_group',
                ),
                migrations.RemoveField(
                    model_name='userimport',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='userimportchunk',
                    name='user_import',
                ),
                migrations.RemoveField(
                    model_name='userimportissue',
                    name='user_import',
                ),
                migrations.DeleteModel(
                    name='Device',
                ),
                migrations.DeleteModel(
                    name='Profile',
                ),
                migrations.DeleteModel(
                    name='ProfileActivity',
                ),
                migrations.DeleteModel(
                    name='UserImportChunk',
                ),
                migrations.DeleteModel(
                    name='UserImport',
                ),
                migrations.DeleteModel(
                    name='UserImportIssue',
                ),
            ],
        ),
    ]
