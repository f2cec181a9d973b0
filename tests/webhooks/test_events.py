"""Events: written in the caller's transaction, announced after commit, read by admins."""

import datetime
import io
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client as DjangoClient
from django.utils import timezone

from apollo.tenancy import org_scope, privileged
from orgs.models import User
from webhooks.models import Event
from webhooks.services import event_emit, events_emit_many
from webhooks.signals import event_committed

pytestmark = pytest.mark.django_db

NOT_FOUND_MESSAGE = "No event with this id in this organization."


class ChangeFailed(Exception):
    """The change an event reports fails after the event was written."""


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def utc(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def error(response, code: str, message: str, details=None) -> dict:
    body = {"code": code, "message": message, "request_id": response["X-Request-Id"]}
    if details is not None:
        body["details"] = details
    return {"error": body}


def emit(organization, type="lead.created", data=None, at=None) -> Event:
    """An event emitted as application code emits it; ``at`` back-dates it."""
    with org_scope(organization.id):
        event = event_emit(organization_id=organization.id, type=type, data=data or {})
        if at is not None:
            Event.objects.filter(pk=event.pk).update(created_at=at)
            event.created_at = at
    return event


def ids(response) -> list[str]:
    return [item["id"] for item in response.json()["items"]]


def stored_ids() -> set[uuid.UUID]:
    with privileged("a test reads the events of every org"):
        return set(Event.objects.values_list("pk", flat=True))


@pytest.fixture
def received():
    """Every ``event_committed`` sent during the test, as (event_id, organization_id, type)."""
    calls = []

    def receiver(sender, event_id, organization_id, type, **kwargs):
        calls.append((event_id, organization_id, type))

    event_committed.connect(receiver)
    yield calls
    event_committed.disconnect(receiver)


# event_emit


def test_it_serves_an_emitted_event_with_the_whole_body(client_for, org, admin):
    lead_id = uuid.uuid4()
    event = emit(org, "lead.created", {"lead": {"id": lead_id, "name": "Ada"}})

    response = client_for(admin).get(f"/v1/events/{event.id}")

    assert response.status_code == 200
    assert response.json() == {
        "id": str(event.id),
        "type": "lead.created",
        "created_at": iso(event.created_at),
        "organization_id": str(org.id),
        "data": {"lead": {"id": str(lead_id), "name": "Ada"}},
    }


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_emit_outside_a_transaction(org):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        event_emit(organization_id=org.id, type="lead.created", data={})

    assert stored_ids() == set()


def test_it_refuses_an_unknown_event_type(org):
    with pytest.raises(ValueError, match="Unknown event types"), org_scope(org.id):
        event_emit(organization_id=org.id, type="lead.exploded", data={})

    assert stored_ids() == set()


def test_it_announces_an_event_only_after_the_commit(
    org, received, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        event = emit(org, "lead.updated")
        before_commit = list(received)

    assert before_commit == []
    assert received == [(event.id, org.id, "lead.updated")]


def test_it_never_announces_a_rolled_back_event(org, received, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(ChangeFailed),
        transaction.atomic(),
    ):
        emit(org)
        raise ChangeFailed

    assert callbacks == []
    assert received == []
    assert stored_ids() == set()


def test_it_announces_to_every_receiver_when_one_fails(
    org, received, django_capture_on_commit_callbacks, caplog
):
    def broken(**kwargs):
        raise ConnectionError("broker down")

    event_committed.connect(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            event = emit(org)
    finally:
        event_committed.disconnect(broken)

    assert received == [(event.id, org.id, "lead.created")]
    [record] = [r for r in caplog.records if r.getMessage() == "event_receiver_failed"]
    assert record.event_id == str(event.id)


def test_it_hides_events_from_a_query_without_an_org_scope(org, other_org):
    emit(org)
    emit(other_org)

    with transaction.atomic():
        unscoped = Event.objects.count()
    with org_scope(org.id):
        scoped = set(Event.objects.values_list("organization_id", flat=True))

    assert unscoped == 0
    assert scoped == {org.id}


# GET /v1/events/{id}


@pytest.mark.parametrize("persona", ["member", "viewer"])
@pytest.mark.parametrize("path", ["/v1/events", "/v1/events/{id}"])
def test_it_refuses_events_below_admin(request, client_for, org, persona, path):
    event = emit(org)

    response = client_for(request.getfixturevalue(persona)).get(path.format(id=event.id))

    assert response.status_code == 403
    assert response.json() == error(
        response, "permission_denied", "Your role does not allow this action."
    )


def test_it_answers_404_for_an_event_of_another_org(client_for, owner, other_org):
    foreign = emit(other_org)

    response = client_for(owner).get(f"/v1/events/{foreign.id}")

    assert response.status_code == 404
    assert response.json() == error(response, "event_not_found", NOT_FOUND_MESSAGE)


@pytest.mark.parametrize("raw_id", ["not-a-uuid", "12345", str(uuid.uuid4())])
def test_it_answers_404_for_a_malformed_or_unknown_id(client_for, owner, raw_id):
    response = client_for(owner).get(f"/v1/events/{raw_id}")

    assert response.status_code == 404
    assert response.json() == error(response, "event_not_found", NOT_FOUND_MESSAGE)


# GET /v1/events


def test_it_lists_only_the_events_of_the_org_newest_first(client_for, org, owner, other_org):
    older = emit(org, "lead.created", at=utc("2026-01-01T10:00:00Z"))
    newer = emit(org, "lead.deleted", at=utc("2026-01-01T11:00:00Z"))
    emit(other_org, "lead.created", at=utc("2026-01-01T10:30:00Z"))

    response = client_for(owner).get("/v1/events")

    assert response.status_code == 200
    assert response.json() == {
        "items": [
            {
                "id": str(event.id),
                "type": event.type,
                "created_at": iso(event.created_at),
                "organization_id": str(org.id),
                "data": {},
            }
            for event in (newer, older)
        ],
        "next_cursor": None,
    }


def test_it_filters_events_by_type(client_for, org, admin):
    created = emit(org, "lead.created")
    emit(org, "lead.deleted")
    emit(org, "activity.created")

    response = client_for(admin).get("/v1/events", {"type": "lead.created"})

    assert response.status_code == 200
    assert ids(response) == [str(created.id)]


def test_it_filters_events_by_a_created_at_range_in_any_offset(client_for, org, admin):
    emit(org, at=utc("2025-12-31T21:59:59Z"))
    at_start = emit(org, at=utc("2025-12-31T22:00:00Z"))
    inside = emit(org, at=utc("2026-01-01T12:00:00Z"))
    emit(org, at=utc("2026-01-02T00:00:00Z"))

    # The "+" is not percent-encoded, so it arrives as a space, as it does from curl.
    response = client_for(admin).get(
        "/v1/events?created_at__gte=2026-01-01T00:00:00+02:00&created_at__lt=2026-01-02T00:00:00Z"
    )

    assert response.status_code == 200
    assert ids(response) == [str(inside.id), str(at_start.id)]


def test_it_refuses_an_unknown_event_type_filter(client_for, admin):
    response = client_for(admin).get("/v1/events", {"type": "lead.exploded"})

    assert response.status_code == 400
    assert response.json() == error(
        response,
        "validation_error",
        "The request is not valid.",
        [
            {
                "field": "type",
                "code": "invalid_choice",
                "message": "Select a valid choice. lead.exploded is not one of the available "
                "choices.",
            }
        ],
    )


def test_it_refuses_an_unparseable_timestamp(client_for, admin):
    response = client_for(admin).get("/v1/events", {"created_at__gte": "yesterday"})

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "created_at__gte"


def test_it_refuses_an_unknown_query_parameter(client_for, admin):
    response = client_for(admin).get("/v1/events", {"kind": "lead.created"})

    assert response.status_code == 400
    assert response.json() == error(
        response,
        "validation_error",
        "The request is not valid.",
        [
            {
                "field": "kind",
                "code": "unknown_parameter",
                "message": "This endpoint has no such query parameter.",
            }
        ],
    )


def test_it_walks_every_event_once_in_pages(client_for, org, admin):
    # Three share a timestamp: the id breaks the tie, so no page repeats or skips one.
    same = utc("2026-01-01T12:00:00Z")
    moments = [utc("2026-01-01T13:00:00Z"), same, same, same, utc("2026-01-01T11:00:00Z")]
    events = [emit(org, at=moment) for moment in moments]
    client = client_for(admin)

    seen, pages, cursor = [], 0, None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/events", query)
        assert response.status_code == 200
        seen += ids(response)
        pages += 1
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert sorted(seen) == sorted(str(event.id) for event in events)
    assert len(seen) == len(set(seen)) == 5
    assert seen[0] == str(events[0].id)
    assert seen[-1] == str(events[-1].id)


def test_it_lists_events_in_a_fixed_number_of_queries(
    client_for, org, admin, django_assert_max_num_queries
):
    for _ in range(20):
        emit(org)

    with django_assert_max_num_queries(12):
        response = client_for(admin).get("/v1/events")

    assert response.status_code == 200
    assert len(response.json()["items"]) == 20


# prune_events


def test_it_prunes_only_events_older_than_the_retention(org, other_org):
    now = timezone.now()
    old = [emit(org, at=now - timedelta(days=31)), emit(other_org, at=now - timedelta(days=40))]
    kept = [emit(org, at=now - timedelta(days=29)), emit(other_org)]
    out = io.StringIO()

    call_command("prune_events", "--batch-size", "1", verbosity=0, stdout=out)

    assert stored_ids() == {event.id for event in kept}
    assert out.getvalue().startswith(f"Deleted {len(old)} events from before ")


def test_it_prunes_nothing_in_a_dry_run(org):
    now = timezone.now()
    emit(org, at=now - timedelta(days=10))
    emit(org, at=now - timedelta(days=2))
    out = io.StringIO()

    call_command("prune_events", "--days", "7", "--dry-run", verbosity=0, stdout=out)

    assert len(stored_ids()) == 2
    assert out.getvalue().startswith("Would delete 1 events from before ")


# The support admin


@pytest.fixture
def staff_client(db):
    staff = User.objects.create_superuser(email="support@example.com", password="x" * 20)
    client = DjangoClient()
    client.force_login(staff)
    return client


@pytest.mark.parametrize(
    "query", ["", "?q=not-an-id", "?q={id}", "?type=lead.created", "?organization_id={org}"]
)
def test_it_lists_events_in_the_support_admin(staff_client, org, query):
    event = emit(org)

    response = staff_client.get("/admin/webhooks/event/" + query.format(id=event.id, org=org.id))

    assert response.status_code == 200


def test_it_offers_no_way_to_add_or_change_events_in_the_support_admin(staff_client, org):
    emit(org)

    response = staff_client.get("/admin/webhooks/event/")

    assert response.status_code == 200
    assert b"/admin/webhooks/event/add/" not in response.content
    assert b'name="_selected_action"' not in response.content


def test_it_emits_many_events_at_once_and_announces_each_after_commit(
    org, received, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), org_scope(org.id):
        events = events_emit_many(
            organization_id=org.id,
            events=[("lead.created", {"n": 1}), ("lead.updated", {"n": 2})],
        )

    assert stored_ids() == {event.id for event in events}
    assert received == [
        (events[0].id, org.id, "lead.created"),
        (events[1].id, org.id, "lead.updated"),
    ]


def test_it_copies_a_big_batch_in_with_its_ids_and_times_encoded(
    client_for, org, admin, received, django_capture_on_commit_callbacks
):
    lead_id = uuid.uuid4()
    at = datetime.datetime(2026, 6, 26, 17, 45, 13, 120000, tzinfo=datetime.UTC)
    batch = [("lead.created", {"n": n, "lead_id": lead_id, "at": at}) for n in range(150)]

    with django_capture_on_commit_callbacks(execute=True), org_scope(org.id):
        events = events_emit_many(organization_id=org.id, events=batch)

    assert stored_ids() == {event.id for event in events}
    assert received == [(event.id, org.id, "lead.created") for event in events]
    response = client_for(admin).get(f"/v1/events/{events[149].id}")
    assert response.status_code == 200
    assert response.json() == {
        "id": str(events[149].id),
        "type": "lead.created",
        "created_at": iso(events[149].created_at),
        "organization_id": str(org.id),
        "data": {"n": 149, "lead_id": str(lead_id), "at": "2026-06-26T17:45:13.120Z"},
    }


def test_it_refuses_a_batch_with_an_unknown_type_whole(org):
    with pytest.raises(ValueError, match="Unknown event types"), org_scope(org.id):
        events_emit_many(
            organization_id=org.id, events=[("lead.created", {}), ("lead.exploded", {})]
        )

    assert stored_ids() == set()
