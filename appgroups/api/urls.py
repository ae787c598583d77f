"""URLs under /api/ (the Braze REST base URL is http://host:8000/api).

Other apps add endpoints without touching this file: an installed app with an `api_urls` module
is included here (its `urlpatterns` are relative to /api/, and its optional `OPENAPI` dict of
"paths" and "schemas" is merged into /api/openapi.json). Unknown paths get Braze's JSON 404.
"""

from importlib.util import find_spec

from django.apps import apps
from django.urls import include, path, re_path

from appgroups.api import views

app_name = "api"


def contributed_modules() -> list[str]:
    names = []
    for config in apps.get_app_configs():
        name = f"{config.name}.api_urls"
        if config.name != "appgroups" and find_spec(name) is not None:
            names.append(name)
    return names


urlpatterns = [
    re_path(r"^users/track/?$", views.users_track, name="users-track"),
    re_path(r"^users/delete/?$", views.users_delete, name="users-delete"),
    re_path(r"^users/export/ids/?$", views.users_export_ids, name="users-export-ids"),
    path("openapi.json", views.openapi_json, name="openapi"),
    *(path("", include(name)) for name in contributed_modules()),
    re_path(r"^(?P<path>.*)$", views.not_found, name="not-found"),
]
