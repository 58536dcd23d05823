from django.urls import path

from annotation import views

app_name = "annotation"
# The export pages (annotation:export, annotation:exports, annotation:export_download) are agora_datasets'
# and join these in config/urls.py.
urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:slug>/", views.task, name="task"),
    path("<slug:slug>/dashboard/", views.dashboard, name="dashboard"),
    path("<slug:slug>/settings/", views.project_settings, name="settings"),
    path("<slug:slug>/tasks/<int:assignment_id>/submit/", views.submit, name="submit"),
    path("<slug:slug>/tasks/<int:assignment_id>/skip/", views.skip, name="skip"),
]
