from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    """Where users are counted: per-step counters and time buckets, Not Synced reasons, the
    sync log, and the Canvas analytics page that shows them."""

    name = "analytics"
    verbose_name = _("Canvas analytics")
