from django.apps import AppConfig


class StarsConfig(AppConfig):
    name = "stars"
    default_auto_field = "django.db.models.BigAutoField"
