from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from agora_datasets import urls as datasets_urls
from annotation import urls as annotation_urls
from api import urls as api_urls
from config import views
from config.login_form import AdminLoginForm, LoginForm

admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(authentication_form=LoginForm), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("arena/", include("arena.urls")),
    # The export pages are agora_datasets' but keep their paths and names in the annotation namespace.
    path("annotate/", include((annotation_urls.urlpatterns + datasets_urls.urlpatterns, annotation_urls.app_name))),
    path("leaderboard/", include("ratings.urls")),
    path("api/v1/", api_urls.api_urls),
    path("api/", include("api.urls")),
    # The export jobs' admin list moved with ExportJob to the datasets app; old bookmarks still find it.
    path(
        "admin/annotation/exportjob/",
        RedirectView.as_view(url="/admin/datasets/exportjob/", permanent=True, query_string=True),
        name="admin_exportjob_moved",
    ),
    path("admin/", admin.site.urls),
]
