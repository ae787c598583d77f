from django.urls import path

from partners import views

app_name = "partners"

urlpatterns = [
    path("", views.technology_partners, name="technology-partners"),
    path("tiktok/", views.tiktok_page, name="tiktok"),
    path("tiktok/connect/", views.tiktok_connect, name="tiktok-connect"),
    path("tiktok/callback/", views.tiktok_callback, name="tiktok-callback"),
    path("tiktok/accounts/", views.tiktok_ad_account_picker, name="tiktok-accounts"),
    path(
        "tiktok/accounts/<int:pk>/disconnect/",
        views.tiktok_ad_account_disconnect,
        name="tiktok-ad-account-disconnect",
    ),
    path("tiktok/disconnect/", views.tiktok_disconnect, name="tiktok-disconnect"),
    path("tiktok/check/", views.tiktok_check, name="tiktok-check"),
]
