"""``Idempotency-Key`` for POST requests.

Guarantees:
1. Scope is (organization, user, method, path, key); a request outside any org is
   scoped to its user alone. Records are kept ``RETENTION`` (at least 24 hours).
2. The record is inserted in the request's own transaction, before the handler runs,
   and holds the unique constraint's lock until that transaction ends. So the record
   and the request's effects commit together or not at all: a replay never repeats an
   effect, and a request that ended in 5xx, or a process that died, leaves no record.
3. A second request with the key while the first runs waits at most ``LOCK_WAIT`` for
   the lock, then answers 409 ``idempotency_key_in_use``. Concurrency is settled by the
   database's unique constraint, never by a check followed by an insert.
4. A completed key replays the stored status and body with ``Idempotent-Replayed: true``;
   the same key with another body answers 422 ``idempotency_key_reused``.
5. A 4xx answer is stored too, but the request's effects are rolled back to the
   savepoint taken right after the claim, so only the record commits.

The packages looked at first (drf-idempotency, django-idempotency-key,
drf-idempotencykey) scope a key by user at most, never by organization, and none
documents claiming the key inside the request's own transaction, which guarantee 2
rests on. Expired records are deleted by ``manage.py prune_idempotency_keys``.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from django.db import OperationalError, connection, transaction
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from apollo.errors import ApiError, Conflict, ValidationFailed
from apollo.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
RETENTION = timedelta(hours=48)
LOCK_WAIT = "250ms"


class IdempotentReplay(Exception):
    """Raised instead of running a handler whose answer is already stored."""

    def __init__(self, record: IdempotencyRecord):
        body = json.loads(record.response_body) if record.response_body else None
        self.response = Response(body, status=record.response_status)
        self.response[REPLAYED_HEADER] = "true"
        super().__init__("replay")


@dataclass
class Claim:
    record: IdempotencyRecord
    savepoint: str


def fingerprint(request) -> str:
    """A digest of what the client sent: its parsed body, and the bytes of any files.

    The parsed body is hashed rather than the raw bytes, so a client that re-encodes
    the same JSON (other spacing or key order) still matches its first request.
    """
    digest = hashlib.sha256()
    data = request.data
    if hasattr(data, "getlist"):
        fields = {name: data.getlist(name) for name in data if name not in request.FILES}
    else:
        fields = data
    digest.update(json.dumps(fields, sort_keys=True, default=str).encode())
    for name in sorted(request.FILES):
        for upload in request.FILES.getlist(name):
            digest.update(name.encode())
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
    return digest.hexdigest()


def claim(request, organization) -> Claim | None:
    """Claim the request's key, or raise: a replay, 409, 422, or 400 for a bad key."""
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed.for_field(
            HEADER, f"Must be 1 to {MAX_KEY_LENGTH} characters.", code="invalid_length"
        )
    scope = {
        "organization": organization,
        "user": request.user,
        "method": request.method,
        "path": request.path,
        "key": key,
    }
    print_ = fingerprint(request)
    record = _insert(scope, print_)
    if record is None:
        existing = IdempotencyRecord.objects.get(**scope)
        if existing.fingerprint != print_:
            raise ApiError(
                "This Idempotency-Key was used with a different request body.",
                code="idempotency_key_reused",
                status=422,
            )
        if existing.response_status is None:
            raise _in_use()
        raise IdempotentReplay(existing)
    return Claim(record=record, savepoint=transaction.savepoint())


def _insert(scope: dict, print_: str) -> IdempotencyRecord | None:
    """Insert the claim; None when a completed record holds the key."""
    now = timezone.now()
    IdempotencyRecord.objects.filter(**scope, expires_at__lte=now).delete()
    record = IdempotencyRecord(**scope, fingerprint=print_, expires_at=now + RETENTION)
    try:
        with transaction.atomic():
            _set_lock_timeout(LOCK_WAIT)
            created = IdempotencyRecord.objects.bulk_create([record], ignore_conflicts=True)
    except OperationalError:
        raise _in_use() from None
    finally:
        _set_lock_timeout("0")
    # A skipped insert leaves no row with the id chosen here.
    if not created or not IdempotencyRecord.objects.filter(pk=record.pk).exists():
        return None
    return record


def _in_use() -> Conflict:
    return Conflict(
        "A request with this Idempotency-Key is still running; retry later.",
        code="idempotency_key_in_use",
        headers={"Retry-After": "1"},
    )


def _set_lock_timeout(value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [value])


def complete(claim_: Claim, response) -> None:
    """Store the answer of a claimed request, or let a 5xx take the claim away."""
    if response.status_code >= 500:
        transaction.set_rollback(True)
        return
    if connection.needs_rollback:
        # A 4xx marked the request for rollback: undo its effects, keep the claim.
        transaction.set_rollback(False)
        transaction.savepoint_rollback(claim_.savepoint)
    body = getattr(response, "data", None)
    claim_.record.response_status = response.status_code
    # JSON text, not jsonb: an answer that quotes a NUL character of the request
    # stores as the escape ``\u0000``, which jsonb refuses.
    claim_.record.response_body = JSONRenderer().render(body).decode() if body is not None else ""
    claim_.record.save(update_fields=["response_status", "response_body"])
