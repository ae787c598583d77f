from celery import shared_task


@shared_task
def telemetry_housekeeping() -> dict:
    """Forget in-flight markers of processes that died mid-request, and long-gone workers."""
    from django.utils import timezone

    from telemetry.services import telemetry_housekeeping as housekeeping

    return housekeeping(now=timezone.now())
