import uuid

from django.conf import settings
from django.contrib.auth.hashers import make_password
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from apollo.tenancy import set_request_user
from orgs.auth.verification import token_invalid, verify_id_token
from orgs.models import User


def user_for_claims(claims: dict) -> User:
    """The local user of verified claims; an external issuer's new user is created."""
    if claims["iss"] == settings.APOLLO_JWT_ISSUER:
        user = _local_user(claims["sub"])
    else:
        user = _external_user(claims)
    if user is None or not user.is_active:
        raise token_invalid()
    return user


def _local_user(user_id: str) -> User | None:
    # get(), not first(): the key is unique, and first() would order by it, a cost
    # that every authenticated request pays.
    try:
        return User.objects.get(pk=uuid.UUID(str(user_id)))
    except (User.DoesNotExist, ValueError):
        # A signed token whose subject is not one of our ids names no user.
        return None


def _email_verified(claims: dict) -> bool:
    # Cognito sends the flag as a string ("true" or "false") for federated users. A
    # missing flag proves nothing, and the email may name an existing local account.
    return claims.get("email_verified") in (True, "true")


def _external_user(claims: dict) -> User:
    subject = f"{claims['iss']}|{claims['sub']}"
    user = User.objects.filter(external_subject=subject).first()
    if user is not None:
        return user
    email = claims.get("email")
    if not email or not _email_verified(claims):
        raise token_invalid("The token carries no verified email.")
    user, _ = User.objects.get_or_create(
        email__iexact=email,
        defaults={"email": email, "external_subject": subject, "password": make_password(None)},
    )
    if not user.external_subject:
        user.external_subject = subject
        user.save(update_fields=["external_subject"])
    return user


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <id_token>`` from the built-in or the external issuer."""

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts:
            return None
        if parts[0].lower() != self.keyword or len(parts) != 2:
            raise token_invalid()
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise token_invalid() from None
        user = user_for_claims(verify_id_token(token))
        set_request_user(user.id)
        return user, None

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
