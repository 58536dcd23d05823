from django.urls import path

from annotation import views

app_name = "annotation"
urlpatterns = [path("", views.index, name="index")]
