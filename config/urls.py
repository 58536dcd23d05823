from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config import views
from config.login_form import AdminLoginForm, LoginForm

admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(authentication_form=LoginForm), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("arena/", include("arena.urls")),
    path("annotate/", include("annotation.urls")),
    path("leaderboard/", include("ratings.urls")),
    path("admin/", admin.site.urls),
]
