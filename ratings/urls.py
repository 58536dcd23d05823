from django.urls import path

from ratings import views

app_name = "ratings"
urlpatterns = [
    path("", views.leaderboard, name="leaderboard"),
    path("refit/", views.refit, name="refit"),
]
