"""Writes and rules for events (the outbox of webhook delivery)."""

import functools
import logging

from django.db import connection, transaction

from webhooks.models import Event
from webhooks.signals import event_committed

logger = logging.getLogger("apollo.webhooks")

# The types of the contract (API.md, Webhooks). A new type is added here first.
EVENT_TYPES = (
    "lead.created",
    "lead.updated",
    "lead.deleted",
    "lead.stage_changed",
    "activity.created",
    "reply.detected",
    "lead_import.completed",
    "agent_run.completed",
    "agent_run.failed",
    "stars.cap_warning",
    "stars.cap_reached",
    "stars.balance_low",
    "webhook_endpoint.disabled",
    "webhook.test",
)


def event_emit(*, organization_id, type: str, data: dict) -> Event:
    """Record an event in the caller's transaction and announce it once that commits.

    Guarantees:
    1. The event commits or rolls back with the change it reports: it runs only inside
       an atomic block (the caller's), and refuses to open one of its own.
    2. ``event_committed`` is sent after the commit, never for a rolled-back event, so
       a receiver may enqueue delivery at once.
    3. A receiver that fails cannot undo the committed change or stop the other
       receivers; its error is logged with the event id. The signal is a prompt, the
       table is the record: a crash between commit and send loses the signal, not the
       event, so delivery also sweeps the table.
    """
    if type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {type!r}; add it to EVENT_TYPES first.")
    if not connection.in_atomic_block:
        raise RuntimeError(
            "event_emit() runs inside the transaction of the change it reports; "
            "wrap the change and the event in transaction.atomic()."
        )

    event = Event.objects.create(organization_id=organization_id, type=type, data=data)

    transaction.on_commit(functools.partial(_announce, event.id, event.organization_id, event.type))
    return event


def _announce(event_id, organization_id, type: str) -> None:
    responses = event_committed.send_robust(
        sender=Event, event_id=event_id, organization_id=organization_id, type=type
    )
    for receiver, outcome in responses:
        if isinstance(outcome, Exception):
            logger.error(
                "event_receiver_failed",
                exc_info=outcome,
                extra={
                    "event_id": str(event_id),
                    "receiver": getattr(receiver, "__qualname__", repr(receiver)),
                },
            )
