"""URLs under /api/ (the Braze REST base URL is http://host:8000/api).

Unknown paths get Braze's JSON 404.
"""

from django.urls import path, re_path

from api import canvas, users, views

app_name = "api"

urlpatterns = [
    re_path(r"^users/track/?$", users.users_track, name="users-track"),
    re_path(r"^users/delete/?$", users.users_delete, name="users-delete"),
    re_path(r"^users/export/ids/?$", users.users_export_ids, name="users-export-ids"),
    re_path(r"^canvas/trigger/send/?$", canvas.canvas_trigger_send, name="canvas-trigger-send"),
    path("openapi.json", views.openapi_json, name="openapi"),
    re_path(r"^(?P<path>.*)$", views.not_found, name="not-found"),
]
