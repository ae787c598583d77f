from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        from monitoring.metrics import tiktok_request_observed
        from partners.tiktok import client

        # Every TikTok request, from any process, counts in /metrics.
        if tiktok_request_observed not in client.request_observers:
            client.request_observers.append(tiktok_request_observed)
