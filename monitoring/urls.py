from django.urls import path

from monitoring import views

app_name = "monitoring"
urlpatterns = [
    path("sync-status/", views.sync_status, name="sync-status"),
]
