"""The support site with the pipeline admin alone, whatever ``INSTALLED_APPS`` holds.

The admin tests need the privileged site; until ``SupportAdminConfig`` replaces
``django.contrib.admin`` in the settings, ``admin.site`` is Django's plain one.
"""

from django.urls import path

from apollo.apps import SupportAdminSite
from pipelines.admin import PipelineAdmin
from pipelines.models import Pipeline

site = SupportAdminSite(name="admin")
site.register(Pipeline, PipelineAdmin)

urlpatterns = [path("admin/", site.urls)]
