"""What every API view does around its handler, and the base of non-org views.

``ContractMixin`` spends the caller's rate-limit budget and claims the POST's
``Idempotency-Key`` once the caller is known, then puts the budget headers on the
answer and stores it for replays. ``OrganizationViewSet`` and ``ApiView`` use it.
"""

import uuid

from rest_framework.views import APIView

from apollo import idempotency, ratelimit


class ContractMixin:
    rate_limit_budget = None
    idempotency_claim = None
    # Per action, an operation class other than read (safe methods) or write.
    operation_classes: dict[str, str] = {}

    def enforce_contract(self, request, organization=None) -> None:
        operation_class = ratelimit.operation_class_of(self, request)
        self.rate_limit_budget = ratelimit.consume(
            request,
            ratelimit.caller_scope(request, organization),
            operation_class,
            ratelimit.rate_for(organization.id if organization else None, operation_class),
        )
        if request.user is not None:
            self.idempotency_claim = idempotency.claim(request, organization)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        for name, value in self._budget(request).headers().items():
            response.setdefault(name, value)
        if self.idempotency_claim is not None:
            idempotency.complete(self.idempotency_claim, response)
        request._request.touched = self._touched(response)
        return response

    def _touched(self, response) -> tuple[str, uuid.UUID] | None:
        """The object an answer is about, for the request log: the served model's row
        whose id the body carries (a detail, a creation, an action on one object)."""
        body = getattr(response, "data", None)
        queryset = getattr(self, "queryset", None)
        if response.status_code >= 300 or not isinstance(body, dict) or queryset is None:
            return None
        try:
            object_id = uuid.UUID(str(body.get("id")))
        except ValueError:
            return None
        return queryset.model._meta.label_lower, object_id

    def _budget(self, request) -> "ratelimit.Budget":
        """The spent budget, or for an answer refused before it, the caller's, unspent."""
        if self.rate_limit_budget is not None:
            return self.rate_limit_budget
        operation_class = ratelimit.operation_class_of(self, request)
        return ratelimit.consume(
            request,
            ratelimit.caller_scope(request),
            operation_class,
            ratelimit.rate_for(None, operation_class),
            count=False,
        )


class ApiView(ContractMixin, APIView):
    """An endpoint outside any org: budgets and keys are its user's (or address's)."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.enforce_contract(request)
