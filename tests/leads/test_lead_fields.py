"""Custom field definitions, and the values leads carry for them."""

import uuid

import pytest

from apollo.tenancy import org_scope
from leads.models import LeadField
from tests.leads.conftest import error, invalid, iso, make_field, make_lead, reload

pytestmark = pytest.mark.django_db

FIELD_NOT_FOUND = "No custom field with this id in this organization."
PERMISSION_DENIED = "Your role does not allow this action."


def field_body(field: LeadField) -> dict:
    return {
        "id": str(field.id),
        "key": field.key,
        "label": field.label,
        "type": field.type,
        "options": field.options,
        "created_at": iso(field.created_at),
        "updated_at": iso(field.updated_at),
    }


def stored(field: LeadField) -> LeadField:
    with org_scope(field.organization_id):
        return LeadField.objects.get(pk=field.pk)


def define(client, body):
    return client.post("/v1/lead-fields", body, format="json")


# Definitions


def test_it_defines_a_custom_field(client_for, org, admin):
    body = {"key": "tier", "label": "Tier", "type": "select", "options": ["gold", "silver"]}

    response = define(client_for(admin), body)

    assert response.status_code == 201
    field = stored(LeadField(id=response.json()["id"], organization_id=org.id))
    assert response.json() == field_body(field)
    assert (field.key, field.label, field.type, field.options) == (
        "tier",
        "Tier",
        "select",
        ["gold", "silver"],
    )


def test_it_defines_a_field_without_options_for_a_plain_type(client_for, admin):
    response = define(client_for(admin), {"key": "notes_2", "label": "Notes", "type": "long_text"})

    assert response.status_code == 201
    assert response.json()["options"] == []


def test_it_lists_the_definitions_of_the_org_to_a_viewer_and_no_others(
    client_for, org, other_org, viewer
):
    fields = [make_field(org, "industry"), make_field(org, "seats", "number")]
    make_field(other_org, "secret")

    response = client_for(viewer).get("/v1/lead-fields")

    assert response.status_code == 200
    assert response.json() == {
        "items": [field_body(stored(field)) for field in reversed(fields)],
        "next_cursor": None,
    }


def test_it_shows_one_definition(client_for, org, member):
    field = make_field(org, "tier", "multi_select", ["gold", "silver"])

    response = client_for(member).get(f"/v1/lead-fields/{field.id}")

    assert response.status_code == 200
    assert response.json() == field_body(stored(field))


def test_it_refuses_a_key_the_org_already_has(client_for, org, admin):
    make_field(org, "industry")

    response = define(client_for(admin), {"key": "industry", "label": "Sector", "type": "text"})

    assert response.status_code == 409
    assert response.json() == error(
        response, "lead_field_key_taken", "A custom field of this organization has this key."
    )


def test_it_takes_a_key_another_org_has(client_for, other_org, admin):
    make_field(other_org, "industry")

    response = define(client_for(admin), {"key": "industry", "label": "Sector", "type": "text"})

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            {"key": "Industry", "label": "Industry", "type": "text"},
            ("key", "invalid", "This value does not match the required pattern."),
        ),
        (
            {"key": "industry.size", "label": "Size", "type": "text"},
            ("key", "invalid", "This value does not match the required pattern."),
        ),
        (
            {"key": "colour", "label": "Colour", "type": "color"},
            ("type", "invalid_choice", '"color" is not a valid choice.'),
        ),
        ({"key": "colour", "type": "text"}, ("label", "required", "This field is required.")),
        (
            {"key": "tier", "label": "Tier", "type": "select"},
            ("options", "required", "A select or multi_select field needs at least one option."),
        ),
        (
            {"key": "tier", "label": "Tier", "type": "multi_select", "options": []},
            ("options", "required", "A select or multi_select field needs at least one option."),
        ),
        (
            {"key": "tier", "label": "Tier", "type": "text", "options": ["gold"]},
            ("options", "invalid", "Only select and multi_select fields have options."),
        ),
        (
            {"key": "tier", "label": "Tier", "type": "select", "options": ["gold", "gold"]},
            ("options", "duplicate", "Options must be unique."),
        ),
    ],
)
def test_it_refuses_an_invalid_definition_naming_the_field(client_for, admin, body, detail):
    response = define(client_for(admin), body)

    assert response.status_code == 400
    assert response.json() == invalid(response, detail)


def test_it_changes_the_label_and_options_of_a_definition(client_for, org, admin):
    field = make_field(org, "tier", "select", ["gold", "silver"])

    response = client_for(admin).patch(
        f"/v1/lead-fields/{field.id}",
        {"label": "Customer tier", "options": ["gold", "silver", "bronze"]},
        format="json",
    )

    assert response.status_code == 200
    field = stored(field)
    assert response.json() == field_body(field)
    assert (field.label, field.options) == ("Customer tier", ["gold", "silver", "bronze"])


def test_it_refuses_to_change_the_key_or_type_of_a_definition(client_for, org, admin):
    field = make_field(org, "tier", "select", ["gold"])

    response = client_for(admin).patch(
        f"/v1/lead-fields/{field.id}", {"key": "level", "type": "text"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == invalid(
        response,
        ("key", "immutable", "The key of a custom field cannot change."),
        ("type", "immutable", "The type of a custom field cannot change."),
    )
    assert stored(field).type == "select"


def test_it_deletes_a_definition_and_its_values_from_every_lead(client_for, org, admin):
    make_field(org, "industry")
    field = make_field(org, "tier", "select", ["gold"])
    tiered = make_lead(org, custom_fields={"industry": "Rail", "tier": "gold"})
    untiered = make_lead(org, custom_fields={"industry": "Rail"})
    client = client_for(admin)

    response = client.delete(f"/v1/lead-fields/{field.id}")

    assert response.status_code == 204
    assert client.get(f"/v1/lead-fields/{field.id}").status_code == 404
    assert reload(tiered).custom_fields == {"industry": "Rail"}
    assert reload(tiered).updated_at > tiered.updated_at
    assert reload(untiered).updated_at == untiered.updated_at


def test_it_refuses_a_member_to_define_change_or_delete_a_field(client_for, org, member):
    field = make_field(org, "tier", "select", ["gold"])
    client = client_for(member)

    responses = [
        define(client, {"key": "industry", "label": "Industry", "type": "text"}),
        client.patch(f"/v1/lead-fields/{field.id}", {"label": "Level"}, format="json"),
        client.delete(f"/v1/lead-fields/{field.id}"),
    ]

    for response in responses:
        assert response.status_code == 403
        assert response.json() == error(response, "permission_denied", PERMISSION_DENIED)
    assert stored(field).label == "Tier"


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_it_answers_404_for_a_definition_of_another_org(client_for, other_org, admin, method):
    foreign = make_field(other_org, "secret")
    body = {"label": "Mine"} if method == "patch" else None

    response = getattr(client_for(admin), method)(
        f"/v1/lead-fields/{foreign.id}", body, format="json"
    )

    assert response.status_code == 404
    assert response.json() == error(response, "lead_field_not_found", FIELD_NOT_FOUND)
    assert stored(foreign).label == "Secret"


@pytest.mark.parametrize("field_id", ["not-a-uuid", str(uuid.uuid4())])
def test_it_answers_404_for_a_missing_definition(client_for, admin, field_id):
    response = client_for(admin).get(f"/v1/lead-fields/{field_id}")

    assert response.status_code == 404
    assert response.json() == error(response, "lead_field_not_found", FIELD_NOT_FOUND)


# Values on leads


def lead_with(client, key, value):
    body = {"contact_name": "Ada", "custom_fields": {key: value}}
    return client.post("/v1/leads", body, format="json")


@pytest.mark.parametrize(
    ("type", "value", "stored_as"),
    [
        ("text", "Rail", "Rail"),
        ("long_text", "x" * 10000, "x" * 10000),
        ("number", 3, 3),
        ("number", 2.5, 2.5),
        ("number", -1, -1),
        ("date", "2026-06-26", "2026-06-26"),
        ("select", "gold", "gold"),
        ("multi_select", ["silver", "gold", "silver"], ["silver", "gold"]),
        ("multi_select", [], []),
    ],
)
def test_it_takes_a_custom_value_that_suits_its_type(
    client_for, org, member, type, value, stored_as
):
    options = ["gold", "silver"] if "select" in type else None
    make_field(org, "value", type, options)

    response = lead_with(client_for(member), "value", value)

    assert response.status_code == 201, response.json()
    assert response.json()["custom_fields"] == {"value": stored_as}


@pytest.mark.parametrize(
    ("type", "value", "code", "message"),
    [
        ("text", 5, "invalid", "Must be a string."),
        ("text", "x" * 1001, "max_length", "At most 1000 characters."),
        ("long_text", "x" * 10001, "max_length", "At most 10000 characters."),
        ("number", True, "invalid", "Must be a number."),
        ("number", "5", "invalid", "Must be a number."),
        ("number", 10**400, "invalid", "Must be a number."),
        ("date", "2026-02-30", "invalid", "Must be a date as YYYY-MM-DD."),
        ("date", "20260626", "invalid", "Must be a date as YYYY-MM-DD."),
        ("date", "2026-06-26T10:00:00Z", "invalid", "Must be a date as YYYY-MM-DD."),
        ("select", "bronze", "invalid_choice", "Must be one of: gold, silver."),
        ("select", ["gold"], "invalid_choice", "Must be one of: gold, silver."),
        ("multi_select", ["gold", "bronze"], "invalid_choice", "Must be a list of: gold, silver."),
        ("multi_select", "gold", "invalid_choice", "Must be a list of: gold, silver."),
    ],
)
def test_it_refuses_a_custom_value_that_does_not_suit_its_type(
    client_for, org, member, type, value, code, message
):
    options = ["gold", "silver"] if "select" in type else None
    make_field(org, "value", type, options)

    response = lead_with(client_for(member), "value", value)

    assert response.status_code == 400
    assert response.json() == invalid(response, ("custom_fields.value", code, message))


def test_it_refuses_a_custom_value_no_definition_has(client_for, other_org, member):
    make_field(other_org, "industry")

    response = lead_with(client_for(member), "industry", "Rail")

    assert response.status_code == 400
    assert response.json() == invalid(
        response, ("custom_fields.industry", "unknown_field", "No custom field has this key.")
    )
