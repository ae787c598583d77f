from django.urls import path

from canvas import views

app_name = "canvas"

urlpatterns = [
    path("", views.canvas_list, name="list"),
    path("new/", views.canvas_create, name="create"),
    path("<int:pk>/", views.canvas_detail, name="detail"),
    path("<int:pk>/basics/", views.canvas_basics, name="basics"),
    path("<int:pk>/entry/", views.canvas_entry, name="entry"),
    path("<int:pk>/audience/", views.canvas_audience, name="audience"),
    path("<int:pk>/build/", views.canvas_build, name="build"),
    path("<int:pk>/summary/", views.canvas_summary, name="summary"),
    path("<int:pk>/launch/", views.canvas_launch, name="launch"),
    path("<int:pk>/stop/", views.canvas_stop, name="stop"),
    path("<int:pk>/resume/", views.canvas_resume, name="resume"),
    path("<int:pk>/archive/", views.canvas_archive, name="archive"),
    path("<int:pk>/steps/add/", views.step_add, name="step-add"),
    path("<int:pk>/steps/<int:step_id>/", views.step_edit, name="step-edit"),
    path("<int:pk>/steps/<int:step_id>/delete/", views.step_delete, name="step-delete"),
    path(
        "<int:pk>/steps/<int:step_id>/audience-sync/",
        views.audience_sync_editor,
        name="audience-sync",
    ),
    path(
        "<int:pk>/steps/<int:step_id>/audiences/",
        views.audience_sync_options,
        name="audience-options",
    ),
]
