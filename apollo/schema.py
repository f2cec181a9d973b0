"""The OpenAPI schema of the contract, derived from the view classes.

A new endpoint documents itself by what it is, with no decorator to remember:

1. A view without authenticators is public: no security, no 401. A view that allows
   anonymous callers but reads a token when one is sent may still answer a bad token.
2. An ``OrganizationViewSet`` needs ``X-Organization-Id`` and may answer the 403s of
   tenancy and roles; a route with a path parameter adds its 404 ``not_found_code``.
3. A ``ContractMixin`` view spends a rate-limit budget (429, budget headers) and, for
   a known caller, claims a POST's ``Idempotency-Key`` (409 and 422).
4. ``error_codes = {"<action or method>": {409: ["already_member"]}}`` on a view adds
   the codes its services raise.

Every operation also lists the headers of its answers and ends its description with a
cURL example, repeated in ``x-codeSamples`` for Redoc-style tools.
"""

import inspect
import json
from collections.abc import Sequence
from http import HTTPStatus

import uritemplate
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, force_instance, get_doc, is_serializer
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import permissions, serializers

from apollo import ratelimit
from apollo.idempotency import HEADER as IDEMPOTENCY_HEADER
from apollo.idempotency import MAX_KEY_LENGTH, REPLAYED_HEADER
from apollo.middleware import REQUEST_ID_HEADER
from apollo.views import ContractMixin
from apollo.viewsets import OrganizationViewSet

# The address of a local run; integrators swap in their own.
BASE_URL = "http://localhost:8000"

ORGANIZATION_PARAMETER = OpenApiParameter(
    name="X-Organization-Id",
    type=OpenApiTypes.UUID,
    location=OpenApiParameter.HEADER,
    required=True,
    description="The organization to act in; the caller must be one of its members.",
)

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=IDEMPOTENCY_HEADER,
    type={"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Send a fresh UUID to make a retry safe: the same key replays the stored answer "
        "for at least 24 hours, and the effect happens once."
    ),
)

HEADERS = {
    REQUEST_ID_HEADER: {
        "description": "The id of this request, also in any error body; quote it to support.",
        "schema": {"type": "string", "example": "req_3f9a6c1e0b7d4a2f8e5c9d10"},
    },
    "RateLimit-Policy": {
        "description": "The quota of this operation class (IETF draft form).",
        "schema": {"type": "string", "example": '"read";q=600;w=60'},
    },
    "RateLimit": {
        "description": "What is left of the quota: requests remaining, seconds to reset.",
        "schema": {"type": "string", "example": '"read";r=599;t=42'},
    },
    REPLAYED_HEADER: {
        "description": "`true` when this is the stored answer to an earlier request with "
        "the same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "example": 30},
    },
}

ERROR_DETAIL = {
    "type": "object",
    "required": ["field", "code", "message"],
    "properties": {
        "field": {
            "type": "string",
            "nullable": True,
            "description": "The field or parameter at fault, dotted for nested ones; "
            "null when the error concerns the whole request.",
            "example": "email",
        },
        "code": {"type": "string", "example": "invalid"},
        "message": {"type": "string", "example": "Enter a valid email address."},
    },
}

# What each error status means to a caller; the codes follow it in the description.
ERROR_TITLES = {
    400: "The request is not valid.",
    401: "Not authenticated.",
    402: "Stars exhausted or a cap reached.",
    403: "Not allowed.",
    404: "Not found.",
    409: "Conflicts with the current state.",
    413: "The request body is too large.",
    415: "The request body's media type is not accepted.",
    422: "The Idempotency-Key was used with another request body.",
    429: "Too many requests; wait for `Retry-After` seconds.",
}

# Values for the cURL examples, by field name first, then by field class (in MRO order).
SAMPLES_BY_NAME = {
    "email": "ada@example.com",
    "password": "correct horse battery staple",
    "refresh_token": "rt_Jd0xv3nq8Wb2Lk7TzYpR4sHc",
    "token": "inv_Qm2Zr8Vt5Kx1Bn6Wy3Hd9Lc",
    "role": "member",
    "currency": "USD",
    "url": "https://example.com/hooks/apollo",
    "website": "https://example.com",
    "phone": "+14155550123",
}
SAMPLES_BY_CLASS = [
    (serializers.EmailField, "ada@example.com"),
    (serializers.URLField, "https://example.com"),
    (serializers.UUIDField, "3fa85f64-5717-4562-b3fc-2c963f66afa6"),
    (serializers.PrimaryKeyRelatedField, "3fa85f64-5717-4562-b3fc-2c963f66afa6"),
    (serializers.DateTimeField, "2026-06-26T17:45:13Z"),
    (serializers.DateField, "2026-06-26"),
    (serializers.BooleanField, True),
    (serializers.IntegerField, 1),
    (serializers.FloatField, 1.5),
    (serializers.DecimalField, "1.50"),
    (serializers.JSONField, {}),
    (serializers.DictField, {}),
    (serializers.FileField, "@leads.csv"),
]


class ApolloAutoSchema(AutoSchema):
    """Adds the contract's headers, error answers and a cURL example to each operation."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:  # excluded from the schema
            return None
        self._register_components()
        operation["responses"] = self._completed_responses(operation)
        return self._with_curl_example(operation)

    def get_description(self):
        # ``get_doc`` falls back on base classes, whose docstrings talk to developers
        # about PublicView or OrganizationViewSet; an endpoint shows only its own.
        action = getattr(self.view, "action", None) or self.method.lower()
        own = type(self.view).__dict__.get("__doc__") or ""
        return get_doc(getattr(self.view, action, None)) or inspect.cleandoc(own)

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self._is_org_scoped():
            parameters.append(ORGANIZATION_PARAMETER)
        if self._takes_idempotency_key():
            parameters.append(IDEMPOTENCY_PARAMETER)
        return parameters

    # What the view is

    def _is_public(self) -> bool:
        return not self.view.get_authenticators()

    def _token_is_optional(self) -> bool:
        return any(isinstance(p, permissions.AllowAny) for p in self.view.get_permissions())

    def _is_org_scoped(self) -> bool:
        return isinstance(self.view, OrganizationViewSet)

    def _is_rate_limited(self) -> bool:
        return isinstance(self.view, ContractMixin)

    def _takes_idempotency_key(self) -> bool:
        # The mixin claims a key only once the caller is known: never on public views.
        return self.method == "POST" and self._is_rate_limited() and not self._is_public()

    def _is_list(self) -> bool:
        # The same test spectacular uses to wrap the answer in the paginated shape.
        return self._get_paginator() is not None and self._is_list_view()

    def _required_role(self) -> str:
        return str(self.view.required_role(self.method))

    # Headers and errors

    def _completed_responses(self, operation: dict) -> dict:
        responses = operation["responses"]
        for status, response in responses.items():
            response["headers"] = {**self._answer_headers(status), **response.get("headers", {})}
            if not response["description"] and status.isdigit():
                response["description"] = HTTPStatus(int(status)).phrase
        for status, response in self._error_responses(operation).items():
            # A status the view declared itself says more than the generic one.
            responses.setdefault(status, response)
        return dict(sorted(responses.items()))

    def _register_components(self) -> None:
        components = [
            ("ErrorDetail", ResolvedComponent.SCHEMA, ERROR_DETAIL),
            ("Error", ResolvedComponent.SCHEMA, _envelope(with_details=False)),
            ("ValidationError", ResolvedComponent.SCHEMA, _envelope(with_details=True)),
            *((name, ResolvedComponent.HEADER, spec) for name, spec in HEADERS.items()),
        ]
        for name, kind, schema in components:
            self.registry.register_on_missing(
                ResolvedComponent(name=name, type=kind, schema=schema, object=f"apollo.{name}")
            )

    def _answer_headers(self, status: str, codes: Sequence[str] = ()) -> dict:
        names = [REQUEST_ID_HEADER]
        # The body limit refuses a 413 in a middleware, before the view's budget is known.
        if self._is_rate_limited() and status != "413":
            names += ["RateLimit-Policy", "RateLimit"]
        if status.startswith("2") and self._takes_idempotency_key():
            names.append(REPLAYED_HEADER)
        if status == "429" or "idempotency_key_in_use" in codes:
            names.append("Retry-After")
        return {name: _header_ref(name) for name in names}

    def _error_responses(self, operation: dict) -> dict:
        responses = {}
        for status, codes in self._error_codes(operation).items():
            schema = "ValidationError" if status == 400 else "Error"
            responses[str(status)] = {
                "description": self._error_description(status, codes),
                "headers": self._answer_headers(str(status), codes),
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}
                },
                "x-error-codes": codes,
            }
        return responses

    def _error_description(self, status: int, codes: list[str]) -> str:
        listed = ", ".join(f"`{code}`" for code in codes)
        description = f"{ERROR_TITLES.get(status, 'Error.')} Codes: {listed}."
        if status == 403 and self._is_org_scoped():
            description += f" This operation needs the role `{self._required_role()}` or higher."
        if status == 429:
            # The generator hands each view a mock request of the operation's method.
            operation_class = ratelimit.operation_class_of(self.view, self.view.request)
            description += f" Counted against the `{operation_class}` budget."
        return description

    def _error_codes(self, operation: dict) -> dict[int, list[str]]:
        """Status to codes: what the contract's machinery answers, then the view's own."""
        codes: dict[int, list[str]] = {}

        def add(status, *names):
            listed = codes.setdefault(status, [])
            listed.extend(name for name in names if name not in listed)

        has_body = "requestBody" in operation
        if self._can_fail_validation(operation):
            add(400, "validation_error")
        if has_body:
            media_types = operation["requestBody"].get("content", {})
            add(400, "malformed_json" if "application/json" in media_types else "malformed_body")
        if self._is_list():
            add(400, "invalid_cursor")
        if not self._is_public():
            tokens = ("token_invalid", "token_expired")
            add(401, *(tokens if self._token_is_optional() else ("token_missing", *tokens)))
        if self._is_org_scoped():
            add(403, "organization_required", "organization_forbidden", "permission_denied")
        if self._path_parameters():
            add(404, getattr(self.view, "not_found_code", "not_found"))
        if self._takes_idempotency_key():
            add(409, "idempotency_key_in_use")
            add(422, "idempotency_key_reused")
        if has_body:
            add(411, "length_required")
            add(413, "payload_too_large")
            add(415, "unsupported_media_type")
        if self._is_rate_limited():
            add(429, "rate_limited")

        for status, names in self._declared_error_codes().items():
            add(int(status), *names)
        return dict(sorted(codes.items()))

    def _can_fail_validation(self, operation: dict) -> bool:
        # A bad body, a bad query parameter or a malformed Idempotency-Key, and on an
        # object route the filter backend, which refuses unknown query parameters.
        queries = any(p.get("in") == "query" for p in operation.get("parameters", []))
        return (
            "requestBody" in operation
            or queries
            or self._takes_idempotency_key()
            or bool(self._path_parameters())
        )

    def _declared_error_codes(self) -> dict:
        declared = getattr(self.view, "error_codes", {})
        action = getattr(self.view, "action", None) or self.method.lower()
        return declared.get(action, {})

    def _path_parameters(self) -> set[str]:
        return uritemplate.variables(self.path)

    # The cURL example

    def _with_curl_example(self, operation: dict) -> dict:
        curl = self._curl(operation)
        description = f"{operation.pop('description', '')}\n\n```bash\n{curl}\n```".lstrip()
        operation["x-codeSamples"] = [{"lang": "cURL", "source": curl}]
        # Readers expect the description right under the operation id.
        operation_id = operation.pop("operationId")
        return {"operationId": operation_id, "description": description, **operation}

    def _curl(self, operation: dict) -> str:
        # The simplest call that works: where a token is optional, the one without it.
        signed_in = not self._is_public() and not self._token_is_optional()
        lines = [f'curl -X {self.method} "{BASE_URL}{self.path}"']
        if signed_in:
            lines.append('-H "Authorization: Bearer $TOKEN"')
        if self._is_org_scoped():
            lines.append('-H "X-Organization-Id: $ORG"')
        if signed_in and self._takes_idempotency_key():
            lines.append(f'-H "{IDEMPOTENCY_HEADER}: $(uuidgen)"')
        if "requestBody" in operation:
            lines.extend(self._curl_body(operation["requestBody"]))
        return " \\\n  ".join(lines)

    def _curl_body(self, request_body: dict) -> list[str]:
        serializer = self.get_request_serializer()
        if isinstance(serializer, dict):
            # ``extend_schema(request={media type: serializer})``: show the first.
            serializer = next(iter(serializer.values()), None)
        serializer = force_instance(serializer)
        example = _example_object(serializer) if is_serializer(serializer) else {}

        if "application/json" not in request_body["content"]:
            return [f'-F "{name}={_form_value(value)}"' for name, value in example.items()]
        body = json.dumps(example).replace("'", "'\\''")
        return ['-H "Content-Type: application/json"', f"-d '{body}'"]


def _envelope(*, with_details: bool) -> dict:
    error = {
        "type": "object",
        "required": ["code", "message", "request_id"],
        "properties": {
            "code": {
                "type": "string",
                "description": "Stable; each operation lists the codes it answers.",
                "example": "validation_error" if with_details else "lead_not_found",
            },
            "message": {"type": "string", "description": "For humans; may change."},
            "request_id": {"type": "string", "example": "req_3f9a6c1e0b7d4a2f8e5c9d10"},
        },
    }
    if with_details:
        error["properties"]["details"] = {
            "type": "array",
            "items": {"$ref": "#/components/schemas/ErrorDetail"},
            "description": "Present when `code` is `validation_error`: one entry per problem.",
        }
    return {"type": "object", "required": ["error"], "properties": {"error": error}}


def _header_ref(name: str) -> dict:
    return {"$ref": f"#/components/headers/{name}"}


def _example_object(serializer) -> dict:
    return {
        name: _example_value(name, field)
        for name, field in serializer.fields.items()
        if not field.read_only and not isinstance(field, serializers.HiddenField)
    }


def _example_value(name: str, field):
    if isinstance(field, serializers.ListSerializer | serializers.ListField):
        return [_example_value(name, field.child)]
    if isinstance(field, serializers.ManyRelatedField):
        return [_example_value(name, field.child_relation)]
    if isinstance(field, serializers.BaseSerializer):
        return _example_object(field)
    if isinstance(field, serializers.ChoiceField):
        choice = SAMPLES_BY_NAME.get(name)
        sample = choice if choice in field.choices else next(iter(field.choices), "")
        return [sample] if isinstance(field, serializers.MultipleChoiceField) else sample
    if name in SAMPLES_BY_NAME:
        return SAMPLES_BY_NAME[name]
    for field_class, sample in SAMPLES_BY_CLASS:
        if isinstance(field, field_class):
            return sample
    return f"Example {name.replace('_', ' ')}"


def _form_value(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)
