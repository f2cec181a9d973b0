from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "orgs"
    verbose_name = "Organizations and identity"
    default_auto_field = "django.db.models.BigAutoField"
