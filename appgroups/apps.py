from django.apps import AppConfig


class AppGroupsConfig(AppConfig):
    name = "appgroups"
    verbose_name = "App groups"
