from django.urls import path

from arena import views

app_name = "arena"
urlpatterns = [
    path("", views.index, name="index"),
    path("sampling/", views.sampling, name="sampling"),
    path("b/<str:public_id>/", views.battle, name="battle"),
    path("b/<str:public_id>/turns", views.turn, name="turn"),
    path("b/<str:public_id>/vote", views.vote, name="vote"),
]
