from django.contrib.auth.password_validation import validate_password
from rest_framework import serializers

from orgs.models import Invitation, Membership, Organization, Role


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, max_length=256)


class RefreshRequestSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=200)


class TokenPairSerializer(serializers.Serializer):
    id_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()


class OrganizationSerializer(serializers.ModelSerializer):
    currency = serializers.RegexField(r"^[A-Z]{3}$", required=False)

    class Meta:
        model = Organization
        fields = ["id", "name", "currency", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class MembershipOfUserSerializer(serializers.ModelSerializer):
    organization_id = serializers.UUIDField(read_only=True)
    organization_name = serializers.CharField(source="organization.name", read_only=True)

    class Meta:
        model = Membership
        fields = ["organization_id", "organization_name", "role"]


class MeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    name = serializers.CharField()
    memberships = MembershipOfUserSerializer(many=True)


class MemberSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    name = serializers.CharField(source="user.name", read_only=True)

    class Meta:
        model = Membership
        fields = ["user_id", "email", "name", "role", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationSerializer(serializers.ModelSerializer):
    invited_by_id = serializers.UUIDField(read_only=True)
    status = serializers.CharField(read_only=True)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "status", "invited_by_id", "created_at", "expires_at"]
        read_only_fields = ["id", "created_at", "expires_at"]


class InvitationCreatedSerializer(InvitationSerializer):
    token = serializers.CharField(
        read_only=True, help_text="The invitation token. Shown in this answer only."
    )

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "token"]


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationAcceptSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=200)
    password = serializers.CharField(
        required=False,
        trim_whitespace=False,
        max_length=256,
        help_text="Only without a bearer token: the password of the account to create.",
    )
    name = serializers.CharField(required=False, max_length=200, allow_blank=True)

    def validate_password(self, value):
        validate_password(value)
        return value


class InvitationAcceptedSerializer(serializers.Serializer):
    organization_id = serializers.UUIDField()
    role = serializers.CharField()
    user_id = serializers.UUIDField()
    tokens = TokenPairSerializer(
        required=False, help_text="Present when the invitation created the account."
    )
