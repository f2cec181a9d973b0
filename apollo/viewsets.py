"""The one base viewset of every org-scoped endpoint."""

import uuid

from django.core.exceptions import ObjectDoesNotExist
from rest_framework import permissions, viewsets

from apollo.errors import ApiError, NotFound, PermissionDenied
from apollo.tenancy import parse_org_header, set_request_org
from apollo.views import ContractMixin
from orgs.models import Membership, Role


class OrganizationRequired(ApiError):
    status = 403
    code = "organization_required"
    message = "Send the X-Organization-Id header with the id of one of your organizations."


class OrganizationForbidden(ApiError):
    status = 403
    code = "organization_forbidden"
    # One message for an org that does not exist and one the caller is not in.
    message = "You are not a member of this organization."


def activate_organization(request) -> Membership:
    """Resolve ``X-Organization-Id`` for an authenticated request and scope the database.

    The row-level security setting is applied before the membership is looked up, so
    the lookup itself can only see the requested org's rows.
    """
    org_id = parse_org_header(request)
    if org_id is None:
        raise OrganizationRequired()
    set_request_org(org_id)
    try:
        # get(), not first(): (organization, user) is unique, and the ordering first()
        # adds costs every request a compile and the database a sort.
        membership = Membership.objects.select_related("organization").get(
            organization_id=org_id, user_id=request.user.id
        )
    except Membership.DoesNotExist:
        raise OrganizationForbidden() from None
    request._request.organization = membership.organization
    request._request.membership = membership
    return membership


class OrganizationViewSet(ContractMixin, viewsets.GenericViewSet):
    """Scopes everything it serves to the organization of the request.

    Subclasses say what they serve (``queryset``, serializers), the code of their 404
    (``not_found_code``) and which role each action needs (``read_role``,
    ``write_role``, ``action_roles``). They may narrow or annotate the queryset through
    ``scope_queryset``, but cannot replace ``initial``, ``get_queryset`` or
    ``get_object``: a class that tries fails at import.
    """

    permission_classes = [permissions.IsAuthenticated]
    not_found_code = "not_found"
    not_found_message = "No such object in this organization."
    read_role = Role.VIEWER
    write_role = Role.MEMBER
    action_roles: dict[str, Role] = {}

    _sealed = ("initial", "get_queryset", "get_object")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        overridden = [name for name in cls._sealed if name in cls.__dict__]
        if overridden:
            raise TypeError(
                f"{cls.__name__} overrides {', '.join(overridden)}; org scoping lives in "
                "OrganizationViewSet. Use scope_queryset() to narrow the queryset."
            )

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.membership = activate_organization(request)
        self.organization = self.membership.organization
        self._check_role(request)
        self.enforce_contract(request, self.organization)

    def required_role(self, method: str) -> Role:
        """The least role this action needs; the schema documents the same answer."""
        required = self.action_roles.get(self.action)
        if required is None:
            required = self.read_role if method in permissions.SAFE_METHODS else self.write_role
        return Role(required)

    def _check_role(self, request):
        if not Role(self.membership.role).at_least(self.required_role(request.method)):
            raise PermissionDenied()

    def scope_queryset(self, queryset):
        """Hook for subclasses: narrow, annotate or prefetch. The org filter follows."""
        return queryset

    def get_queryset(self):
        queryset = self.scope_queryset(super().get_queryset())
        return queryset.filter(organization=self.organization)

    def get_object(self):
        lookup_kwarg = self.lookup_url_kwarg or self.lookup_field
        raw = self.kwargs[lookup_kwarg]
        try:
            uuid.UUID(str(raw))
        except ValueError:
            raise self.not_found() from None
        queryset = self.filter_queryset(self.get_queryset())
        try:
            obj = queryset.get(**{self.lookup_field: raw})
        except ObjectDoesNotExist:
            raise self.not_found() from None
        self.check_object_permissions(self.request, obj)
        return obj

    def not_found(self) -> NotFound:
        return NotFound(self.not_found_message, code=self.not_found_code)

    def perform_create(self, serializer):
        serializer.save(organization=self.organization)
