from django.apps import AppConfig


class ApolloConfig(AppConfig):
    name = "apollo"
    verbose_name = "Platform"
    default_auto_field = "django.db.models.BigAutoField"
