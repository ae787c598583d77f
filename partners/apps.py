from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = _("Technology partners")

    def ready(self):
        from partners.tiktok import client
        from telemetry.counters import tiktok_request_observed

        # Every TikTok request, from any process, counts in /metrics. The client itself stays
        # free of the database: it only calls its observers.
        if tiktok_request_observed not in client.request_observers:
            client.request_observers.append(tiktok_request_observed)
