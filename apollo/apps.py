import functools

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.contrib.admin import sites
from django.template.response import SimpleTemplateResponse

from apollo.logging import user_id_var
from apollo.tenancy import privileged


class ApolloConfig(AppConfig):
    name = "apollo"
    verbose_name = "Platform"
    default_auto_field = "django.db.models.BigAutoField"
    # This module holds another AppConfig (the admin's): name the one of this app.
    default = True


class SupportAdminSite(sites.AdminSite):
    """The Django admin of support staff, who must see every org's rows.

    Each admin view runs inside ``privileged()``, after the site has checked that the
    user is active staff, so the row-level security of tenant tables lets it read and
    write across orgs.

    It is defined here, not in ``apollo/admin.py``: the lazy ``admin.site`` imports this
    class during admin discovery, and a module that also registers on ``admin.site``
    would have its registrations land on a first site that the second one replaces.
    """

    site_header = "Apollo Space support"
    site_title = "Apollo Space support"

    def admin_view(self, view, cacheable=False):
        return super().admin_view(_privileged(view), cacheable)


def _privileged(view):
    @functools.wraps(view)
    def privileged_view(request, *args, **kwargs):
        # Name the staff member on the log lines of this view, the privilege's included.
        token = user_id_var.set(str(request.user.pk))
        try:
            with privileged("support admin"):
                response = view(request, *args, **kwargs)
                if isinstance(response, SimpleTemplateResponse):
                    # Its querysets are lazy: read them while the privilege holds.
                    response.render()
            return response
        finally:
            user_id_var.reset(token)

    return privileged_view


class SupportAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with ``SupportAdminSite`` as ``admin.site``."""

    default = False
    default_site = "apollo.apps.SupportAdminSite"
