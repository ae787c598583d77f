from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self):
        from notifications.services import tiktok_problems_sync
        from partners.signals import tiktok_connection_changed

        def on_tiktok_connection_changed(sender, connection, **kwargs):
            tiktok_problems_sync(connection=connection)

        # Partners tells us of every change of a connection's state; the problems follow it.
        tiktok_connection_changed.connect(
            on_tiktok_connection_changed, weak=False, dispatch_uid="notifications.tiktok_problems"
        )
