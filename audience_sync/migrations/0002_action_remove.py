# Queue rows take the product's action words (canvas.models.SyncAction: add, remove); only the
# TikTok client speaks TikTok's "delete".

from django.db import migrations

TABLE = "journeys_audiencesyncitem"


class Migration(migrations.Migration):

    dependencies = [
        ('audience_sync', '0001_initial'),
    ]

    operations = [
        migrations.RunSQL(
            f"UPDATE {TABLE} SET action = 'remove' WHERE action = 'delete'",
            f"UPDATE {TABLE} SET action = 'delete' WHERE action = 'remove'",
        ),
    ]
