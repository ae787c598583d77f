from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from appgroups import views as appgroup_views
from appgroups.views import auth as appgroup_auth
from monitoring import views as monitoring_views

urlpatterns = [
    path("", appgroup_views.home, name="home"),
    # Django's sign-in, with failed attempts rate-limited (appgroups/loginlimit.py).
    path("login/", appgroup_auth.login, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", monitoring_views.healthz, name="healthz"),
    path("metrics", monitoring_views.metrics, name="metrics"),
    # The Braze-compatible REST API: its base URL is http://host:8000/api.
    path("api/", include("api.urls")),
    path("", include("appgroups.urls")),
    path("", include("users.urls")),
    path("partners/", include("partners.urls")),
    path("canvas/", include("canvas.urls")),
    path("canvas/", include("analytics.urls")),
    path("notifications/", include("notifications.urls")),
    path("settings/", include("monitoring.urls")),
    # Django admin's sign-in on the same limiter; ahead of admin.site.urls, which has its own.
    path("admin/login/", appgroup_auth.admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
]

handler403 = "appgroups.views.permission_denied"
