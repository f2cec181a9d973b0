from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from leads import services
        from orgs.signals import membership_removed

        membership_removed.connect(services.on_membership_removed, dispatch_uid="leads")
