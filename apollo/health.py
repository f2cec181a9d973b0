"""Liveness and readiness probes, outside ``/v1`` and without authentication.

Both views opt out of the request transaction: entering it opens a database
connection, which would make the liveness probe fail (and the orchestrator restart
healthy processes) whenever the database is away, and would turn the readiness
probe's 503 into a 500.
"""

import logging

from django.core.cache import cache
from django.db import connection, transaction
from django.http import JsonResponse
from django.views.decorators.http import require_safe

from apollo.celery import app as celery_app
from apollo.errors import error_response

logger = logging.getLogger("apollo.health")


@require_safe
@transaction.non_atomic_requests
def healthz(request):
    return JsonResponse({"status": "ok"})


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache() -> None:
    cache.set("readyz", "1", timeout=5)
    if cache.get("readyz") != "1":
        raise RuntimeError("cache did not keep a value")


def _broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


CHECKS = {"database": _database, "cache": _cache, "broker": _broker}


@require_safe
@transaction.non_atomic_requests
def readyz(request):
    failing = [name for name, check in CHECKS.items() if not _passes(name, check)]
    if failing:
        return error_response(503, "not_ready", f"Not ready; failing checks: {', '.join(failing)}.")
    return JsonResponse({"status": "ok", "checks": dict.fromkeys(CHECKS, "ok")})


def _passes(name: str, check) -> bool:
    try:
        check()
    except Exception:
        logger.warning("readiness_check_failed", extra={"check": name}, exc_info=True)
        return False
    return True
