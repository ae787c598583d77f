from django.apps import AppConfig


class AppGroupsConfig(AppConfig):
    name = "appgroups"
    verbose_name = "App groups"

    def ready(self) -> None:
        # System checks (manage.py check --deploy) of the sign-in limits' settings.
        from appgroups import checks  # noqa: F401
