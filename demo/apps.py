from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "demo"
    verbose_name = "Demo"

    def ready(self):
        from django.db import transaction

        from demo.services import demo_canvas_complete, demo_connection_is_ready
        from partners.signals import tiktok_connection_changed

        def on_tiktok_connection_changed(sender, connection, **kwargs):
            # After the connection's transaction: completing the step asks TikTok about the
            # audience name, which must not hold the writer's transaction open.
            if demo_connection_is_ready(connection):
                transaction.on_commit(lambda: demo_canvas_complete(connection=connection))

        tiktok_connection_changed.connect(
            on_tiktok_connection_changed, weak=False, dispatch_uid="demo.canvas_complete"
        )
