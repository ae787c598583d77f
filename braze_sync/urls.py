from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from appgroups import views as appgroup_views
from monitoring import views as monitoring_views

urlpatterns = [
    path("", appgroup_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", appgroup_views.healthz, name="healthz"),
    path("metrics", monitoring_views.metrics, name="metrics"),
    # The Braze-compatible REST API: its base URL is http://host:8000/api.
    path("api/", include("appgroups.api.urls")),
    path("", include("appgroups.urls")),
    path("partners/", include("partners.urls")),
    path("canvas/", include("canvas.urls")),
    path("canvas/", include("journeys.urls")),
    path("notifications/", include("notifications.urls")),
    path("settings/", include("monitoring.urls")),
    path("admin/", admin.site.urls),
]

handler403 = "appgroups.views.permission_denied"
