"""Rate limits per organization and operation class, counted in the shared cache.

Guarantees:
1. Counts live in the shared cache (Redis), whose increments are atomic, so every web
   process draws from one budget per (org, operation class) and window.
2. An org's ceiling is the settings' default unless support set an override in the
   admin; overrides are cached for ``OVERRIDE_CACHE_SECONDS`` and dropped on save.
   Each process also keeps what it read for ``LOCAL_OVERRIDE_SECONDS``, so a change
   reaches every process within that time.
3. Over the limit: 429 ``rate_limited`` with ``Retry-After`` in seconds. Every answer
   of an API view carries ``RateLimit-Policy`` and ``RateLimit`` (IETF draft form).
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django_ratelimit.core import _split_rate, get_usage
from rest_framework import permissions

from apollo.errors import ApiError
from apollo.models import RateLimitOverride

OVERRIDE_CACHE_SECONDS = 60
# Each process holds the overrides it read this long, sparing nearly every request a
# round trip to the shared cache; a change in the admin may wait as long elsewhere.
# Past this many orgs a process starts over, so what it holds stays bounded.
LOCAL_OVERRIDE_SECONDS = 5
LOCAL_OVERRIDE_ORGS = 10_000
READ, WRITE, BILLABLE, BULK = "read", "write", "billable", "bulk"


@dataclass(frozen=True)
class Budget:
    operation_class: str
    limit: int
    remaining: int
    reset_seconds: int
    window_seconds: int

    def headers(self) -> dict[str, str]:
        name = self.operation_class
        return {
            "RateLimit-Policy": f'"{name}";q={self.limit};w={self.window_seconds}',
            "RateLimit": f'"{name}";r={self.remaining};t={self.reset_seconds}',
        }


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"

    def __init__(self, budget: Budget):
        super().__init__(
            f"Too many {budget.operation_class} requests for this organization; "
            f"retry in {budget.reset_seconds} second{'' if budget.reset_seconds == 1 else 's'}.",
            headers={"Retry-After": str(budget.reset_seconds), **budget.headers()},
        )


def operation_class_of(view, request) -> str:
    declared = getattr(view, "operation_classes", {}).get(getattr(view, "action", None))
    if declared:
        return declared
    return READ if request.method in permissions.SAFE_METHODS else WRITE


def _override_cache_key(organization_id) -> str:
    return f"ratelimit-overrides:{organization_id}"


# organization id -> (monotonic time it expires, the org's overrides)
_local_overrides: dict = {}


def rate_for(organization_id, operation_class: str) -> str:
    default = settings.APOLLO_RATE_LIMITS[operation_class]
    if organization_id is None:
        return default
    return _overrides(organization_id).get(operation_class, default)


def _overrides(organization_id) -> dict[str, str]:
    now = time.monotonic()
    held = _local_overrides.get(organization_id)
    if held is not None and held[0] > now:
        return held[1]
    overrides = cache.get(_override_cache_key(organization_id))
    if overrides is None:
        overrides = {
            o.operation_class: o.rate
            for o in RateLimitOverride.objects.filter(organization_id=organization_id)
        }
        cache.set(_override_cache_key(organization_id), overrides, OVERRIDE_CACHE_SECONDS)
    if len(_local_overrides) >= LOCAL_OVERRIDE_ORGS:
        _local_overrides.clear()
    _local_overrides[organization_id] = (now + LOCAL_OVERRIDE_SECONDS, overrides)
    return overrides


@receiver([post_save, post_delete], sender=RateLimitOverride)
def _forget_overrides(sender, instance, **kwargs):
    _local_overrides.pop(instance.organization_id, None)
    cache.delete(_override_cache_key(instance.organization_id))


def consume(request, scope: str, operation_class: str, rate: str, *, count: bool = True):
    """Spend one request of ``scope``'s budget (or only look, with ``count=False``)."""
    usage = get_usage(
        request,
        group=f"apollo.{operation_class}",
        key=lambda group, req: scope,
        rate=rate,
        increment=count,
    )
    _, window = _split_rate(rate)
    budget = Budget(
        operation_class=operation_class,
        limit=usage["limit"],
        remaining=max(0, usage["limit"] - usage["count"]),
        reset_seconds=max(1, int(usage["time_left"])),
        window_seconds=window,
    )
    if count and usage["should_limit"]:
        raise RateLimited(budget)
    return budget


def caller_scope(request, organization=None) -> str:
    """Whose budget a request spends: its org's, else its user's, else its address's."""
    if organization is not None:
        return f"org:{organization.id}"
    # ``_user``, not ``user``: an answer refused before authentication ran (a 406) must
    # not run it now, inside a transaction that its error has already doomed.
    user = getattr(request, "_user", None)
    if user is not None:
        return f"user:{user.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"
