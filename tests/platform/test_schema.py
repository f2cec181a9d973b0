"""The OpenAPI schema states, for every operation, the contract an integrator relies on."""

import re

import pytest
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")
TOKEN_CODES = ["token_missing", "token_invalid", "token_expired"]

# The contract's exemptions from X-Organization-Id, as (method, path pattern).
ORG_EXEMPT = [
    ("*", r"/v1/auth/.*"),
    ("*", r"/v1/me"),
    ("post", r"/v1/organizations"),
    ("post", r"/v1/invitations/accept"),
]


@pytest.fixture
def schema(anonymous):
    response = anonymous.get("/v1/schema?format=json")
    assert response.status_code == 200
    return response.json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def operation(schema, operation_id):
    return next(op for _, _, op in operations(schema) if op["operationId"] == operation_id)


def header(op, name):
    params = op.get("parameters", [])
    return next((p for p in params if p["in"] == "header" and p["name"] == name), None)


def has_header(op, name) -> bool:
    return header(op, name) is not None


def is_org_exempt(method, path) -> bool:
    return any(m in ("*", method) and re.fullmatch(p, path) for m, p in ORG_EXEMPT)


def has_cursor(op) -> bool:
    return any(p["name"] == "cursor" for p in op.get("parameters", []))


def successes(op):
    return {status: r for status, r in op["responses"].items() if status.startswith("2")}


def test_it_serves_the_schema_to_a_caller_without_a_token(anonymous):
    response = anonymous.get("/v1/schema?format=json")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")
    assert response["X-Request-Id"]


def test_it_serves_the_interactive_docs_as_html(anonymous):
    response = anonymous.get("/v1/docs")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"swagger-ui" in response.content


def test_the_docs_load_their_scripts_from_this_server_not_a_cdn(anonymous):
    page = anonymous.get("/v1/docs").content.decode()
    script = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"

    served = anonymous.get(script)

    assert script in page
    assert "cdn" not in page
    assert served.status_code == 200
    assert served["Content-Type"].startswith("text/javascript")


def test_it_generates_the_schema_without_warnings_and_valid(tmp_path):
    # Warnings are counted process-wide and emitted once: start from a clean slate.
    GENERATOR_STATS.reset()

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))

    assert not GENERATOR_STATS
    assert (tmp_path / "s.yaml").read_text().startswith("openapi: 3.0.3")


def test_it_answers_401_on_every_operation_that_takes_a_token(schema):
    for path, method, op in operations(schema):
        if "security" not in op:
            continue
        unauthenticated = op["responses"].get("401")
        assert unauthenticated, (method, path)
        assert "token_invalid" in unauthenticated["x-error-codes"], (method, path)
        assert "`token_invalid`" in unauthenticated["description"], (method, path)


def test_it_lists_the_three_token_codes_where_a_token_is_required(schema):
    me = operation(schema, "me")

    assert me["security"] == [{"bearerAuth": []}]
    assert me["responses"]["401"]["x-error-codes"] == TOKEN_CODES
    assert me["responses"]["401"]["description"] == (
        "Not authenticated. Codes: `token_missing`, `token_invalid`, `token_expired`."
    )


def test_it_marks_the_auth_endpoints_public(schema):
    for operation_id in ("auth_token", "auth_refresh", "auth_logout"):
        op = operation(schema, operation_id)

        assert "security" not in op, operation_id
        assert not has_header(op, "Idempotency-Key"), operation_id
        assert "Authorization" not in op["description"], operation_id


def test_it_requires_the_organization_header_wherever_the_contract_does(schema):
    for path, method, op in operations(schema):
        if is_org_exempt(method, path):
            assert not has_header(op, "X-Organization-Id"), (method, path)
            continue
        parameter = header(op, "X-Organization-Id")
        assert parameter is not None, (method, path)
        assert parameter["required"] is True
        assert parameter["schema"] == {"type": "string", "format": "uuid"}
        assert op["responses"]["403"]["x-error-codes"][:2] == [
            "organization_required",
            "organization_forbidden",
        ], (method, path)


def test_it_names_the_role_an_operation_needs(schema):
    forbidden = operation(schema, "members_partial_update")["responses"]["403"]

    assert "permission_denied" in forbidden["x-error-codes"]
    assert "needs the role `admin` or higher" in forbidden["description"]


def test_it_accepts_an_idempotency_key_on_every_authenticated_post(schema):
    for path, method, op in operations(schema):
        if method != "post" or "security" not in op:
            continue
        key = header(op, "Idempotency-Key")
        assert key is not None, path
        assert key.get("required", False) is False, path
        assert key["schema"]["maxLength"] == 255, path
        assert "idempotency_key_in_use" in op["responses"]["409"]["x-error-codes"], path
        assert op["responses"]["422"]["x-error-codes"] == ["idempotency_key_reused"], path
        for response in successes(op).values():
            assert "Idempotent-Replayed" in response["headers"], path


def test_it_documents_the_contract_headers_on_every_success(schema):
    for path, method, op in operations(schema):
        for status, response in successes(op).items():
            headers = response["headers"]
            assert {"X-Request-Id", "RateLimit-Policy", "RateLimit"} <= set(headers), (
                method,
                path,
                status,
            )
    assert set(schema["components"]["headers"]) >= {"X-Request-Id", "RateLimit", "Retry-After"}


def test_it_describes_every_error_with_the_envelope_and_its_codes(schema):
    for path, method, op in operations(schema):
        for status, response in op["responses"].items():
            if status.startswith("2"):
                continue
            codes = response["x-error-codes"]
            envelope = response["content"]["application/json"]["schema"]["$ref"]
            assert codes, (method, path, status)
            assert envelope.rsplit("/", 1)[1] in ("Error", "ValidationError")
            assert all(f"`{code}`" in response["description"] for code in codes)
            assert "X-Request-Id" in response["headers"]
        assert "Retry-After" in op["responses"]["429"]["headers"], (method, path)


def test_it_defines_the_error_envelope_and_its_validation_variant(schema):
    schemas = schema["components"]["schemas"]
    error = schemas["Error"]["properties"]["error"]
    validation = schemas["ValidationError"]["properties"]["error"]

    assert schemas["Error"]["required"] == ["error"]
    assert error["required"] == ["code", "message", "request_id"]
    assert "details" not in error["properties"]
    assert validation["properties"]["details"]["items"] == {
        "$ref": "#/components/schemas/ErrorDetail"
    }
    assert schemas["ErrorDetail"]["required"] == ["field", "code", "message"]


def test_it_adds_the_codes_a_view_declares(schema):
    def codes(operation_id, status):
        return operation(schema, operation_id)["responses"][status]["x-error-codes"]

    assert codes("auth_token", "401") == ["invalid_credentials"]
    assert codes("members_partial_update", "409") == ["last_owner"]
    assert codes("invitations_create", "409") == [
        "idempotency_key_in_use",
        "already_member",
        "invitation_pending",
    ]
    assert codes("invitations_accept", "401") == ["token_invalid", "token_expired"]
    assert codes("invitations_accept", "404") == ["invitation_not_found"]


def test_it_answers_404_with_the_resource_code_on_object_routes(schema):
    assert operation(schema, "members_destroy")["responses"]["404"]["x-error-codes"] == [
        "member_not_found"
    ]
    assert "404" not in operation(schema, "organization_retrieve")["responses"]


def test_it_answers_lists_with_items_and_next_cursor(schema):
    lists = [op for _, method, op in operations(schema) if has_cursor(op)]

    assert {"members_list", "invitations_list"} <= {op["operationId"] for op in lists}
    for op in lists:
        ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        page = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert page["required"] == ["items", "next_cursor"]
        assert page["properties"]["items"]["type"] == "array"
        assert "invalid_cursor" in op["responses"]["400"]["x-error-codes"]


def test_it_ends_every_description_with_a_curl_example(schema):
    for path, method, op in operations(schema):
        (sample,) = op["x-codeSamples"]
        assert sample["lang"] == "cURL"
        assert sample["source"].startswith(
            f'curl -X {method.upper()} "http://localhost:8000{path}"'
        )
        assert op["description"].endswith(f"```bash\n{sample['source']}\n```")


def test_it_shows_a_json_body_built_from_the_request_serializer(schema):
    source = operation(schema, "invitations_create")["x-codeSamples"][0]["source"]

    assert source == (
        'curl -X POST "http://localhost:8000/v1/invitations" \\\n'
        '  -H "Authorization: Bearer $TOKEN" \\\n'
        '  -H "X-Organization-Id: $ORG" \\\n'
        '  -H "Idempotency-Key: $(uuidgen)" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        """  -d '{"email": "ada@example.com", "role": "member"}'"""
    )


def test_it_shows_a_public_call_without_token_or_key(schema):
    source = operation(schema, "auth_token")["x-codeSamples"][0]["source"]

    assert source == (
        'curl -X POST "http://localhost:8000/v1/auth/token" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        """  -d '{"email": "ada@example.com", "password": "correct horse battery staple"}'"""
    )


def test_it_keeps_an_endpoints_own_docstring_and_drops_its_base_classes(schema):
    accept = operation(schema, "invitations_accept")["description"]
    me = operation(schema, "me")["description"]

    assert accept.startswith("Accept as the signed-in user, or without a token")
    assert me.startswith("```bash")


def test_it_shows_the_call_without_a_token_where_the_token_is_optional(schema):
    source = operation(schema, "invitations_accept")["x-codeSamples"][0]["source"]

    assert "Authorization" not in source
    assert "Idempotency-Key" not in source
    assert '"token": "inv_' in source
