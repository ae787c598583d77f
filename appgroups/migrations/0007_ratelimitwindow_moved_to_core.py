# The fixed-window rate limiter's table moved to the core app (core.models.RateLimitWindow).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0001_initial'),
        ('appgroups', '0006_profile_braze_id_one_index_fillfactor_50'),
    ]

    operations = [
        # The table stays where it is: only Django's idea of which app owns it changes.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name='RateLimitWindow',
                ),
            ],
        ),
    ]
