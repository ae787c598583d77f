from django.urls import path

from appgroups import views

app_name = "appgroups"

urlpatterns = [
    path("app-groups/switch/", views.app_group_switch, name="switch"),
    path("settings/workspace/", views.app_group_settings, name="settings"),
    path("settings/api-keys/", views.api_settings, name="api-settings"),
    path("users/", views.user_list, name="user-list"),
]
