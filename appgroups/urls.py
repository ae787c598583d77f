from django.urls import path

from appgroups import views
from appgroups.views import api_keys, audience

app_name = "appgroups"

urlpatterns = [
    path("app-groups/switch/", views.app_group_switch, name="switch"),
    path("settings/workspace/", views.app_group_settings, name="settings"),
    path("settings/api-keys/", api_keys.api_settings, name="api-settings"),
    path(
        "settings/api-keys/<int:api_key_id>/revoke/",
        api_keys.api_key_revoke_view,
        name="api-key-revoke",
    ),
    path("users/", audience.user_list, name="user-list"),
    path("users/<int:profile_id>/", audience.user_detail, name="user-detail"),
    path("users/import/", audience.user_import, name="user-import"),
    path(
        "users/import/<int:user_import_id>/",
        audience.user_import_detail,
        name="user-import-detail",
    ),
    path(
        "users/import/<int:user_import_id>/report.csv",
        audience.user_import_report,
        name="user-import-report",
    ),
]
