"""The base of every API view that is not org-scoped (``OrganizationViewSet`` is)."""

from rest_framework.views import APIView

from apollo import idempotency


class IdempotencyMixin:
    """Claims a POST's ``Idempotency-Key`` once the caller is known; stores the answer."""

    idempotency_claim = None

    def claim_idempotency_key(self, request, organization=None) -> None:
        if request.user is not None:
            self.idempotency_claim = idempotency.claim(request, organization)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.idempotency_claim is not None:
            idempotency.complete(self.idempotency_claim, response)
        return response


class ApiView(IdempotencyMixin, APIView):
    """An authenticated endpoint outside any org; its keys are scoped to the user."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.claim_idempotency_key(request)
