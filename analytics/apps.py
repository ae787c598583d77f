from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Where users are counted: per-step counters and time buckets, Not Synced reasons, the
    sync log, and the Canvas analytics page that shows them."""

    name = "analytics"
    verbose_name = "Canvas analytics"
