from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """What operators look at: Settings > Sync Status, /metrics and /healthz."""

    name = "monitoring"
    verbose_name = "Monitoring"
