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
    [event] = events_emit_many(organization_id=organization_id, events=[(type, data)])
    return event


def events_emit_many(*, organization_id, events: list[tuple[str, dict]]) -> list[Event]:
    """``event_emit`` for many events of one org at once, with the same guarantees.

    For bulk work (an import batch): one INSERT for the batch, one announcement each.
    """
    unknown = sorted({type for type, _ in events} - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"Unknown event types {unknown}; add them to EVENT_TYPES first.")
    if not connection.in_atomic_block:
        raise RuntimeError(
            "Events are emitted inside the transaction of the change they report; "
            "wrap the change and the events in transaction.atomic()."
        )
    created = Event.objects.bulk_create(
        Event(organization_id=organization_id, type=type, data=data) for type, data in events
    )
    for event in created:
        transaction.on_commit(functools.partial(_announce, event.id, organization_id, event.type))
    return created


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
