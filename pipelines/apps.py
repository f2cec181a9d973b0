from django.apps import AppConfig


class PipelinesConfig(AppConfig):
    name = "pipelines"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from orgs.signals import organization_created
        from pipelines import services

        organization_created.connect(services.on_organization_created, dispatch_uid="pipelines")
