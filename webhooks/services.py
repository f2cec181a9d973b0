"""Writes and rules for events (the outbox of webhook delivery)."""

import functools
import json
import logging
import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from apollo.bulk import insert_rows
from webhooks.models import Event
from webhooks.signals import event_committed

logger = logging.getLogger("apollo.webhooks")
# Fewer events go in with one INSERT; more through COPY, which costs a few round trips
# more but a fraction of the time per row.
COPY_FROM = 100
# As ``Event.data`` encodes: emitters may pass ids, timestamps and decimals as they are.
_encode = functools.partial(json.dumps, cls=DjangoJSONEncoder)

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

    For bulk work (an import batch): a big batch is copied in, and each event is
    announced after the commit.
    """
    unknown = sorted({type for type, _ in events} - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"Unknown event types {unknown}; add them to EVENT_TYPES first.")
    if not connection.in_atomic_block:
        raise RuntimeError(
            "Events are emitted inside the transaction of the change they report; "
            "wrap the change and the events in transaction.atomic()."
        )
    if len(events) < COPY_FROM:
        created = Event.objects.bulk_create(
            Event(organization_id=organization_id, type=type, data=data) for type, data in events
        )
    else:
        created = _copy_in(organization_id, events)
    announced = [(event.id, event.type) for event in created]
    transaction.on_commit(functools.partial(_announce_all, organization_id, announced))
    return created


def _copy_in(organization_id, events: list[tuple[str, dict]]) -> list[Event]:
    now = timezone.now()
    created = [
        Event(
            id=uuid.uuid4(), organization_id=organization_id, type=type, created_at=now, data=data
        )
        for type, data in events
    ]
    insert_rows(
        Event,
        ("id", "type", "data"),
        [(event.id, event.type, Jsonb(event.data, dumps=_encode)) for event in created],
        same={"organization_id": organization_id, "created_at": now},
    )
    return created


def _announce_all(organization_id, events: list[tuple]) -> None:
    for event_id, type in events:
        _announce(event_id, organization_id, type)


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
