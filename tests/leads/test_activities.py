"""A lead's timeline: what clients log, what changes write, and how it is read."""

import datetime
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apollo.tenancy import org_scope
from leads.models import Activity
from leads.services import Actor
from pipelines import services as pipeline_services
from tests.leads.conftest import (
    LEAD_NOT_FOUND,
    activity_body,
    error,
    events,
    invalid,
    make_lead,
    reload,
    timeline,
    update_lead,
)

pytestmark = pytest.mark.django_db

INSTANT = datetime.datetime(2026, 6, 26, 17, 45, 13, tzinfo=datetime.UTC)


def log(client, lead, body):
    return client.post(f"/v1/leads/{lead.id}/activities", body, format="json")


def stored(org, response) -> Activity:
    with org_scope(org.id):
        return Activity.objects.get(pk=response.json()["id"])


# Logging


def test_it_logs_a_note_with_its_author(client_for, org, member):
    lead = make_lead(org)

    response = log(client_for(member), lead, {"type": "note_added", "data": {"body": "Called."}})

    assert response.status_code == 201
    note = stored(org, response)
    assert response.json() == activity_body(note)
    assert response.json() | {"id": None, "created_at": None} == {
        "id": None,
        "lead_id": str(lead.id),
        "type": "note_added",
        "actor": {"type": "user", "id": str(member.id)},
        "data": {"body": "Called."},
        "created_at": None,
    }
    assert reload(lead).last_activity_at == note.created_at
    assert reload(lead).updated_at == lead.updated_at
    assert events(org, "activity.created")[-1].data == response.json()


@pytest.mark.parametrize("type", ["call_logged", "meeting_logged"])
def test_it_logs_a_call_or_a_meeting(client_for, org, member, type):
    lead = make_lead(org)
    data = {"summary": "Went through pricing.", "duration_seconds": 1800}

    response = log(client_for(member), lead, {"type": type, "data": data})

    assert response.status_code == 201
    assert (response.json()["type"], response.json()["data"]) == (type, data)


def test_it_logs_a_call_without_a_duration(client_for, org, member):
    lead = make_lead(org)

    response = log(client_for(member), lead, {"type": "call_logged", "data": {"summary": "Busy"}})

    assert response.status_code == 201
    assert response.json()["data"] == {"summary": "Busy"}


@pytest.mark.parametrize(
    "type", ["stage_changed", "lead_created", "field_updated", "email_received", "party"]
)
def test_it_refuses_a_type_only_apollo_writes(client_for, org, member, type):
    lead = make_lead(org)

    response = log(client_for(member), lead, {"type": type, "data": {"body": "x"}})

    assert response.status_code == 400
    assert response.json() == invalid(
        response, ("type", "invalid_choice", f'"{type}" is not a valid choice.')
    )
    assert [a.type for a in timeline(lead)] == ["lead_created"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"type": "note_added", "data": {}}, ("data.body", "required", "This field is required.")),
        (
            {"type": "note_added", "data": {"body": "  "}},
            ("data.body", "blank", "This field may not be blank."),
        ),
        (
            {"type": "note_added", "data": {"body": "x" * 10001}},
            ("data.body", "max_length", "At most 10000 characters."),
        ),
        (
            {"type": "note_added", "data": {"body": 7}},
            ("data.body", "invalid", "Must be a string."),
        ),
        (
            {"type": "note_added", "data": {"body": "Hi", "mood": "happy"}},
            ("data.mood", "unknown_field", "A note_added entry has no such field."),
        ),
        (
            {"type": "call_logged", "data": {"duration_seconds": 60}},
            ("data.summary", "required", "This field is required."),
        ),
        (
            {"type": "call_logged", "data": {"summary": "x", "duration_seconds": -1}},
            ("data.duration_seconds", "out_of_range", "Must be from 0 to 86400."),
        ),
        (
            {"type": "meeting_logged", "data": {"summary": "x", "duration_seconds": "60"}},
            ("data.duration_seconds", "invalid", "Must be an integer."),
        ),
        (
            {"type": "note_added", "data": "Called."},
            ("data", "not_a_dict", 'Expected a dictionary of items but got type "str".'),
        ),
        (
            {"type": "note_added", "data": {"body": "x"}, "actor": "me", "lead_id": "x"},
            ("actor", "unknown_field", "Unknown field."),
        ),
    ],
)
def test_it_refuses_invalid_data_naming_the_field(client_for, org, member, body, detail):
    lead = make_lead(org)

    response = log(client_for(member), lead, body)

    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert {"field": detail[0], "code": detail[1], "message": detail[2]} in details
    assert response.json()["error"]["code"] == "validation_error"


def test_it_refuses_a_viewer_to_log_but_shows_them_the_timeline(client_for, org, viewer):
    lead = make_lead(org)
    client = client_for(viewer)

    logged = log(client, lead, {"type": "note_added", "data": {"body": "Hi"}})
    listed = client.get(f"/v1/leads/{lead.id}/activities")

    assert logged.status_code == 403
    assert logged.json() == error(
        logged, "permission_denied", "Your role does not allow this action."
    )
    assert listed.status_code == 200
    assert [item["type"] for item in listed.json()["items"]] == ["lead_created"]


# Reading


def test_it_lists_the_timeline_newest_first_page_by_page(client_for, org, member, viewer):
    lead = make_lead(org, actor=Actor.user(member))
    client = client_for(member)
    for n in range(4):
        log(client, lead, {"type": "note_added", "data": {"body": f"Note {n}"}})
    with org_scope(org.id):
        for n, activity in enumerate(Activity.objects.filter(lead_id=lead.id)):
            Activity.objects.filter(pk=activity.pk).update(
                created_at=INSTANT + datetime.timedelta(minutes=n)
            )
        expected = list(Activity.objects.filter(lead_id=lead.id).order_by("-created_at"))

    first = client_for(viewer).get(f"/v1/leads/{lead.id}/activities", {"limit": 3})
    cursor = first.json()["next_cursor"]
    second = client_for(viewer).get(
        f"/v1/leads/{lead.id}/activities", {"limit": 3, "cursor": cursor}
    )

    assert first.status_code == second.status_code == 200
    assert first.json()["items"] == [activity_body(a) for a in expected[:3]]
    assert second.json() == {
        "items": [activity_body(a) for a in expected[3:]],
        "next_cursor": None,
    }


def test_it_shows_a_lead_only_its_own_timeline(client_for, org, member):
    lead = make_lead(org, contact_name="Ada")
    other = make_lead(org, contact_name="Grace")
    update_lead(other, contact_name="Grace Hopper")

    response = client_for(member).get(f"/v1/leads/{lead.id}/activities")

    assert [item["lead_id"] for item in response.json()["items"]] == [str(lead.id)]


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_answers_404_for_the_timeline_of_a_lead_of_another_org(
    client_for, other_org, member, method
):
    foreign = make_lead(other_org)
    body = {"type": "note_added", "data": {"body": "Mine"}} if method == "post" else None

    response = getattr(client_for(member), method)(
        f"/v1/leads/{foreign.id}/activities", body, format="json"
    )

    assert response.status_code == 404
    assert response.json() == error(response, "lead_not_found", LEAD_NOT_FOUND)
    assert [a.type for a in timeline(foreign)] == ["lead_created"]


@pytest.mark.parametrize("lead_id", ["not-a-uuid", str(uuid.uuid4())])
def test_it_answers_404_for_the_timeline_of_a_missing_lead(client_for, member, lead_id):
    response = client_for(member).get(f"/v1/leads/{lead_id}/activities")

    assert response.status_code == 404
    assert response.json() == error(response, "lead_not_found", LEAD_NOT_FOUND)


def test_it_checks_the_lead_before_the_body(client_for, other_org, member):
    foreign = make_lead(other_org)

    response = log(client_for(member), foreign, {"type": "party"})

    assert response.status_code == 404


def test_it_keeps_the_timeline_append_only(client_for, org, member):
    lead = make_lead(org)
    [created] = timeline(lead)
    client = client_for(member)

    patched = client.patch(f"/v1/leads/{lead.id}/activities", {}, format="json")
    deleted = client.delete(f"/v1/leads/{lead.id}/activities")
    one = client.delete(f"/v1/leads/{lead.id}/activities/{created.id}")

    assert [patched.status_code, deleted.status_code, one.status_code] == [405, 405, 404]
    assert patched.json()["error"]["code"] == "method_not_allowed"
    assert timeline(lead) == [created]


def test_it_refuses_a_parameter_the_timeline_does_not_know(client_for, org, member):
    lead = make_lead(org)

    response = client_for(member).get(f"/v1/leads/{lead.id}/activities", {"type": "note_added"})

    assert response.status_code == 400
    assert response.json() == invalid(
        response, ("type", "unknown_parameter", "This endpoint has no such query parameter.")
    )


def test_it_lists_the_timeline_in_as_many_queries_however_long_it_is(client_for, org, member):
    lead = make_lead(org)
    client = client_for(member)

    def list_queries(count: int) -> int:
        client.get(f"/v1/leads/{lead.id}/activities")
        with org_scope(org.id):
            Activity.objects.filter(lead_id=lead.id).delete()
            for n in range(count):
                Activity.objects.create(
                    organization=org,
                    lead_id=lead.id,
                    type="note_added",
                    actor_type="user",
                    actor_id=member.id,
                    data={"body": f"Note {n}"},
                )
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/v1/leads/{lead.id}/activities", {"limit": 200})
        assert len(response.json()["items"]) == count
        return len(queries)

    assert list_queries(5) == list_queries(50)


# Moves made by the pipelines app


def test_it_moves_the_leads_of_an_archived_stage_with_their_activities_and_events(
    org, owner, stages
):
    leads = [make_lead(org, stage_id=stages[1].id) for _ in range(2)]
    before = len(events(org))

    with org_scope(org.id):
        pipeline_services.stage_update(
            stages[1], archived=True, target_stage_id=stages[2].id, actor=Actor.user(owner)
        )

    for lead in leads:
        assert reload(lead).stage_id == stages[2].id
        moved = timeline(lead)[-1]
        assert (moved.type, moved.actor_id, moved.data) == (
            "stage_changed",
            owner.id,
            {
                "from": {"id": str(stages[1].id), "name": "Qualified"},
                "to": {"id": str(stages[2].id), "name": "In conversation"},
            },
        )
    fired = events(org)[before:]
    assert sorted(e.type for e in fired) == sorted(
        ["lead.updated", "lead.stage_changed", "activity.created"] * 2
    )
    assert {e.data["id"] for e in fired if e.type == "lead.stage_changed"} == {
        str(lead.id) for lead in leads
    }
