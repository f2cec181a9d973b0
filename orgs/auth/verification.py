"""Verifying bearer tokens: the built-in issuer's and an external OIDC issuer's.

Guarantees:
1. Only RS256 is accepted, so ``alg: none`` and HS256 signed with the public key
   (the algorithm-confusion attack) fail.
2. The issuer picks the key set: a token naming the built-in issuer is checked against
   the built-in key, one naming the configured external issuer against its JWKS; any
   other issuer fails. The audience is checked for each.
3. Only id tokens (``token_use: "id"``) authenticate API calls; an access token fails.
4. The external JWKS is cached (``APOLLO_OIDC_JWKS_CACHE_SECONDS``) and refetched when
   a token names a key id it has not seen, so key rotation needs no restart.
"""

import functools
import logging
from http.client import HTTPException

import jwt
from django.conf import settings
from rest_framework.exceptions import AuthenticationFailed

from apollo.errors import Unauthenticated
from orgs.auth.issuer import ALGORITHM, signing_key

logger = logging.getLogger("apollo.auth")

REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat"]


class TokenRejected(Unauthenticated, AuthenticationFailed):
    """A bearer token that does not authenticate.

    Being DRF's ``AuthenticationFailed`` too makes DRF mark the request anonymous. A
    bare ``ApiError`` leaves ``request.user`` unresolved, so the next read of it (the
    rate limiter's, while the 401 is finalized) verifies the token again and raises
    outside the exception handler: a 500.
    """


def token_invalid(message: str = "The token is not valid.") -> TokenRejected:
    return TokenRejected(message, code="token_invalid")


@functools.cache
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(
        url, cache_keys=True, lifespan=settings.APOLLO_OIDC_JWKS_CACHE_SECONDS, timeout=5
    )


def _unverified_issuer(token: str) -> str:
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise token_invalid() from None
    if header.get("alg") != ALGORITHM:
        raise token_invalid()
    return claims.get("iss", "")


def _key_and_audience(token: str, issuer: str):
    if issuer == settings.APOLLO_JWT_ISSUER:
        return signing_key().private_key.public_key(), settings.APOLLO_JWT_AUDIENCE
    if settings.APOLLO_OIDC_ISSUER and issuer == settings.APOLLO_OIDC_ISSUER:
        try:
            key = _jwks_client(settings.APOLLO_OIDC_JWKS_URL).get_signing_key_from_jwt(token)
        except (jwt.PyJWKClientConnectionError, OSError, ValueError, HTTPException):
            # PyJWT wraps only connection errors; a body that breaks off or is no JSON
            # (an error page) escapes it. Either way no key set, so no verified token.
            logger.warning("oidc_jwks_unreachable")
            raise token_invalid() from None
        except jwt.PyJWTError:
            raise token_invalid() from None
        return key.key, settings.APOLLO_OIDC_AUDIENCE
    raise token_invalid()


def verify_id_token(token: str) -> dict:
    """Return the claims of a valid id token, or raise a 401 ``TokenRejected``."""
    issuer = _unverified_issuer(token)
    key, audience = _key_and_audience(token, issuer)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": REQUIRED_CLAIMS},
            leeway=30,
        )
    except jwt.ExpiredSignatureError:
        raise TokenRejected("The token has expired.", code="token_expired") from None
    except jwt.PyJWTError:
        raise token_invalid() from None
    if claims.get("token_use") != "id":
        raise token_invalid()
    return claims
