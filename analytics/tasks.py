from celery import shared_task


@shared_task
def analytics_housekeeping() -> dict:
    """Prune what only recent history needs: minute buckets and old sync-log rows."""
    from django.utils import timezone

    from analytics.services import analytics_housekeeping as housekeeping

    return housekeeping(now=timezone.now())
