"""Keyset pagination for every list: ``{"items": [...], "next_cursor": ...}``.

Guarantees:
1. Pages are found by position, never OFFSET, and nothing is counted: a deep page
   costs what the first costs, given an index on (organization, sort key, id).
2. The order is total, (sort key, id), so rows that share a sort value are neither
   repeated nor skipped, and rows inserted or deleted during a walk cannot shift it.
3. A cursor is signed and bound to the org, the endpoint, the filters and the order
   it was made for; anything else (tampered, foreign, stale) is 400 ``invalid_cursor``.
"""

import hashlib
import json
from collections import OrderedDict

from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from apollo.errors import ApiError, ValidationFailed

CURSOR_SALT = "apollo.pagination.cursor"
CURSOR_MAX_AGE_SECONDS = 24 * 3600
RESERVED_PARAMS = {"cursor", "limit"}


class InvalidCursor(ApiError):
    status = 400
    code = "invalid_cursor"
    message = "The cursor is not valid for this list; start again without one."


def parse_limit(raw: str | None, default: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= maximum:
        raise ValidationFailed.for_field(
            "limit", f"Must be an integer from 1 to {maximum}.", code="out_of_range"
        )
    return limit


class KeysetPagination(BasePagination):
    default_limit = 50
    max_limit = 200

    def paginate_queryset(self, queryset, request, view=None):
        self.limit = parse_limit(
            request.query_params.get("limit"), self.default_limit, self.max_limit
        )
        key, descending = self._ordering(request, view)
        self.key, self.descending = key, descending
        # Rows are model instances, or named rows of a values_list(named=True) that
        # holds the key and the primary key by their attribute names.
        self.pk_name = queryset.model._meta.pk.attname
        self.binding = self._binding(request, view, key, descending)

        queryset = queryset.order_by(*(f"{'-' if descending else ''}{f}" for f in (key, "pk")))
        raw_cursor = request.query_params.get("cursor")
        if raw_cursor:
            value, pk = self._decode(raw_cursor, queryset.model, key)
            queryset = self._after(queryset, key, descending, value, pk)

        rows = list(queryset[: self.limit + 1])
        self.has_more = len(rows) > self.limit
        page = rows[: self.limit]
        self.last = page[-1] if page and self.has_more else None
        return page

    def _ordering(self, request, view):
        """The view's ``default_ordering``, or ``order_by`` among its ``ordering_fields``."""
        default = getattr(view, "default_ordering", "-created_at")
        allowed = getattr(view, "ordering_fields", ())
        ordering = (request.query_params.get("order_by") if allowed else None) or default
        key = ordering.removeprefix("-")
        if key not in {default.removeprefix("-"), *allowed}:
            choices = ", ".join(f"{k}, -{k}" for k in allowed)
            raise ValidationFailed.for_field(
                "order_by", f"Must be one of: {choices}.", code="invalid_choice"
            )
        return key, ordering.startswith("-")

    def _binding(self, request, view, key, descending) -> str:
        organization = getattr(request, "organization", None)
        filters = sorted(
            (name, sorted(request.query_params.getlist(name)))
            for name in request.query_params
            if name not in RESERVED_PARAMS
        )
        material = json.dumps(
            [str(organization.id) if organization else None, request.path, filters, key, descending]
        )
        return hashlib.sha256(material.encode()).hexdigest()[:32]

    def _decode(self, raw, model, key):
        try:
            payload = signing.loads(raw, salt=CURSOR_SALT, max_age=CURSOR_MAX_AGE_SECONDS)
            binding = payload["b"]
            field = model._meta.get_field(key)
            value = field.to_python(payload["v"]) if payload["v"] is not None else None
            pk = model._meta.pk.to_python(payload["id"])
        except (signing.BadSignature, DjangoValidationError, KeyError, TypeError, ValueError):
            raise InvalidCursor() from None
        if binding != self.binding:
            raise InvalidCursor()
        return value, pk

    def _after(self, queryset, key, descending, value, pk):
        """Rows strictly after (value, pk) in the walk's order, as one row comparison.

        A row comparison lets PostgreSQL walk the (organization, key, id) index from
        the cursor, where the equivalent OR of two conditions would not.
        """
        table = connection.ops.quote_name(queryset.model._meta.db_table)
        column = connection.ops.quote_name(queryset.model._meta.get_field(key).column)
        pk_column = connection.ops.quote_name(queryset.model._meta.pk.column)
        operator = "<" if descending else ">"
        return queryset.extra(  # noqa: S610 - identifiers are quoted, values are bound
            where=[f"({table}.{column}, {table}.{pk_column}) {operator} (%s, %s)"],
            params=[value, pk],
        )

    def _encode(self, row) -> str:
        value = getattr(row, self.key)
        payload = {
            "b": self.binding,
            "v": value.isoformat() if hasattr(value, "isoformat") else value,
            "id": str(getattr(row, self.pk_name)),
        }
        return signing.dumps(payload, salt=CURSOR_SALT, compress=True)

    def get_paginated_response(self, data):
        next_cursor = self._encode(self.last) if self.last is not None else None
        return Response(OrderedDict([("items", data), ("next_cursor", next_cursor)]))

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["items", "next_cursor"],
            "properties": {
                "items": schema,
                "next_cursor": {
                    "type": "string",
                    "nullable": True,
                    "description": "Pass as `cursor` for the next page; null at the end.",
                },
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": f"Page size, 1 to {self.max_limit} (default {self.default_limit}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_limit},
            },
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": "The `next_cursor` of the previous page.",
                "schema": {"type": "string"},
            },
        ]
