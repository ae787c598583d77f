"""Celery entry points for partners: thin wrappers around services."""

from celery import shared_task


@shared_task
def tiktok_connections_check() -> int:
    """Beat: find revoked tokens and lost ad accounts before a sync trips on them."""
    from partners.services import tiktok_connections_check_all, tiktok_oauth_attempts_prune

    tiktok_oauth_attempts_prune()
    return tiktok_connections_check_all()
