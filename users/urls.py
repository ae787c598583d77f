from django.urls import path

from users import views

app_name = "users"

urlpatterns = [
    path("users/", views.user_list, name="user-list"),
    path("users/<int:profile_id>/", views.user_detail, name="user-detail"),
    path("users/import/", views.user_import, name="user-import"),
    path(
        "users/import/<int:user_import_id>/",
        views.user_import_detail,
        name="user-import-detail",
    ),
    path(
        "users/import/<int:user_import_id>/report.csv",
        views.user_import_report,
        name="user-import-report",
    ),
]
