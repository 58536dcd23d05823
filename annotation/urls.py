from django.urls import path

from annotation import views

app_name = "annotation"
urlpatterns = [
    path("", views.index, name="index"),
    path("exports/<int:job_id>/<str:name>", views.export_download, name="export_download"),
    path("<slug:slug>/", views.task, name="task"),
    path("<slug:slug>/dashboard/", views.dashboard, name="dashboard"),
    path("<slug:slug>/settings/", views.project_settings, name="settings"),
    path("<slug:slug>/export/", views.export, name="export"),
    path("<slug:slug>/exports/", views.exports, name="exports"),
    path("<slug:slug>/tasks/<int:assignment_id>/submit/", views.submit, name="submit"),
    path("<slug:slug>/tasks/<int:assignment_id>/skip/", views.skip, name="skip"),
]
