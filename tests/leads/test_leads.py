"""The lead resource: rules on create and update, the timeline they write, the list."""

import datetime
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apollo.tenancy import org_scope
from leads import selectors, services
from leads.api.serializers import LeadSerializer
from leads.models import Activity, Lead
from leads.services import Actor
from pipelines import services as pipeline_services
from tests.conftest import Client, add_member, make_user
from tests.leads.conftest import (
    LEAD_NOT_FOUND,
    activity_body,
    error,
    events,
    invalid,
    iso,
    lead_body,
    make_field,
    make_lead,
    reload,
    timeline,
    update_lead,
)

pytestmark = pytest.mark.django_db

INSTANT = datetime.datetime(2026, 6, 26, 17, 45, 13, tzinfo=datetime.UTC)
PERMISSION_DENIED = "Your role does not allow this action."


def post(client, body, path="/v1/leads"):
    return client.post(path, body, format="json")


def patch(client, lead, body):
    return client.patch(f"/v1/leads/{lead.id}", body, format="json")


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["items"]]


def duplicate(response, field: str, lead) -> dict:
    message = f"Another lead of this organization has this {field.replace('_', ' ')}."
    detail = {"field": field, "code": "duplicate", "message": message, "lead_id": str(lead.id)}
    return error(response, "lead_duplicate", message, [detail])


def back_date(lead, **moments) -> None:
    with org_scope(lead.organization_id):
        Lead.objects.filter(pk=lead.pk).update(**moments)


# Create


def test_it_creates_a_lead_in_the_default_pipelines_first_stage(
    client_for, member, pipeline, stages
):
    response = post(client_for(member), {"contact_name": "Ada Lovelace"})

    assert response.status_code == 201
    lead = reload(Lead(id=response.json()["id"], organization_id=pipeline.organization_id))
    assert response.json() == lead_body(lead)
    assert (lead.pipeline_id, lead.stage_id) == (pipeline.id, stages[0].id)
    assert response.json()["stage"] == "New lead"
    assert lead.created_at == lead.updated_at == lead.last_activity_at


def test_it_creates_a_lead_with_every_field(client_for, org, member, stages):
    make_field(org, "industry")
    body = {
        "contact_name": "  Ada Lovelace ",
        "company_name": "Analytical Engines",
        "email": "Ada@Example.com",
        "phone": "+14155550123",
        "phone_extension": "42",
        "website": "https://engines.example",
        "source": "conference",
        "stage_id": str(stages[1].id),
        "owner_id": str(member.id),
        "tags": ["  VIP ", "vip", "Big   Deal", "", "big deal"],
        "value_cents": 125000,
        "external_id": "crm-17",
        "custom_fields": {"industry": "Computing"},
    }

    response = post(client_for(member), body)

    assert response.status_code == 201, response.json()
    lead = reload(Lead(id=response.json()["id"], organization_id=org.id))
    assert response.json() == lead_body(lead)
    assert response.json() | {"id": None, "created_at": None, "updated_at": None} == {
        "id": None,
        "contact_name": "Ada Lovelace",
        "company_name": "Analytical Engines",
        "email": "Ada@Example.com",
        "phone": "+14155550123",
        "phone_extension": "42",
        "website": "https://engines.example",
        "source": "conference",
        "pipeline_id": str(stages[1].pipeline_id),
        "stage_id": str(stages[1].id),
        "stage": "Qualified",
        "owner_id": str(member.id),
        "tags": ["vip", "big deal"],
        "value_cents": 125000,
        "external_id": "crm-17",
        "custom_fields": {"industry": "Computing"},
        "created_at": None,
        "updated_at": None,
        "last_activity_at": iso(lead.last_activity_at),
    }


def test_it_puts_a_lead_sent_with_only_a_pipeline_in_its_first_stage(
    client_for, member, other_pipeline, other_stages
):
    response = post(
        client_for(member), {"contact_name": "Ada", "pipeline_id": str(other_pipeline.id)}
    )

    assert response.status_code == 201
    assert response.json()["pipeline_id"] == str(other_pipeline.id)
    assert response.json()["stage_id"] == str(other_stages[0].id)
    assert response.json()["stage"] == "Intro"


def test_it_puts_a_lead_in_the_stage_of_the_pipeline_it_names(
    client_for, member, other_pipeline, other_stages
):
    body = {
        "contact_name": "Ada",
        "pipeline_id": str(other_pipeline.id),
        "stage_id": str(other_stages[1].id),
    }

    response = post(client_for(member), body)

    assert response.status_code == 201
    assert response.json()["stage"] == "Signed"


def test_it_refuses_a_stage_from_another_pipeline(client_for, member, other_stages):
    client = client_for(member)

    response = post(client, {"contact_name": "Ada", "stage_id": str(other_stages[0].id)})

    assert response.status_code == 400
    assert response.json() == invalid(
        response, ("stage_id", "invalid", "Must be an active stage of the pipeline Sales.")
    )
    assert client.get("/v1/leads").json()["items"] == []


def test_it_refuses_a_stage_of_another_org(client_for, member, foreign_stage):
    response = post(client_for(member), {"contact_name": "Ada", "stage_id": str(foreign_stage.id)})

    assert response.status_code == 400
    assert response.json() == invalid(
        response, ("stage_id", "invalid", "Must be an active stage of the pipeline Sales.")
    )


def test_it_refuses_a_pipeline_of_another_org(client_for, member, foreign_stage):
    body = {"contact_name": "Ada", "pipeline_id": str(foreign_stage.pipeline_id)}

    response = post(client_for(member), body)

    assert response.status_code == 400
    assert response.json() == invalid(
        response,
        ("pipeline_id", "invalid", "Must be the id of an active pipeline of this organization."),
    )


def test_it_refuses_an_archived_stage(client_for, org, member, stages):
    with org_scope(org.id):
        pipeline_services.stage_update(stages[1], archived=True)

    response = post(client_for(member), {"contact_name": "Ada", "stage_id": str(stages[1].id)})

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "stage_id"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, ("contact_name", "required", "This field is required.")),
        ({"contact_name": "  "}, ("contact_name", "blank", "This field may not be blank.")),
        (
            {"contact_name": "A" * 201},
            ("contact_name", "max_length", "Ensure this field has no more than 200 characters."),
        ),
        (
            {"contact_name": "Ada", "email": "ada@"},
            ("email", "invalid", "Enter a valid email address."),
        ),
        (
            {"contact_name": "Ada", "value_cents": -1},
            ("value_cents", "min_value", "Ensure this value is greater than or equal to 0."),
        ),
        (
            {"contact_name": "Ada", "value_cents": "lots"},
            ("value_cents", "invalid", "A valid integer is required."),
        ),
        (
            {"contact_name": "Ada", "tags": ["x" * 51]},
            ("tags", "max_length", "Each tag has at most 50 characters."),
        ),
        (
            {"contact_name": "Ada", "tags": [f"tag {n}" for n in range(51)]},
            ("tags", "max_length", "At most 50 tags."),
        ),
        (
            {"contact_name": "Ada", "owner_id": "someone"},
            ("owner_id", "invalid", "Must be a valid UUID."),
        ),
        (
            {"contact_name": "Ada", "owner_id": str(uuid.uuid4())},
            ("owner_id", "not_a_member", "Must be the id of a member of this organization."),
        ),
        ({"contact_name": "Ada", "owner": "me"}, ("owner", "unknown_field", "Unknown field.")),
    ],
)
def test_it_refuses_an_invalid_lead_naming_the_field(client_for, member, body, detail):
    response = post(client_for(member), body)

    assert response.status_code == 400
    assert response.json() == invalid(response, detail)


def test_it_refuses_an_owner_from_another_org(client_for, member, outsider):
    response = post(client_for(member), {"contact_name": "Ada", "owner_id": str(outsider.id)})

    assert response.status_code == 400
    assert response.json() == invalid(
        response,
        ("owner_id", "not_a_member", "Must be the id of a member of this organization."),
    )


@pytest.mark.parametrize("phone", ["+14155550123", "+442079460958", "+5511987654321"])
def test_it_takes_a_phone_number_in_e164(client_for, member, phone):
    response = post(client_for(member), {"contact_name": "Ada", "phone": phone})

    assert response.status_code == 201
    assert response.json()["phone"] == phone


E164_MESSAGE = "Enter an E.164 phone number, such as +14155550123."


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("4155550123", E164_MESSAGE),
        ("+1 415 555 0123", E164_MESSAGE),
        ("+1 (415) 5550123", E164_MESSAGE),
        ("+0123456789", E164_MESSAGE),
        ("+99912345678", E164_MESSAGE),
        ("+1415555", "This phone number has an impossible length for its country."),
        ("+442079460958123", "This phone number has an impossible length for its country."),
    ],
)
def test_it_refuses_a_phone_number_not_in_e164(client_for, member, phone, message):
    response = post(client_for(member), {"contact_name": "Ada", "phone": phone})

    assert response.status_code == 400
    assert response.json() == invalid(response, ("phone", "invalid", message))


@pytest.mark.parametrize("email", ["ada@example.com", "ADA@EXAMPLE.COM", "Ada@Example.Com"])
def test_it_refuses_an_email_another_lead_has_in_any_case_naming_it(client_for, org, member, email):
    existing = make_lead(org, email="ada@example.com")

    response = post(client_for(member), {"contact_name": "Ada", "email": email})

    assert response.status_code == 409
    assert response.json() == duplicate(response, "email", existing)


def test_it_refuses_an_external_id_another_lead_has_naming_it(client_for, org, member):
    existing = make_lead(org, external_id="crm-17")

    response = post(client_for(member), {"contact_name": "Ada", "external_id": "crm-17"})

    assert response.status_code == 409
    assert response.json() == duplicate(response, "external_id", existing)


def test_it_stores_an_email_as_given(client_for, member):
    response = post(client_for(member), {"contact_name": "Ada", "email": "Ada.L@Example.COM"})

    assert response.json()["email"] == "Ada.L@Example.COM"


def test_it_takes_many_leads_without_email_or_external_id(client_for, org, member):
    make_lead(org)

    response = post(client_for(member), {"contact_name": "Ada", "email": "", "external_id": ""})

    assert response.status_code == 201
    assert response.json()["external_id"] is None


def test_it_takes_the_email_and_external_id_of_a_lead_in_another_org(client_for, other_org, member):
    make_lead(other_org, email="ada@example.com", external_id="crm-17")

    body = {"contact_name": "Ada", "email": "ada@example.com", "external_id": "crm-17"}
    response = post(client_for(member), body)

    assert response.status_code == 201


def test_it_writes_the_creation_on_the_timeline_with_its_events(client_for, org, member, stages):
    response = post(client_for(member), {"contact_name": "Ada"})

    lead = reload(Lead(id=response.json()["id"], organization_id=org.id))
    [created] = timeline(lead)
    assert (created.type, created.actor_type, created.actor_id) == (
        "lead_created",
        "user",
        member.id,
    )
    assert created.data == {
        "pipeline": {"id": str(stages[0].pipeline_id), "name": "Sales"},
        "stage": {"id": str(stages[0].id), "name": "New lead"},
    }
    assert [(e.type, e.data) for e in events(org)] == [
        ("lead.created", response.json()),
        ("activity.created", activity_body(created)),
    ]


def test_it_refuses_a_viewer_to_create_a_lead(client_for, org, viewer):
    response = post(client_for(viewer), {"contact_name": "Ada"})

    assert response.status_code == 403
    assert response.json() == error(response, "permission_denied", PERMISSION_DENIED)
    assert events(org) == []


def test_it_refuses_an_outsider_to_create_a_lead_in_the_org(org, outsider):
    response = post(Client(outsider, org), {"contact_name": "Ada"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "organization_forbidden"


# Read


def test_it_shows_a_lead_to_a_viewer(client_for, org, viewer, member):
    lead = make_lead(org, email="ada@example.com", owner_id=member.id, tags=["vip"])

    response = client_for(viewer).get(f"/v1/leads/{lead.id}")

    assert response.status_code == 200
    assert response.json() == lead_body(reload(lead))


@pytest.mark.parametrize("lead_id", ["not-a-uuid", str(uuid.uuid4())])
def test_it_answers_404_for_a_missing_lead(client_for, member, lead_id):
    response = client_for(member).get(f"/v1/leads/{lead_id}")

    assert response.status_code == 404
    assert response.json() == error(response, "lead_not_found", LEAD_NOT_FOUND)


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_it_answers_404_for_a_lead_of_another_org(client_for, other_org, member, method):
    foreign = make_lead(other_org)

    body = {"contact_name": "Mine"} if method == "patch" else None
    response = getattr(client_for(member), method)(f"/v1/leads/{foreign.id}", body, format="json")

    assert response.status_code == 404
    assert response.json() == error(response, "lead_not_found", LEAD_NOT_FOUND)
    assert reload(foreign).contact_name == "Ada Lovelace"


def test_it_answers_404_to_an_outsider_asking_in_their_own_org(org, outsider, other_org):
    lead = make_lead(org)

    response = Client(outsider, other_org).get(f"/v1/leads/{lead.id}")

    assert response.status_code == 404
    assert response.json() == error(response, "lead_not_found", LEAD_NOT_FOUND)


# Update


def test_it_changes_the_stage_with_an_activity_and_events(client_for, org, member, stages):
    lead = make_lead(org)
    back_date(lead, created_at=INSTANT, updated_at=INSTANT, last_activity_at=INSTANT)

    response = patch(client_for(member), lead, {"stage_id": str(stages[2].id)})

    assert response.status_code == 200
    lead = reload(lead)
    assert response.json() == lead_body(lead)
    assert response.json()["stage"] == "In conversation"
    assert lead.updated_at > INSTANT
    assert lead.last_activity_at == lead.updated_at
    changed = timeline(lead)[-1]
    assert (changed.type, changed.actor_type, changed.actor_id) == (
        "stage_changed",
        "user",
        member.id,
    )
    assert changed.data == {
        "from": {"id": str(stages[0].id), "name": "New lead"},
        "to": {"id": str(stages[2].id), "name": "In conversation"},
    }
    assert [(e.type, e.data) for e in events(org)][2:] == [
        ("lead.updated", response.json()),
        ("lead.stage_changed", response.json()),
        ("activity.created", activity_body(changed)),
    ]


def test_it_moves_a_lead_to_the_first_stage_of_another_pipeline(
    client_for, org, member, pipeline, stages, other_pipeline, other_stages
):
    lead = make_lead(org, stage_id=stages[1].id)

    response = patch(client_for(member), lead, {"pipeline_id": str(other_pipeline.id)})

    assert response.status_code == 200
    assert (response.json()["pipeline_id"], response.json()["stage"]) == (
        str(other_pipeline.id),
        "Intro",
    )
    assert [(a.type, a.data) for a in timeline(lead)[1:]] == sorted(
        [
            (
                "pipeline_moved",
                {
                    "from": {"id": str(pipeline.id), "name": "Sales"},
                    "to": {"id": str(other_pipeline.id), "name": "Partners"},
                },
            ),
            (
                "stage_changed",
                {
                    "from": {"id": str(stages[1].id), "name": "Qualified"},
                    "to": {"id": str(other_stages[0].id), "name": "Intro"},
                },
            ),
        ]
    )
    assert [e.type for e in events(org, "lead.stage_changed")] == ["lead.stage_changed"]


def test_it_moves_a_lead_to_the_stage_of_another_pipeline_it_names(
    client_for, org, member, other_pipeline, other_stages
):
    lead = make_lead(org)
    body = {"pipeline_id": str(other_pipeline.id), "stage_id": str(other_stages[1].id)}

    response = patch(client_for(member), lead, body)

    assert response.status_code == 200
    assert response.json()["stage"] == "Signed"


def test_it_refuses_a_stage_of_another_pipeline_without_moving_the_pipeline(
    client_for, org, member, stages, other_stages
):
    lead = make_lead(org)

    response = patch(client_for(member), lead, {"stage_id": str(other_stages[0].id)})

    assert response.status_code == 400
    assert response.json() == invalid(
        response, ("stage_id", "invalid", "Must be an active stage of the pipeline Sales.")
    )
    assert reload(lead).stage_id == stages[0].id
    assert len(timeline(lead)) == 1


def test_it_refuses_to_move_a_lead_to_a_stage_of_another_org(
    client_for, org, member, foreign_stage
):
    lead = make_lead(org)
    body = {"pipeline_id": str(foreign_stage.pipeline_id), "stage_id": str(foreign_stage.id)}

    response = patch(client_for(member), lead, body)

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "pipeline_id"
    assert reload(lead).pipeline_id != foreign_stage.pipeline_id


def test_it_assigns_and_unassigns_a_lead_with_its_activities(client_for, org, member, admin):
    lead = make_lead(org)
    client = client_for(admin)

    assigned = patch(client, lead, {"owner_id": str(member.id)})
    unassigned = patch(client, lead, {"owner_id": None})

    assert assigned.json()["owner_id"] == str(member.id)
    assert unassigned.json()["owner_id"] is None
    assert [(a.type, a.actor_id, a.data) for a in timeline(lead)[1:]] == [
        ("assignment_changed", admin.id, {"from": None, "to": str(member.id)}),
        ("assignment_changed", admin.id, {"from": str(member.id), "to": None}),
    ]


def test_it_writes_each_changed_field_with_its_before_and_after(client_for, org, member):
    make_field(org, "industry")
    make_field(org, "seats", "number")
    lead = make_lead(
        org, value_cents=100, tags=["a"], custom_fields={"industry": "Rail", "seats": 3}
    )
    body = {
        "contact_name": "Ada King",
        "company_name": "",
        "value_cents": 250,
        "tags": ["a", "B"],
        "custom_fields": {"industry": "Computing", "seats": None},
    }

    response = patch(client_for(member), lead, body)

    assert response.status_code == 200
    assert response.json()["custom_fields"] == {"industry": "Computing"}
    changes = [a.data for a in timeline(lead) if a.type == "field_updated"]
    assert sorted(changes, key=lambda change: change["field"]) == [
        {"field": "contact_name", "before": "Ada Lovelace", "after": "Ada King"},
        {"field": "custom_fields.industry", "before": "Rail", "after": "Computing"},
        {"field": "custom_fields.seats", "before": 3, "after": None},
        {"field": "tags", "before": ["a"], "after": ["a", "b"]},
        {"field": "value_cents", "before": 100, "after": 250},
    ]
    assert {a.actor_id for a in timeline(lead)[1:]} == {member.id}
    assert len(events(org, "activity.created")) == 1 + 5
    assert [e.data for e in events(org, "lead.updated")] == [response.json()]


def test_it_changes_nothing_for_an_update_that_changes_nothing(client_for, org, member, stages):
    lead = make_lead(org, email="ada@example.com", tags=["vip"])
    back_date(lead, updated_at=INSTANT)
    body = {"email": "ada@example.com", "tags": ["VIP"], "stage_id": str(stages[0].id)}

    response = patch(client_for(member), lead, body)

    assert response.status_code == 200
    assert reload(lead).updated_at == INSTANT
    assert [a.type for a in timeline(lead)] == ["lead_created"]
    assert [e.type for e in events(org)] == ["lead.created", "activity.created"]


def test_it_lets_a_lead_change_the_case_of_its_own_email(client_for, org, member):
    lead = make_lead(org, email="ada@example.com")

    response = patch(client_for(member), lead, {"email": "ADA@example.com"})

    assert response.status_code == 200
    assert response.json()["email"] == "ADA@example.com"


def test_it_refuses_to_take_the_email_of_another_lead(client_for, org, member):
    holder = make_lead(org, email="ada@example.com")
    lead = make_lead(org, email="grace@example.com")

    response = patch(client_for(member), lead, {"email": "Ada@Example.com"})

    assert response.status_code == 409
    assert response.json() == duplicate(response, "email", holder)
    assert reload(lead).email == "grace@example.com"


def test_it_refuses_to_take_the_external_id_of_another_lead(client_for, org, member):
    holder = make_lead(org, external_id="crm-1")
    lead = make_lead(org, external_id="crm-2")

    response = patch(client_for(member), lead, {"external_id": "crm-1"})

    assert response.status_code == 409
    assert response.json() == duplicate(response, "external_id", holder)


def test_it_checks_the_body_of_an_update(client_for, org, member):
    lead = make_lead(org)

    body = {"phone": "555", "owner_id": str(uuid.uuid4()), "stage_id": str(uuid.uuid4())}

    response = patch(client_for(member), lead, body)

    assert response.status_code == 400
    assert response.json() == invalid(
        response,
        ("phone", "invalid", E164_MESSAGE),
        ("owner_id", "not_a_member", "Must be the id of a member of this organization."),
        ("stage_id", "invalid", "Must be an active stage of the pipeline Sales."),
    )
    assert [a.type for a in timeline(lead)] == ["lead_created"]


def test_it_refuses_a_viewer_to_change_or_delete_a_lead(client_for, org, viewer):
    lead = make_lead(org)
    client = client_for(viewer)

    changed = patch(client, lead, {"contact_name": "Grace"})
    deleted = client.delete(f"/v1/leads/{lead.id}")

    for response in (changed, deleted):
        assert response.status_code == 403
        assert response.json() == error(response, "permission_denied", PERMISSION_DENIED)
    assert reload(lead).contact_name == "Ada Lovelace"


def test_it_records_an_agent_or_the_system_as_the_actor(org, stages):
    agent_id = uuid.uuid4()
    lead = make_lead(org)

    update_lead(lead, actor=Actor.agent(agent_id), stage_id=stages[1].id)
    update_lead(lead, stage_id=stages[2].id)

    assert [(a.actor_type, a.actor_id) for a in timeline(lead)[1:]] == [
        ("agent", agent_id),
        ("system", None),
    ]


# Delete


def test_it_deletes_a_lead_and_its_timeline(client_for, org, member):
    lead = make_lead(org)
    representation = lead_body(reload(lead))
    client = client_for(member)

    response = client.delete(f"/v1/leads/{lead.id}")

    assert response.status_code == 204
    assert response.content == b""
    assert client.get(f"/v1/leads/{lead.id}").status_code == 404
    assert timeline(lead) == []
    [deleted] = events(org, "lead.deleted")
    assert deleted.data == representation


# List


def test_it_lists_the_leads_of_the_org_newest_first_and_no_others(
    client_for, org, other_org, viewer
):
    leads = [make_lead(org, contact_name=f"Lead {n}") for n in range(3)]
    make_lead(other_org, contact_name="Foreign")

    response = client_for(viewer).get("/v1/leads")

    assert response.status_code == 200
    assert response.json() == {
        "items": [lead_body(reload(lead)) for lead in reversed(leads)],
        "next_cursor": None,
    }


def test_it_lists_a_lead_with_every_field_as_it_shows_the_lead(client_for, org, member, stages):
    make_field(org, "industry")
    lead = make_lead(
        org,
        contact_name="Ada Lovelace",
        company_name="Analytical Engines",
        email="Ada@Example.com",
        phone="+14155550123",
        phone_extension="42",
        website="https://engines.example",
        source="conference",
        stage_id=stages[1].id,
        owner_id=member.id,
        tags=["vip", "big deal"],
        value_cents=125000,
        external_id="crm-17",
        custom_fields={"industry": "Computing"},
    )
    client = client_for(member)

    listed = client.get("/v1/leads").json()["items"]

    assert listed == [client.get(f"/v1/leads/{lead.id}").json()]
    assert listed[0]["stage"] == "Qualified"


def test_it_filters_by_pipeline_and_by_stage(client_for, org, member, stages, other_pipeline):
    first = make_lead(org)
    qualified = make_lead(org, stage_id=stages[1].id)
    partner = make_lead(org, pipeline_id=other_pipeline.id)
    client = client_for(member)

    by_pipeline = client.get("/v1/leads", {"pipeline_id": str(other_pipeline.id)})
    by_stage = client.get("/v1/leads", {"stage_id": str(stages[1].id)})
    by_both = client.get(
        "/v1/leads", {"pipeline_id": str(stages[0].pipeline_id), "stage_id": str(stages[0].id)}
    )

    assert ids(by_pipeline) == [str(partner.id)]
    assert ids(by_stage) == [str(qualified.id)]
    assert ids(by_both) == [str(first.id)]


def test_it_filters_by_stage_name_in_any_case_across_pipelines(
    client_for, org, member, stages, other_pipeline
):
    with org_scope(org.id):
        intro = pipeline_services.stage_add(other_pipeline, name="Qualified", kind="open")
    qualified = make_lead(org, stage_id=stages[1].id)
    partner = make_lead(org, pipeline_id=other_pipeline.id, stage_id=intro.id)
    make_lead(org)

    response = client_for(member).get("/v1/leads", {"stage": "QUALIFIED"})

    assert ids(response) == [str(partner.id), str(qualified.id)]


def test_it_filters_by_owner(client_for, org, member, admin):
    mine = make_lead(org, owner_id=member.id)
    make_lead(org, owner_id=admin.id)
    make_lead(org)

    response = client_for(member).get("/v1/leads", {"owner_id": str(member.id)})

    assert ids(response) == [str(mine.id)]


def test_it_filters_by_tags_all_of_which_must_match(client_for, org, member):
    both = make_lead(org, tags=["vip", "big deal", "q3"])
    make_lead(org, tags=["vip"])
    make_lead(org, tags=["big deal"])
    client = client_for(member)

    response = client.get("/v1/leads", {"tag": ["VIP", " Big  Deal "]})
    one = client.get("/v1/leads", {"tag": "vip"})

    assert ids(response) == [str(both.id)]
    assert len(ids(one)) == 2


def test_it_filters_by_email_in_any_case(client_for, org, member):
    ada = make_lead(org, email="Ada@Example.com")
    make_lead(org, email="grace@example.com")
    make_lead(org)

    response = client_for(member).get("/v1/leads", {"email": "ada@EXAMPLE.com"})

    assert ids(response) == [str(ada.id)]


def test_it_searches_a_substring_of_name_company_and_email_in_any_case(client_for, org, member):
    by_name = make_lead(org, contact_name="Ada Lovelace")
    by_company = make_lead(org, contact_name="Grace", company_name="LOVELACE Labs")
    by_email = make_lead(org, contact_name="Alan", email="alan@lovelace.example")
    make_lead(org, contact_name="Charles Babbage", company_name="Engines")

    response = client_for(member).get("/v1/leads", {"q": "ovelac"})

    assert ids(response) == [str(by_email.id), str(by_company.id), str(by_name.id)]


def test_it_filters_by_creation_and_update_time(client_for, org, member):
    old, middle, new = (make_lead(org, contact_name=name) for name in ("Old", "Middle", "New"))
    for days, lead in enumerate((old, middle, new)):
        moment = INSTANT + datetime.timedelta(days=days)
        back_date(lead, created_at=moment, updated_at=moment + datetime.timedelta(days=10))
    client = client_for(member)

    created = client.get(
        "/v1/leads",
        {"created_at__gte": "2026-06-27T17:45:13Z", "created_at__lt": "2026-06-28T17:45:13Z"},
    )
    updated = client.get("/v1/leads", {"updated_at__gte": "2026-07-07T19:45:13+02:00"})
    updated_before = client.get("/v1/leads", {"updated_at__lt": "2026-07-07T17:45:13"})

    assert ids(created) == [str(middle.id)]
    assert ids(updated) == [str(new.id), str(middle.id)]
    assert ids(updated_before) == [str(old.id)]


MALFORMED_PIPELINE = ("pipeline_id", "invalid", "Must be a valid UUID.")
MALFORMED_STAGE = ("stage_id", "invalid", "Must be a valid UUID.")
MALFORMED_MEMBER = ("owner_id", "invalid", "Must be a valid UUID.")
UNKNOWN_PIPELINE = (
    "pipeline_id",
    "invalid_choice",
    "No pipeline with this id in this organization.",
)
UNKNOWN_STAGE = ("stage_id", "invalid_choice", "No stage with this id in this organization.")
UNKNOWN_MEMBER = ("owner_id", "invalid_choice", "No member with this id in this organization.")
BAD_TIME = "Enter an ISO 8601 timestamp, such as 2026-06-26T17:45:13Z."
ORDER_KEYS = "created_at, -created_at, updated_at, -updated_at, value_cents, -value_cents"
UNKNOWN_STAGE_NAME = ("stage", "invalid_choice", "No stage of this organization has this name.")
LONG_QUERY = ("q", "max_length", "Ensure this value has at most 200 characters (it has 201).")
BAD_ORDER = ("order_by", "invalid_choice", f"Must be one of: {ORDER_KEYS}.")
UNKNOWN_PARAMETER = ("owner", "unknown_parameter", "This endpoint has no such query parameter.")
NUL = "Null characters are not allowed."


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"pipeline_id": "nope"}, MALFORMED_PIPELINE),
        ({"pipeline_id": str(uuid.uuid4())}, UNKNOWN_PIPELINE),
        ({"stage_id": "nope"}, MALFORMED_STAGE),
        ({"stage_id": str(uuid.uuid4())}, UNKNOWN_STAGE),
        ({"owner_id": "nope"}, MALFORMED_MEMBER),
        ({"owner_id": str(uuid.uuid4())}, UNKNOWN_MEMBER),
        ({"stage": "Nowhere"}, UNKNOWN_STAGE_NAME),
        ({"email": "ada@"}, ("email", "invalid", "Enter a valid email address.")),
        ({"q": "x" * 201}, LONG_QUERY),
        ({"tag": "x" * 51}, ("tag", "max_length", "A tag has at most 50 characters.")),
        ({"tag": "a\x00b"}, ("tag", "null_characters_not_allowed", NUL)),
        (
            {"created_at__gte": "9999-12-31T23:59:59-23:59"},
            ("created_at__gte", "invalid", BAD_TIME),
        ),
        ({"created_at__gte": "yesterday"}, ("created_at__gte", "invalid", BAD_TIME)),
        ({"updated_at__lt": "2026-13-01"}, ("updated_at__lt", "invalid", BAD_TIME)),
        ({"order_by": "contact_name"}, BAD_ORDER),
        ({"owner": "me"}, UNKNOWN_PARAMETER),
    ],
)
def test_it_refuses_an_invalid_filter_naming_the_parameter(client_for, org, member, params, detail):
    make_lead(org)

    response = client_for(member).get("/v1/leads", params)

    assert response.status_code == 400
    assert response.json() == invalid(response, detail)


def test_it_refuses_a_filter_on_an_id_of_another_org(client_for, member, outsider, foreign_stage):
    client = client_for(member)

    responses = {
        "pipeline_id": client.get("/v1/leads", {"pipeline_id": str(foreign_stage.pipeline_id)}),
        "stage_id": client.get("/v1/leads", {"stage_id": str(foreign_stage.id)}),
        "owner_id": client.get("/v1/leads", {"owner_id": str(outsider.id)}),
    }

    for parameter, response in responses.items():
        assert response.status_code == 400
        assert response.json()["error"]["details"][0]["field"] == parameter


@pytest.mark.parametrize(
    "order_by",
    ["created_at", "-created_at", "updated_at", "-updated_at", "value_cents", "-value_cents"],
)
def test_it_walks_the_list_in_each_order_without_repeats_or_gaps(client_for, org, member, order_by):
    values = [300, 100, 200, 100, 0, 100, 500]
    leads = [make_lead(org, contact_name=f"L{n}", value_cents=v) for n, v in enumerate(values)]
    for n, lead in enumerate(leads):
        # Ties on purpose: the id breaks them.
        back_date(
            lead,
            created_at=INSTANT + datetime.timedelta(minutes=n // 2),
            updated_at=INSTANT - datetime.timedelta(minutes=n % 3),
        )
    rows = [reload(lead) for lead in leads]
    key = order_by.removeprefix("-")
    expected = sorted(rows, key=lambda r: (getattr(r, key), r.id), reverse=order_by[0] == "-")
    client = client_for(member)

    seen, cursor = [], None
    while True:
        params = {"order_by": order_by, "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get("/v1/leads", params).json()
        seen.extend(item["id"] for item in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == [str(row.id) for row in expected]


def test_it_refuses_a_cursor_made_for_another_order(client_for, org, member):
    for n in range(3):
        make_lead(org, contact_name=f"L{n}")
    client = client_for(member)
    cursor = client.get("/v1/leads", {"limit": 1}).json()["next_cursor"]

    response = client.get("/v1/leads", {"limit": 1, "cursor": cursor, "order_by": "value_cents"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_cursor"


def test_it_lists_the_leads_in_as_many_queries_however_many_they_are(
    client_for, org, member, admin
):
    make_field(org, "industry")
    client = client_for(member)

    def list_queries(count: int) -> int:
        with org_scope(org.id):
            Activity.objects.all().delete()
            Lead.objects.all().delete()
        for n in range(count):
            owner = (member, admin, None)[n % 3]
            make_lead(
                org,
                contact_name=f"Lead {n}",
                owner_id=owner.id if owner else None,
                tags=["vip"],
                custom_fields={"industry": "Rail"},
            )
        client.get("/v1/leads")
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/v1/leads", {"limit": 200, "tag": "vip", "q": "lead"})
        assert len(response.json()["items"]) == count
        return len(queries)

    assert list_queries(5) == list_queries(50)


def test_it_needs_a_known_user_for_every_route(anonymous, org):
    lead = make_lead(org)

    responses = [anonymous.get("/v1/leads"), anonymous.get(f"/v1/leads/{lead.id}")]

    assert [r.status_code for r in responses] == [401, 401]


def test_it_lets_a_new_member_own_leads(client_for, org, owner):
    newcomer = make_user("new@example.com")
    add_member(org, newcomer, "member")

    response = post(client_for(owner), {"contact_name": "Ada", "owner_id": str(newcomer.id)})

    assert response.status_code == 201


def test_it_answers_409_when_a_concurrent_write_took_the_email_first(
    client_for, org, member, monkeypatch
):
    holder = make_lead(org, email="ada@example.com")
    real = selectors.lead_with_email
    calls = []

    def missed_once(*args, **kwargs):
        # The first check runs before the other write commits, so it sees nothing.
        calls.append(args)
        return None if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(selectors, "lead_with_email", missed_once)

    response = post(client_for(member), {"contact_name": "Ada", "email": "ADA@example.com"})

    assert response.status_code == 409
    assert response.json() == duplicate(response, "email", holder)
    assert len(calls) == 2


# Support admin


def test_it_shows_support_the_leads_of_every_org_and_finds_them(support, org, other_org, pipeline):
    ada = make_lead(org, email="ada@example.com")
    grace = make_lead(other_org, contact_name="Grace Hopper", external_id="crm-9")

    def rows(**params) -> set:
        response = support.get("/admin/leads/lead/", params)
        assert response.status_code == 200
        return {lead.id for lead in response.context["cl"].result_list}

    assert rows() == {ada.id, grace.id}
    assert rows(q="ADA@EXAMPLE") == {ada.id}
    assert rows(q="crm-9") == {grace.id}
    assert rows(q="hopper") == {grace.id}
    assert rows(organization_id=str(org.id), pipeline_id=str(pipeline.id)) == {ada.id}
    assert support.get(f"/admin/leads/lead/{ada.id}/change/").status_code == 200


def test_it_finds_a_lead_by_email_through_the_unique_index_under_row_security(org):
    lead = make_lead(org, email="ada@example.com")
    with org_scope(org.id), connection.cursor() as cursor:
        # Enough analyzed rows that the planner's choice follows selectivity alone.
        cursor.execute(
            "INSERT INTO leads_lead (id, organization_id, pipeline_id, stage_id, contact_name,"
            " company_name, email, phone, phone_extension, website, source, tags, value_cents,"
            " custom_fields, created_at, updated_at)"
            " SELECT gen_random_uuid(), organization_id, pipeline_id, stage_id, 'Lead ' || g,"
            " '', 'lead' || g || '@example.com', '', '', '', '', '{}', 0, '{}', now(), now()"
            " FROM leads_lead, generate_series(1, 3000) AS g WHERE id = %s",
            [lead.id],
        )
        cursor.execute("ANALYZE leads_lead")

    with org_scope(org.id):
        plan = selectors.leads_with_email(org.id, "ADA@example.com").explain()

    assert "lead_email_ci_unique" in plan


def test_the_fast_lead_answer_matches_the_serializer_fields(org, owner):
    with org_scope(org.id):
        lead = services.lead_create(
            organization=org,
            actor=Actor.user(owner),
            contact_name="Ana Lima",
            email="Ana@Example.com",
            phone="+14155550123",
            tags=["VIP", "inbound"],
            value_cents=1250,
            external_id="crm-1",
        )
        for candidate in (lead, Lead.objects.select_related("stage").get(pk=lead.pk)):
            serializer = LeadSerializer()
            assert serializer.to_representation(candidate) == serializer.fields_representation(
                candidate
            )


def test_a_member_who_leaves_the_org_owns_none_of_its_leads_any_more(
    client_for, org, admin, member
):
    owned = [make_lead(org, owner_id=member.id, email=f"l{n}@example.com") for n in range(2)]
    other = make_lead(org, owner_id=admin.id, email="kept@example.com")

    response = client_for(admin).delete(f"/v1/members/{member.id}")

    assert response.status_code == 204
    assert [reload(lead).owner_id for lead in [*owned, other]] == [None, None, admin.id]
    assignment = [a for a in timeline(owned[0]) if a.type == "assignment_changed"][-1]
    assert (assignment.actor_type, assignment.actor_id) == ("user", admin.id)
    assert assignment.data == {"from": str(member.id), "to": None}
    updated = [e.data["id"] for e in events(org, "lead.updated")]
    assert sorted(updated) == sorted(str(lead.id) for lead in owned)
    listed = client_for(admin).get("/v1/leads", {"owner_id": str(admin.id)})
    assert [item["id"] for item in listed.json()["items"]] == [str(other.id)]
