"""Auth: the built-in issuer, refresh-token rotation, bearer checks, an external issuer."""

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from apollo.secrets import digest
from orgs.auth import issuer, verification
from orgs.models import RefreshToken, User
from tests.conftest import PASSWORD, make_user

COGNITO_ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Apollo"
COGNITO_CLIENT_ID = "apollo-web-client"
COGNITO_KID = "cognito-key-1"
COGNITO_SUB = "6f1c2a4e-0000-4000-8000-00000000c0de"


def assert_error(response, status, code, message, details=None):
    error = {"code": code, "message": message, "request_id": response["X-Request-Id"]}
    if details is not None:
        error["details"] = details
    assert response.status_code == status
    assert response.json() == {"error": error}


def sign_in(client, email, password=PASSWORD):
    return client.post("/v1/auth/token", {"email": email, "password": password}, format="json")


def refresh(client, refresh_token):
    return client.post("/v1/auth/refresh", {"refresh_token": refresh_token}, format="json")


def get_me(client, authorization):
    return client.get("/v1/me", HTTP_AUTHORIZATION=authorization)


def signed(claims: dict, key, kid: str) -> str:
    """An RS256 token of ``claims``; a claim whose value is None is left out."""
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def built_in_token(user, key=None, **overrides) -> str:
    """An id token as the built-in issuer makes it, with ``overrides`` applied."""
    now = int(time.time())
    claims = {
        "iss": settings.APOLLO_JWT_ISSUER,
        "aud": settings.APOLLO_JWT_AUDIENCE,
        "sub": str(user.id),
        "email": user.email,
        "iat": now,
        "exp": now + 3600,
        "token_use": "id",
        **overrides,
    }
    signing_key = issuer.signing_key()
    return signed(claims, key or signing_key.private_key, signing_key.kid)


def cognito_token(key, kid=COGNITO_KID, **overrides) -> str:
    """An id token as Amazon Cognito makes it, with ``overrides`` applied."""
    now = int(time.time())
    claims = {
        "iss": COGNITO_ISSUER,
        "aud": COGNITO_CLIENT_ID,
        "sub": COGNITO_SUB,
        "email": "ext@example.com",
        "email_verified": True,
        "token_use": "id",
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        **overrides,
    }
    return signed(claims, key, kid)


def hs256(claims: dict, secret: bytes) -> str:
    """Sign by hand: PyJWT rightly refuses a PEM key as an HMAC secret."""

    def encode(part: bytes) -> bytes:
        return base64.urlsafe_b64encode(part).rstrip(b"=")

    header = encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = encode(json.dumps(claims).encode())
    signature = hmac.new(secret, header + b"." + payload, hashlib.sha256).digest()
    return b".".join([header, payload, encode(signature)]).decode()


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


def expire(refresh_token: str) -> None:
    RefreshToken.objects.filter(token_hash=digest(refresh_token)).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


# POST /v1/auth/token and the JWKS


def test_it_issues_a_token_pair_for_good_credentials(anonymous, owner):
    response = sign_in(anonymous, "owner@example.com")

    body = response.json()
    assert response.status_code == 200
    assert body == {
        "id_token": body["id_token"],
        "refresh_token": body["refresh_token"],
        "token_type": "Bearer",
        "expires_in": 3600,
    }
    assert body["refresh_token"].startswith("rt_")
    assert get_me(anonymous, f"Bearer {body['id_token']}").json()["id"] == str(owner.id)


def test_it_signs_the_id_token_with_a_key_the_jwks_publishes(anonymous, owner):
    id_token = sign_in(anonymous, "owner@example.com").json()["id_token"]

    jwks = anonymous.get("/.well-known/jwks.json")
    header = jwt.get_unverified_header(id_token)
    [jwk] = [key for key in jwks.json()["keys"] if key["kid"] == header["kid"]]
    claims = jwt.decode(
        id_token,
        jwt.PyJWK(jwk).key,
        algorithms=["RS256"],
        audience="apollo-api",
        issuer=settings.APOLLO_JWT_ISSUER,
    )

    assert jwks.status_code == 200
    assert header == {"alg": "RS256", "typ": "JWT", "kid": jwk["kid"]}
    assert set(jwk) == {"kty", "n", "e", "kid", "use", "alg", "key_ops"}
    assert (jwk["kty"], jwk["use"], jwk["alg"]) == ("RSA", "sig", "RS256")
    assert claims == {
        "iss": settings.APOLLO_JWT_ISSUER,
        "aud": "apollo-api",
        "sub": str(owner.id),
        "email": "owner@example.com",
        "iat": claims["iat"],
        "exp": claims["iat"] + 3600,
        "token_use": "id",
    }
    assert abs(claims["iat"] - time.time()) < 60


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("owner@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
    ],
    ids=["wrong-password", "unknown-email"],
)
def test_it_refuses_wrong_credentials_alike(anonymous, owner, email, password):
    response = sign_in(anonymous, email, password)

    assert_error(response, 401, "invalid_credentials", "Email or password is wrong.")


def test_it_signs_in_whatever_the_case_of_the_email(anonymous, owner):
    response = sign_in(anonymous, "Owner@Example.COM")

    assert response.status_code == 200


def test_it_refuses_the_credentials_of_a_deactivated_user(anonymous, owner):
    User.objects.filter(pk=owner.pk).update(is_active=False)

    response = sign_in(anonymous, "owner@example.com")

    assert_error(response, 401, "invalid_credentials", "Email or password is wrong.")


def test_it_names_every_missing_credential(anonymous, db):
    response = anonymous.post("/v1/auth/token", {}, format="json")

    required = {"code": "required", "message": "This field is required."}
    assert_error(
        response,
        400,
        "validation_error",
        "The request is not valid.",
        details=[{"field": "email", **required}, {"field": "password", **required}],
    )


# POST /v1/auth/refresh and /v1/auth/logout


# The refresh view runs outside a request transaction, so that a detected reuse stays
# revoked. Inside a test's transaction its error answer would roll back the test's own
# transaction: a test that goes on after a refused refresh runs without one.
outside_a_test_transaction = pytest.mark.django_db(transaction=True)


@outside_a_test_transaction
def test_it_rotates_the_refresh_token(anonymous, owner):
    first = sign_in(anonymous, "owner@example.com").json()

    rotated = refresh(anonymous, first["refresh_token"])
    replayed = refresh(anonymous, first["refresh_token"])

    pair = rotated.json()
    assert rotated.status_code == 200
    assert pair == {
        "id_token": pair["id_token"],
        "refresh_token": pair["refresh_token"],
        "token_type": "Bearer",
        "expires_in": 3600,
    }
    assert pair["refresh_token"] != first["refresh_token"]
    assert get_me(anonymous, f"Bearer {pair['id_token']}").status_code == 200
    assert_error(replayed, 401, "token_invalid", "The refresh token is not valid.")


@outside_a_test_transaction
def test_it_revokes_the_whole_family_when_a_rotated_token_is_reused(anonymous, owner):
    stolen = sign_in(anonymous, "owner@example.com").json()["refresh_token"]
    other_device = sign_in(anonymous, "owner@example.com").json()["refresh_token"]
    newest = refresh(anonymous, refresh(anonymous, stolen).json()["refresh_token"])

    reused = refresh(anonymous, stolen)
    after_reuse = refresh(anonymous, newest.json()["refresh_token"])

    assert_error(reused, 401, "token_invalid", "The refresh token is not valid.")
    assert_error(after_reuse, 401, "token_invalid", "The refresh token is not valid.")
    assert refresh(anonymous, other_device).status_code == 200


class RequestThread(threading.Thread):
    """A request sent on its own thread, hence on its own database connection."""

    def __init__(self, send):
        super().__init__()
        self.send = send
        self.response = None

    def run(self):
        try:
            self.response = self.send()
        finally:
            connection.close()


def wait_until_blocked_or_done(thread):
    """Return once ``thread`` has finished or waits for this connection's transaction."""
    blocked = (
        "SELECT 1 FROM pg_locks WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
    )
    while thread.is_alive():
        with connection.cursor() as cursor:
            cursor.execute(blocked)
            if cursor.fetchone():
                return
        time.sleep(0.01)


@outside_a_test_transaction
def test_it_revokes_the_successor_of_a_token_reused_while_it_rotates(owner, monkeypatch):
    stolen = issuer.token_pair(owner)["refresh_token"]
    reuse = RequestThread(lambda: refresh(APIClient(), stolen))
    issue_successor = issuer._new_refresh_token

    def reuse_between_the_claim_and_the_successor(user, family_id):
        reuse.start()
        wait_until_blocked_or_done(reuse)
        return issue_successor(user, family_id)

    monkeypatch.setattr(issuer, "_new_refresh_token", reuse_between_the_claim_and_the_successor)
    rotated = refresh(APIClient(), stolen)
    monkeypatch.undo()
    reuse.join()

    assert rotated.status_code == 200
    assert_error(reuse.response, 401, "token_invalid", "The refresh token is not valid.")
    assert_error(
        refresh(APIClient(), rotated.json()["refresh_token"]),
        401,
        "token_invalid",
        "The refresh token is not valid.",
    )


def test_it_refuses_an_expired_refresh_token(anonymous, owner):
    refresh_token = sign_in(anonymous, "owner@example.com").json()["refresh_token"]
    expire(refresh_token)

    response = refresh(anonymous, refresh_token)

    assert_error(response, 401, "token_expired", "The refresh token has expired.")


def test_it_refuses_an_unknown_refresh_token(anonymous, db):
    response = refresh(anonymous, "rt_never-issued")

    assert_error(response, 401, "token_invalid", "The refresh token is not valid.")


def test_it_refuses_the_refresh_token_of_a_deactivated_user(anonymous, owner):
    refresh_token = sign_in(anonymous, "owner@example.com").json()["refresh_token"]
    User.objects.filter(pk=owner.pk).update(is_active=False)

    response = refresh(anonymous, refresh_token)

    assert_error(response, 401, "token_invalid", "The refresh token is not valid.")


def test_it_asks_for_the_refresh_token(anonymous, db):
    response = anonymous.post("/v1/auth/refresh", {}, format="json")

    assert_error(
        response,
        400,
        "validation_error",
        "The request is not valid.",
        details=[
            {"field": "refresh_token", "code": "required", "message": "This field is required."}
        ],
    )


def test_it_revokes_the_refresh_token_on_logout(anonymous, owner):
    first = sign_in(anonymous, "owner@example.com").json()["refresh_token"]
    current = refresh(anonymous, first).json()["refresh_token"]

    logout = anonymous.post("/v1/auth/logout", {"refresh_token": current}, format="json")

    assert logout.status_code == 204
    assert logout.content == b""
    assert_error(
        refresh(anonymous, current), 401, "token_invalid", "The refresh token is not valid."
    )


def test_it_answers_logout_of_an_unknown_token_alike(anonymous, db):
    response = anonymous.post("/v1/auth/logout", {"refresh_token": "rt_unknown"}, format="json")

    assert response.status_code == 204


# Bearer tokens on GET /v1/me


def test_it_answers_me_for_a_valid_id_token(anonymous, owner, org):
    response = get_me(anonymous, f"Bearer {built_in_token(owner)}")

    assert response.status_code == 200
    assert response.json() == {
        "id": str(owner.id),
        "email": "owner@example.com",
        "name": "Olive Owner",
        "memberships": [
            {"organization_id": str(org.id), "organization_name": "Acme", "role": "owner"}
        ],
    }


def test_it_asks_for_a_token_when_none_is_sent(anonymous, db):
    response = anonymous.get("/v1/me")

    assert_error(response, 401, "token_missing", "Send a bearer token in the Authorization header.")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic b3duZXJAZXhhbXBsZS5jb206cGFzc3dvcmQ=",
        "Bearer",
        "Bearer one two",
        "Bearer not-a-jwt",
        "Bearer tökén",
    ],
    ids=["basic-scheme", "no-token", "two-tokens", "garbage", "not-ascii"],
)
def test_it_refuses_a_malformed_authorization_header(anonymous, db, authorization):
    response = get_me(anonymous, authorization)

    assert_error(response, 401, "token_invalid", "The token is not valid.")


def test_it_tells_an_expired_token_apart(anonymous, owner):
    an_hour_ago = int(time.time()) - 3600
    token = built_in_token(owner, iat=an_hour_ago - 3600, exp=an_hour_ago)

    response = get_me(anonymous, f"Bearer {token}")

    assert_error(response, 401, "token_expired", "The token has expired.")


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "https://issuer.example.com"},
        {"iss": None},
        {"aud": "another-api"},
        {"aud": None},
        {"token_use": "access"},
        {"token_use": None},
        {"sub": None},
        {"sub": "x"},
        {"exp": None},
    ],
    ids=[
        "wrong-issuer",
        "no-issuer",
        "wrong-audience",
        "no-audience",
        "access-token",
        "no-token-use",
        "no-subject",
        "subject-not-an-id",
        "no-expiry",
    ],
)
def test_it_refuses_a_token_with_wrong_claims(anonymous, owner, overrides):
    response = get_me(anonymous, f"Bearer {built_in_token(owner, **overrides)}")

    assert_error(response, 401, "token_invalid", "The token is not valid.")


def test_it_refuses_a_token_signed_by_another_key_under_our_kid(anonymous, owner):
    token = built_in_token(owner, key=new_rsa_key())

    response = get_me(anonymous, f"Bearer {token}")

    assert_error(response, 401, "token_invalid", "The token is not valid.")


def test_it_refuses_an_unsigned_token(anonymous, owner):
    claims = jwt.decode(built_in_token(owner), options={"verify_signature": False})
    token = jwt.encode(claims, None, algorithm="none")

    response = get_me(anonymous, f"Bearer {token}")

    assert_error(response, 401, "token_invalid", "The token is not valid.")


def test_it_refuses_hs256_signed_with_the_public_key(anonymous, owner):
    claims = jwt.decode(built_in_token(owner), options={"verify_signature": False})
    public_pem = (
        issuer.signing_key()
        .private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    response = get_me(anonymous, f"Bearer {hs256(claims, public_pem)}")

    assert_error(response, 401, "token_invalid", "The token is not valid.")


def test_it_refuses_the_token_of_a_deleted_user(anonymous, db):
    user = make_user("gone@example.com")
    token = built_in_token(user)
    user.delete()

    response = get_me(anonymous, f"Bearer {token}")

    assert_error(response, 401, "token_invalid", "The token is not valid.")


def test_it_refuses_the_token_of_a_deactivated_user(anonymous, owner):
    token = built_in_token(owner)
    User.objects.filter(pk=owner.pk).update(is_active=False)

    response = get_me(anonymous, f"Bearer {token}")

    assert_error(response, 401, "token_invalid", "The token is not valid.")


# An external OIDC issuer (Amazon Cognito in production)


class JwksHandler(http.server.BaseHTTPRequestHandler):
    """Answers every GET with ``server.body`` and counts them in ``server.hits``."""

    def do_GET(self):
        self.server.hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, format, *args):
        pass


def publish(server, *keys_by_kid) -> None:
    server.body = json.dumps({"keys": [public_jwk(key, kid) for key, kid in keys_by_kid]}).encode()


@pytest.fixture(scope="module")
def cognito_key():
    return new_rsa_key()


@pytest.fixture
def cognito(db, settings, cognito_key):
    """A JWKS endpoint on a local port, counting its hits, configured as the issuer's."""
    server = http.server.HTTPServer(("127.0.0.1", 0), JwksHandler)
    server.hits = 0
    publish(server, (cognito_key, COGNITO_KID))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.APOLLO_OIDC_ISSUER = COGNITO_ISSUER
    settings.APOLLO_OIDC_AUDIENCE = COGNITO_CLIENT_ID
    settings.APOLLO_OIDC_JWKS_URL = f"http://127.0.0.1:{server.server_port}/jwks.json"
    verification._jwks_client.cache_clear()
    yield server
    verification._jwks_client.cache_clear()
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize("email_verified", [True, "true"])
def test_it_creates_an_external_user_on_first_sight(
    anonymous, org, cognito, cognito_key, email_verified
):
    authorization = f"Bearer {cognito_token(cognito_key, email_verified=email_verified)}"

    me = get_me(anonymous, authorization)
    again = get_me(anonymous, authorization)
    organization = anonymous.get(
        "/v1/organization", HTTP_AUTHORIZATION=authorization, HTTP_X_ORGANIZATION_ID=str(org.id)
    )

    user = User.objects.get(email="ext@example.com")
    assert me.status_code == 200
    assert me.json() == {
        "id": str(user.id),
        "email": "ext@example.com",
        "name": "",
        "memberships": [],
    }
    assert again.json()["id"] == str(user.id)
    assert user.external_subject == f"{COGNITO_ISSUER}|{COGNITO_SUB}"
    assert not user.has_usable_password()
    assert_error(
        organization, 403, "organization_forbidden", "You are not a member of this organization."
    )


def test_it_links_an_external_user_to_the_local_user_of_that_email(
    anonymous, owner, cognito, cognito_key
):
    token = cognito_token(cognito_key, email="Owner@Example.com")

    response = get_me(anonymous, f"Bearer {token}")

    owner.refresh_from_db()
    assert response.json()["id"] == str(owner.id)
    assert owner.external_subject == f"{COGNITO_ISSUER}|{COGNITO_SUB}"


@pytest.mark.parametrize(
    "email_claims",
    [
        {"email_verified": False},
        {"email_verified": "false"},
        {"email_verified": None},
        {"email": None},
    ],
    ids=["unverified", "unverified-as-string", "no-verification", "no-email"],
)
def test_it_refuses_an_external_token_without_a_verified_email(
    anonymous, owner, cognito, cognito_key, email_claims
):
    token = cognito_token(cognito_key, **{"email": "owner@example.com", **email_claims})

    response = get_me(anonymous, f"Bearer {token}")

    assert_error(response, 401, "token_invalid", "The token carries no verified email.")
    assert User.objects.get(pk=owner.pk).external_subject == ""


@pytest.mark.parametrize(
    "overrides",
    [{"aud": "another-client"}, {"token_use": "access"}, {"iss": f"{COGNITO_ISSUER}-other"}],
    ids=["wrong-audience", "access-token", "other-user-pool"],
)
def test_it_refuses_an_external_token_with_wrong_claims(anonymous, cognito, cognito_key, overrides):
    response = get_me(anonymous, f"Bearer {cognito_token(cognito_key, **overrides)}")

    assert_error(response, 401, "token_invalid", "The token is not valid.")
    assert not User.objects.filter(email="ext@example.com").exists()


def test_it_tells_an_expired_external_token_apart(anonymous, cognito, cognito_key):
    an_hour_ago = int(time.time()) - 3600
    token = cognito_token(cognito_key, iat=an_hour_ago - 3600, exp=an_hour_ago)

    response = get_me(anonymous, f"Bearer {token}")

    assert_error(response, 401, "token_expired", "The token has expired.")


def test_it_refuses_an_external_token_of_an_unknown_key(anonymous, cognito, cognito_key):
    token = cognito_token(cognito_key, kid="unknown-key")

    response = get_me(anonymous, f"Bearer {token}")

    assert_error(response, 401, "token_invalid", "The token is not valid.")
    assert cognito.hits == 2, "an unknown kid refetches the key set once"


def test_it_refuses_an_external_token_signed_by_another_key(anonymous, cognito):
    token = cognito_token(new_rsa_key())

    response = get_me(anonymous, f"Bearer {token}")

    assert_error(response, 401, "token_invalid", "The token is not valid.")


def test_it_refuses_an_external_token_when_no_external_issuer_is_set(
    anonymous, cognito, cognito_key, settings
):
    settings.APOLLO_OIDC_ISSUER = ""

    response = get_me(anonymous, f"Bearer {cognito_token(cognito_key)}")

    assert_error(response, 401, "token_invalid", "The token is not valid.")
    assert cognito.hits == 0


def test_it_fetches_the_external_keys_once_for_many_requests(anonymous, cognito, cognito_key):
    tokens = [
        cognito_token(cognito_key, sub=f"subject-{n}", email=f"ext{n}@example.com")
        for n in range(3)
    ]

    statuses = [get_me(anonymous, f"Bearer {token}").status_code for token in tokens]

    assert statuses == [200, 200, 200]
    assert cognito.hits == 1


def test_it_picks_up_a_rotated_external_key_without_a_restart(anonymous, cognito, cognito_key):
    rotated_key = new_rsa_key()
    assert get_me(anonymous, f"Bearer {cognito_token(cognito_key)}").status_code == 200
    publish(cognito, (cognito_key, COGNITO_KID), (rotated_key, "cognito-key-2"))

    response = get_me(anonymous, f"Bearer {cognito_token(rotated_key, kid='cognito-key-2')}")

    assert response.status_code == 200
    assert cognito.hits == 2


def test_it_refuses_external_tokens_while_the_key_set_is_unreadable(
    anonymous, cognito, cognito_key
):
    cognito.body = b"<html>Service Unavailable</html>"

    response = get_me(anonymous, f"Bearer {cognito_token(cognito_key)}")

    assert_error(response, 401, "token_invalid", "The token is not valid.")


def test_it_refuses_external_tokens_while_the_key_set_is_unreachable(
    anonymous, cognito, cognito_key, settings
):
    settings.APOLLO_OIDC_JWKS_URL = "http://127.0.0.1:1/jwks.json"

    response = get_me(anonymous, f"Bearer {cognito_token(cognito_key)}")

    assert_error(response, 401, "token_invalid", "The token is not valid.")
