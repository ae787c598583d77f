from django.urls import path

from appgroups import views
from appgroups.views import api_keys, language

app_name = "appgroups"

urlpatterns = [
    path("app-groups/switch/", views.app_group_switch, name="switch"),
    path("language/", language.language_set, name="language-set"),
    path("settings/workspace/", views.app_group_settings, name="settings"),
    path("settings/api-keys/", api_keys.api_settings, name="api-settings"),
    path(
        "settings/api-keys/<int:api_key_id>/revoke/",
        api_keys.api_key_revoke_view,
        name="api-key-revoke",
    ),
]
