"""The export pages' URLs. They are served under annotate/ in the annotation namespace, with the paths and
names they had there (templates and bookmarks use them): config/urls.py includes them with annotation's."""

from django.urls import path

from agora_datasets import views

urlpatterns = [
    path("exports/<int:job_id>/<str:name>", views.export_download, name="export_download"),
    path("<slug:slug>/export/", views.export, name="export"),
    path("<slug:slug>/exports/", views.exports, name="exports"),
]
