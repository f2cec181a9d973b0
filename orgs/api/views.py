from django.contrib.auth import authenticate
from django.db import transaction
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status
from rest_framework.decorators import action
from rest_framework.response import Response

from apollo.errors import Unauthenticated
from apollo.pagination import KeysetPagination
from apollo.serializers import validated
from apollo.views import ApiView
from apollo.viewsets import OrganizationViewSet
from orgs import services
from orgs.api import serializers as s
from orgs.auth import issuer
from orgs.models import Invitation, Membership, Role


class PublicView(ApiView):
    """An endpoint that needs no bearer token and no org; budgets are per address."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]


class TokenView(PublicView):
    error_codes = {"post": {401: ["invalid_credentials"]}}

    @extend_schema(
        request=s.TokenRequestSerializer,
        responses={200: s.TokenPairSerializer},
        auth=[],
        operation_id="auth_token",
    )
    def post(self, request):
        data = validated(s.TokenRequestSerializer, request.data)
        user = authenticate(request, email=data["email"], password=data["password"])
        if user is None:
            raise Unauthenticated("Email or password is wrong.", code="invalid_credentials")
        return Response(issuer.token_pair(user))


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class RefreshView(PublicView):
    """Runs outside a request transaction: a detected reuse must stay revoked."""

    error_codes = {"post": {401: ["token_invalid", "token_expired"]}}

    @extend_schema(
        request=s.RefreshRequestSerializer,
        responses={200: s.TokenPairSerializer},
        auth=[],
        operation_id="auth_refresh",
    )
    def post(self, request):
        data = validated(s.RefreshRequestSerializer, request.data)
        return Response(issuer.refresh_token_rotate(data["refresh_token"]))


class LogoutView(PublicView):
    @extend_schema(
        request=s.RefreshRequestSerializer,
        responses={204: None},
        auth=[],
        operation_id="auth_logout",
    )
    def post(self, request):
        data = validated(s.RefreshRequestSerializer, request.data)
        issuer.refresh_token_revoke(data["refresh_token"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class JwksView(PublicView):
    @extend_schema(exclude=True)
    def get(self, request):
        return Response(issuer.jwks())


class MeView(ApiView):
    @extend_schema(responses={200: s.MeSerializer}, operation_id="me")
    def get(self, request):
        user = request.user
        memberships = user.memberships.select_related("organization").order_by(
            "organization__name", "organization_id"
        )
        body = {"id": user.id, "email": user.email, "name": user.name, "memberships": memberships}
        return Response(s.MeSerializer(body).data)


class OrganizationsView(ApiView):
    @extend_schema(
        request=s.OrganizationSerializer,
        responses={201: s.OrganizationSerializer},
        operation_id="organizations_create",
    )
    def post(self, request):
        data = validated(s.OrganizationSerializer, request.data)
        organization = services.organization_create(owner=request.user, **data)
        return Response(s.OrganizationSerializer(organization).data, status=201)


class CurrentOrganizationViewSet(OrganizationViewSet):
    serializer_class = s.OrganizationSerializer
    write_role = Role.ADMIN

    def retrieve(self, request):
        return Response(self.get_serializer(self.organization).data)

    def partial_update(self, request):
        data = validated(s.OrganizationSerializer, request.data, partial=True)
        services.organization_update(self.organization, **data)
        return Response(self.get_serializer(self.organization).data)


class MemberViewSet(mixins.ListModelMixin, OrganizationViewSet):
    queryset = Membership.objects.all()
    serializer_class = s.MemberSerializer
    pagination_class = KeysetPagination
    lookup_field = "user_id"
    not_found_code = "member_not_found"
    not_found_message = "No member with this user id in this organization."
    write_role = Role.ADMIN
    error_codes = {"partial_update": {409: ["last_owner"]}, "destroy": {409: ["last_owner"]}}

    def scope_queryset(self, queryset):
        return queryset.select_related("user")

    @extend_schema(request=s.MemberRoleSerializer, responses={200: s.MemberSerializer})
    def partial_update(self, request, user_id):
        target = self.get_object()
        data = validated(s.MemberRoleSerializer, request.data)
        services.membership_change_role(actor=self.membership, target=target, role=data["role"])
        return Response(self.get_serializer(target).data)

    def destroy(self, request, user_id):
        services.membership_remove(actor=self.membership, target=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationViewSet(mixins.ListModelMixin, OrganizationViewSet):
    queryset = Invitation.objects.all()
    serializer_class = s.InvitationSerializer
    pagination_class = KeysetPagination
    not_found_code = "invitation_not_found"
    not_found_message = "No invitation with this id in this organization."
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    error_codes = {
        "create": {409: ["already_member", "invitation_pending"]},
        "resend": {409: ["invitation_accepted"]},
    }

    def scope_queryset(self, queryset):
        return queryset.filter(accepted_at__isnull=True)

    @extend_schema(
        request=s.InvitationCreateSerializer, responses={201: s.InvitationCreatedSerializer}
    )
    def create(self, request):
        data = validated(s.InvitationCreateSerializer, request.data)
        invitation, token = services.invitation_create(actor=self.membership, **data)
        return self._with_token(invitation, token, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.InvitationCreatedSerializer})
    @action(detail=True, methods=["post"])
    def resend(self, request, pk):
        invitation, token = services.invitation_resend(
            actor=self.membership, invitation=self.get_object()
        )
        return self._with_token(invitation, token, status.HTTP_200_OK)

    def destroy(self, request, pk):
        services.invitation_revoke(actor=self.membership, invitation=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _with_token(self, invitation, token, code):
        invitation.token = token
        return Response(s.InvitationCreatedSerializer(invitation).data, status=code)


class InvitationAcceptView(ApiView):
    """Accept as the signed-in user, or without a token to create the account."""

    permission_classes = [permissions.AllowAny]
    error_codes = {
        "post": {
            403: ["invitation_email_mismatch"],
            404: ["invitation_not_found"],
            409: ["invitation_accepted", "invitation_expired", "user_exists"],
        }
    }

    @extend_schema(
        request=s.InvitationAcceptSerializer,
        responses={200: s.InvitationAcceptedSerializer},
        operation_id="invitations_accept",
    )
    def post(self, request):
        data = validated(s.InvitationAcceptSerializer, request.data)
        user = request.user if request.user is not None else None
        membership, created_user = services.invitation_accept(
            token=data["token"],
            user=user,
            password=data.get("password", ""),
            name=data.get("name", ""),
        )
        body = {
            "organization_id": membership.organization_id,
            "role": membership.role,
            "user_id": membership.user_id,
        }
        if created_user is not None:
            body["tokens"] = issuer.token_pair(created_user)
        return Response(s.InvitationAcceptedSerializer(body).data)
