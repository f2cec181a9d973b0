"""The built-in token issuer: RS256 id tokens and rotating refresh tokens.

Guarantees:
1. An id token is an RS256 JWT with ``iss``, ``aud``, ``sub``, ``email``, ``iat``,
   ``exp`` and ``token_use: "id"``, verifiable with the public keys of ``jwks()``.
2. Only a SHA-256 hash of a refresh token is stored; the token itself is shown once.
3. A refresh token works once. Presenting it again revokes its whole family, since
   one of the two holders is not its owner.
4. Rotation is settled by a conditional update, so two racing refreshes with the same
   token cannot both succeed; the loser's revocation reaches the winner's new token.
"""

import base64
import functools
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apollo.errors import Unauthenticated
from apollo.secrets import digest
from orgs.models import RefreshToken, User

ALGORITHM = "RS256"


@dataclass(frozen=True)
class SigningKey:
    private_key: rsa.RSAPrivateKey
    kid: str

    @property
    def public_jwk(self) -> dict:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}


def _load_or_create_pem() -> bytes:
    if settings.APOLLO_JWT_PRIVATE_KEY:
        return settings.APOLLO_JWT_PRIVATE_KEY.encode()
    path = Path(settings.APOLLO_JWT_PRIVATE_KEY_FILE)
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        # Exclusive create: two processes starting together keep the first key.
        try:
            with open(path, "xb") as handle:
                handle.write(pem)
            path.chmod(0o600)
        except FileExistsError:
            pass
    return path.read_bytes()


@functools.cache
def signing_key() -> SigningKey:
    private_key = serialization.load_pem_private_key(_load_or_create_pem(), password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise TypeError("APOLLO_JWT_PRIVATE_KEY must be an RSA private key")
    public_der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = base64.urlsafe_b64encode(hashlib.sha256(public_der).digest()[:12]).decode().rstrip("=")
    return SigningKey(private_key=private_key, kid=kid)


def jwks() -> dict:
    return {"keys": [signing_key().public_jwk]}


def issue_id_token(user: User) -> str:
    now = timezone.now()
    claims = {
        "iss": settings.APOLLO_JWT_ISSUER,
        "aud": settings.APOLLO_JWT_AUDIENCE,
        "sub": str(user.id),
        "email": user.email,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=settings.APOLLO_ID_TOKEN_TTL_SECONDS)).timestamp()),
        "token_use": "id",
    }
    key = signing_key()
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def _new_refresh_token(user: User, family_id: uuid.UUID) -> str:
    token = "rt_" + secrets.token_urlsafe(32)
    RefreshToken.objects.create(
        user=user,
        family_id=family_id,
        token_hash=digest(token),
        expires_at=timezone.now() + timedelta(seconds=settings.APOLLO_REFRESH_TOKEN_TTL_SECONDS),
    )
    return token


def token_pair(user: User, family_id: uuid.UUID | None = None) -> dict:
    return {
        "id_token": issue_id_token(user),
        "refresh_token": _new_refresh_token(user, family_id or uuid.uuid4()),
        "token_type": "Bearer",
        "expires_in": settings.APOLLO_ID_TOKEN_TTL_SECONDS,
    }


def _invalid_refresh_token() -> Unauthenticated:
    return Unauthenticated("The refresh token is not valid.", code="token_invalid")


def refresh_token_rotate(raw_token: str) -> dict:
    now = timezone.now()
    record = (
        RefreshToken.objects.select_related("user").filter(token_hash=digest(raw_token)).first()
    )
    if record is None or record.revoked_at is not None or not record.user.is_active:
        raise _invalid_refresh_token()
    if record.expires_at <= now:
        raise Unauthenticated("The refresh token has expired.", code="token_expired")

    # The claim and the successor commit together: a racing reuse of this token waits
    # on the claim's row lock, so the family it revokes already holds the successor.
    with transaction.atomic():
        claimed = RefreshToken.objects.filter(pk=record.pk, used_at__isnull=True).update(
            used_at=now
        )
        if claimed:
            return token_pair(record.user, family_id=record.family_id)
    # Reuse of a rotated token. The refresh view runs outside a request transaction,
    # so this revocation stays committed although the answer is a 401.
    _revoke_family(record.family_id)
    raise _invalid_refresh_token()


def refresh_token_revoke(raw_token: str) -> None:
    """Log out: revoke the family of this refresh token. Unknown tokens are ignored."""
    record = RefreshToken.objects.filter(token_hash=digest(raw_token)).first()
    if record is not None:
        _revoke_family(record.family_id)


def _revoke_family(family_id: uuid.UUID) -> None:
    RefreshToken.objects.filter(family_id=family_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
