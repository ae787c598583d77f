from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("<int:pk>/analytics/", views.canvas_analytics, name="canvas-analytics"),
]
