from django.apps import AppConfig


class AgoraConfig(AppConfig):
    """The project package as an app, for its management commands (`manage.py serve`)."""

    name = "config"
    verbose_name = "Agora"
