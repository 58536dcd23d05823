from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "agora_datasets"
    label = "datasets"  # see agora_datasets/__init__.py for why the package name differs
    verbose_name = "Datasets"
    default_auto_field = "django.db.models.BigAutoField"
