from django.urls import path

from journeys import views

app_name = "journeys"

urlpatterns = [
    path("<int:pk>/analytics/", views.canvas_analytics, name="canvas-analytics"),
]
