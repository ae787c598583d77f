from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    """What every process records about itself, for the operators' pages: worker heartbeats
    and graceful shutdown, the last runs of periodic tasks, shared metric counters and the
    TikTok requests in flight. It imports no other app of the product."""

    name = "telemetry"
    verbose_name = "Telemetry"
