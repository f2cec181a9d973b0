"""Tenancy: which organization a request, task or command acts for.

Two layers keep one org's data from another:

1. The application layer. ``OrganizationViewSet`` (``apollo.viewsets``) resolves the org
   of the request once and scopes every queryset to it.
2. The database layer. Every tenant table has row-level security policies that compare
   its ``organization_id`` with the transaction-local setting ``apollo.org_id``. The
   application's role is neither superuser nor BYPASSRLS and the policies are forced
   on the table owner, so a query that forgot its filter sees no foreign row, and a
   write of another org's row fails.

Work that must cross orgs (the support admin, sweeps over every org, looking an
invitation up by its token) goes through ``privileged()``, which names its reason.
"""

import contextlib
import logging
import uuid

from django.db import connection, transaction

from apollo.logging import log_context, org_id_var, user_id_var

logger = logging.getLogger("apollo.tenancy")

ORG_SETTING = "apollo.org_id"
USER_SETTING = "apollo.user_id"
PRIVILEGED_SETTING = "apollo.privileged"
ORGANIZATION_HEADER = "HTTP_X_ORGANIZATION_ID"


def _set(name: str, value: str) -> str:
    """Set a transaction-local setting and return its previous value."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting(%s, true), set_config(%s, %s, true)", [name, name, value]
        )
        previous = cursor.fetchone()[0]
    return previous or ""


def set_request_org(org_id) -> None:
    """Scope the rest of the current transaction (a request's) to one org."""
    _set(ORG_SETTING, str(org_id))
    org_id_var.set(str(org_id))


def set_request_user(user_id) -> None:
    """Let the current transaction read the memberships of this user in any org."""
    _set(USER_SETTING, str(user_id))
    user_id_var.set(str(user_id))


def clear_request_scope() -> None:
    # One statement, not three: a test runs every request in one transaction, so this
    # runs before each of them.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config(%s, '', true), set_config(%s, '', true), set_config(%s, '', true)",
            [ORG_SETTING, USER_SETTING, PRIVILEGED_SETTING],
        )


@contextlib.contextmanager
def org_scope(org_id):
    """Run a block as one org: for Celery tasks, commands and services."""
    # On an exception the block's savepoint rolls back, and the setting with it.
    with log_context(org_id=org_id), transaction.atomic():
        previous = _set(ORG_SETTING, str(org_id))
        yield
        _set(ORG_SETTING, previous)


@contextlib.contextmanager
def privileged(reason: str):
    """The one path that crosses orgs. ``reason`` says why, and is logged."""
    logger.info("privileged_scope_entered", extra={"reason": reason})
    with transaction.atomic():
        previous = _set(PRIVILEGED_SETTING, "on")
        yield
        _set(PRIVILEGED_SETTING, previous)


def parse_org_header(request) -> uuid.UUID | None:
    raw = request.META.get(ORGANIZATION_HEADER, "").strip()
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


class TenancyMiddleware:
    """Start every request with no org, user or privilege in the database session.

    The settings are transaction-local, so in production they end with each request's
    transaction anyway; clearing them here also holds when a caller (a test) wraps
    several requests in one transaction. The org itself is resolved after
    authentication, by ``OrganizationViewSet``, so a missing token answers 401 first.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if connection.in_atomic_block:
            clear_request_scope()
        request.organization = None
        request.membership = None
        org_token = org_id_var.set(None)
        user_token = user_id_var.set(None)
        try:
            return self.get_response(request)
        finally:
            org_id_var.reset(org_token)
            user_id_var.reset(user_token)
