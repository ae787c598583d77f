from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "journeys"
    verbose_name = "Journeys"

    def ready(self):
        from journeys.selectors import profile_canvas_history
        from users.hooks import register_canvas_history

        # Audience > Users shows each profile's Canvas entries without users importing us.
        register_canvas_history(profile_canvas_history)
