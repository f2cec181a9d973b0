"""Pipelines through the public API: the default one, listing, creating, changing."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apollo.tenancy import org_scope
from pipelines.models import Pipeline
from tests.pipelines.conftest import (
    DEFAULT_STAGES,
    PIPELINE_NOT_FOUND,
    ROLE_MESSAGE,
    default_pipeline,
    error,
    iso,
    layout,
    make_pipeline,
    pipeline_body,
)

pytestmark = pytest.mark.django_db

NAME_TAKEN = "An active pipeline already has this name."


def ids(response) -> list[str]:
    return [item["id"] for item in response.json()["items"]]


# The default pipeline


def test_it_gives_a_new_org_the_default_pipeline_with_seven_stages(client_for, viewer, sales):
    response = client_for(viewer).get(f"/v1/pipelines/{sales.id}")

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "id": str(sales.id),
        "name": "Sales",
        "is_default": True,
        "archived": False,
        "created_at": iso(sales.created_at),
        "updated_at": iso(sales.updated_at),
        "stages": pipeline_body(sales)["stages"],
    }
    assert [(s["name"], s["kind"], s["position"]) for s in body["stages"]] == [
        (name, kind, position) for position, (name, kind) in enumerate(DEFAULT_STAGES)
    ]
    assert not any(stage["archived"] for stage in body["stages"])


def test_it_gives_each_org_its_own_default_pipeline(org, other_org):
    ours, theirs = default_pipeline(org), default_pipeline(other_org)

    assert ours.id != theirs.id
    assert layout(theirs) == [(name, position) for position, (name, _) in enumerate(DEFAULT_STAGES)]


# GET /v1/pipelines


def test_it_lists_the_pipelines_newest_first_with_their_stages(client_for, viewer, sales, org):
    partners = make_pipeline(org)

    response = client_for(viewer).get("/v1/pipelines")

    assert response.status_code == 200
    assert response.json() == {
        "items": [pipeline_body(partners), pipeline_body(sales)],
        "next_cursor": None,
    }


def test_it_leaves_archived_pipelines_out_of_the_list_by_default(client_for, viewer, sales, org):
    archived = make_pipeline(org)
    with org_scope(org.id):
        Pipeline.objects.filter(pk=archived.pk).update(archived_at=archived.created_at)

    assert ids(client_for(viewer).get("/v1/pipelines")) == [str(sales.id)]
    assert ids(client_for(viewer).get("/v1/pipelines?archived=false")) == [str(sales.id)]
    assert ids(client_for(viewer).get("/v1/pipelines?archived=true")) == [str(archived.id)]


@pytest.mark.parametrize("query", ["archived=maybe", "archived=yes", "archived=2"])
def test_it_refuses_an_archived_filter_that_is_not_a_boolean(client_for, viewer, query):
    response = client_for(viewer).get(f"/v1/pipelines?{query}")

    assert response.status_code == 400
    assert response.json() == error(
        response,
        "validation_error",
        "The request is not valid.",
        [{"field": "archived", "code": "invalid", "message": "Must be true or false."}],
    )


def test_it_refuses_an_unknown_filter(client_for, viewer):
    response = client_for(viewer).get("/v1/pipelines?kind=open")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == [
        {
            "field": "kind",
            "code": "unknown_parameter",
            "message": "This endpoint has no such query parameter.",
        }
    ]


def test_it_never_lists_a_pipeline_of_another_org(client_for, owner, org, other_org):
    make_pipeline(other_org, name="Rival deals")

    response = client_for(owner).get("/v1/pipelines")

    assert response.status_code == 200
    assert ids(response) == [str(default_pipeline(org).id)]


def test_it_pages_the_list_with_a_cursor(client_for, viewer, org, sales):
    newer = make_pipeline(org)

    first = client_for(viewer).get("/v1/pipelines?limit=1")
    second = client_for(viewer).get(f"/v1/pipelines?limit=1&cursor={first.json()['next_cursor']}")

    assert ids(first) == [str(newer.id)]
    assert second.json() == {"items": [pipeline_body(sales)], "next_cursor": None}


def test_it_lists_pipelines_in_a_number_of_queries_that_does_not_grow(client_for, viewer, org):
    client = client_for(viewer)
    client.get("/v1/pipelines")  # Warm the caches of the first request of a process.
    with CaptureQueriesContext(connection) as one:
        assert len(ids(client.get("/v1/pipelines"))) == 1
    for index in range(4):
        make_pipeline(org, name=f"Pipeline {index}")

    with CaptureQueriesContext(connection) as five:
        assert len(ids(client.get("/v1/pipelines"))) == 5

    assert len(five) == len(one)


# POST /v1/pipelines


def test_it_creates_a_pipeline_with_its_stages_in_order(client_for, admin, sales):
    body = {
        "name": "Partners",
        "stages": [
            {"name": "Intro", "kind": "open"},
            {"name": "Signed", "kind": "won"},
            {"name": "Dropped", "kind": "lost"},
        ],
    }

    response = client_for(admin).post("/v1/pipelines", body, format="json")

    assert response.status_code == 201
    created = Pipeline(pk=response.json()["id"], organization_id=sales.organization_id)
    assert response.json() == pipeline_body(created)
    assert response.json()["is_default"] is False
    assert [(s["name"], s["kind"], s["position"]) for s in response.json()["stages"]] == [
        ("Intro", "open", 0),
        ("Signed", "won", 1),
        ("Dropped", "lost", 2),
    ]


def test_it_makes_a_new_pipeline_the_default_when_asked(client_for, admin, sales):
    body = {"name": "Partners", "stages": [{"name": "Intro", "kind": "open"}], "is_default": True}

    response = client_for(admin).post("/v1/pipelines", body, format="json")

    assert response.status_code == 201
    assert response.json()["is_default"] is True
    assert pipeline_body(sales)["is_default"] is False


def test_it_refuses_a_pipeline_name_taken_in_another_case(client_for, admin, sales):
    body = {"name": "SALES", "stages": [{"name": "Intro", "kind": "open"}]}

    response = client_for(admin).post("/v1/pipelines", body, format="json")

    assert response.status_code == 409
    assert response.json() == error(response, "pipeline_name_taken", NAME_TAKEN)


def test_it_accepts_a_name_that_only_another_org_uses(client_for, outsider, other_org, org):
    make_pipeline(org, name="Partners")
    body = {"name": "Partners", "stages": [{"name": "Intro", "kind": "open"}]}

    response = client_for(outsider, organization=other_org).post(
        "/v1/pipelines", body, format="json"
    )

    assert response.status_code == 201


def test_it_refuses_a_pipeline_without_an_open_stage(client_for, admin):
    body = {"name": "Closed", "stages": [{"name": "Won", "kind": "won"}]}

    response = client_for(admin).post("/v1/pipelines", body, format="json")

    assert response.status_code == 400
    assert response.json() == error(
        response,
        "validation_error",
        "The request is not valid.",
        [
            {
                "field": "stages",
                "code": "no_open_stage",
                "message": "A pipeline needs at least one open stage.",
            }
        ],
    )


def test_it_refuses_two_stages_of_one_name_in_another_case(client_for, admin):
    body = {
        "name": "Partners",
        "stages": [{"name": "Intro", "kind": "open"}, {"name": "INTRO", "kind": "open"}],
    }

    response = client_for(admin).post("/v1/pipelines", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == [
        {"field": "stages[1].name", "code": "unique", "message": "Stage names must be unique."}
    ]


@pytest.mark.parametrize("names", [["\u0391\u03a3", "\u0391\u03c3"], ["\u0130", "i"]])
def test_it_refuses_stage_names_only_the_database_folds_together(client_for, admin, names):
    body = {"name": "Partners", "stages": [{"name": name, "kind": "open"} for name in names]}

    response = client_for(admin).post("/v1/pipelines", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == [
        {
            "field": "stages",
            "code": "unique",
            "message": "Stage names must be unique, compared without case.",
        }
    ]


def test_it_refuses_a_pipeline_without_stages_or_with_an_unknown_kind(client_for, admin, org):
    client = client_for(admin)

    empty = client.post("/v1/pipelines", {"name": "A", "stages": []}, format="json")
    unknown = client.post(
        "/v1/pipelines", {"name": "B", "stages": [{"name": "X", "kind": "maybe"}]}, format="json"
    )

    assert empty.status_code == 400
    assert [d["field"] for d in empty.json()["error"]["details"]] == ["stages"]
    assert unknown.status_code == 400
    assert unknown.json()["error"]["details"] == [
        {
            "field": "stages[0].kind",
            "code": "invalid_choice",
            "message": '"maybe" is not a valid choice.',
        }
    ]
    with org_scope(org.id):
        assert Pipeline.objects.count() == 1


# GET /v1/pipelines/{id}


def test_it_shows_an_archived_pipeline_by_its_id(client_for, viewer, org):
    partners = make_pipeline(org)
    with org_scope(org.id):
        Pipeline.objects.filter(pk=partners.pk).update(archived_at=partners.created_at)

    response = client_for(viewer).get(f"/v1/pipelines/{partners.id}")

    assert response.status_code == 200
    assert response.json() == pipeline_body(partners)
    assert response.json()["archived"] is True


def test_it_answers_404_for_a_pipeline_of_another_org(client_for, owner, other_org):
    foreign = default_pipeline(other_org)

    response = client_for(owner).get(f"/v1/pipelines/{foreign.id}")

    assert response.status_code == 404
    assert response.json() == error(response, "pipeline_not_found", PIPELINE_NOT_FOUND)


@pytest.mark.parametrize("pipeline_id", ["not-a-uuid", "123", str(uuid.uuid4())])
def test_it_answers_404_for_a_malformed_or_unknown_pipeline_id(client_for, viewer, pipeline_id):
    response = client_for(viewer).get(f"/v1/pipelines/{pipeline_id}")

    assert response.status_code == 404
    assert response.json() == error(response, "pipeline_not_found", PIPELINE_NOT_FOUND)


def test_it_answers_404_for_another_orgs_pipeline_on_every_route(client_for, admin, other_org):
    foreign = default_pipeline(other_org)
    stage_id = str(uuid.uuid4())
    client = client_for(admin)

    answers = [
        client.patch(f"/v1/pipelines/{foreign.id}", {"name": "Mine"}, format="json"),
        client.post(
            f"/v1/pipelines/{foreign.id}/stages", {"name": "X", "kind": "open"}, format="json"
        ),
        client.patch(f"/v1/pipelines/{foreign.id}/stages/{stage_id}", {}, format="json"),
        client.post(f"/v1/pipelines/{foreign.id}/stages/reorder", {"stage_ids": []}, format="json"),
        client.get(f"/v1/pipelines/{foreign.id}/summary"),
    ]

    assert [r.status_code for r in answers] == [404] * 5
    assert {r.json()["error"]["code"] for r in answers} == {"pipeline_not_found"}
    assert pipeline_body(foreign)["name"] == "Sales"


# PATCH /v1/pipelines/{id}


def test_it_renames_a_pipeline(client_for, admin, sales):
    response = client_for(admin).patch(
        f"/v1/pipelines/{sales.id}", {"name": "Deals"}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == pipeline_body(sales)
    assert response.json()["name"] == "Deals"


def test_it_refuses_to_rename_a_pipeline_to_a_taken_name(client_for, admin, org, sales):
    partners = make_pipeline(org)

    response = client_for(admin).patch(
        f"/v1/pipelines/{partners.id}", {"name": "sales"}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == error(response, "pipeline_name_taken", NAME_TAKEN)


def test_it_moves_the_default_flag_to_another_pipeline(client_for, admin, org, sales):
    partners = make_pipeline(org)

    response = client_for(admin).patch(
        f"/v1/pipelines/{partners.id}", {"is_default": True}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["is_default"] is True
    assert pipeline_body(sales)["is_default"] is False
    with org_scope(org.id):
        assert Pipeline.objects.filter(is_default=True).count() == 1


def test_it_keeps_the_default_when_asked_to_unset_it(client_for, admin, sales):
    response = client_for(admin).patch(
        f"/v1/pipelines/{sales.id}", {"is_default": False}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == error(
        response,
        "default_pipeline_required",
        "An org always has a default pipeline: make another one the default instead.",
    )


def test_it_refuses_to_archive_the_default_pipeline(client_for, admin, sales):
    response = client_for(admin).patch(
        f"/v1/pipelines/{sales.id}", {"archived": True}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == error(
        response, "pipeline_is_default", "The default pipeline cannot be archived."
    )


def test_it_archives_and_restores_a_pipeline(client_for, admin, org):
    partners = make_pipeline(org)
    client = client_for(admin)

    archived = client.patch(f"/v1/pipelines/{partners.id}", {"archived": True}, format="json")
    restored = client.patch(f"/v1/pipelines/{partners.id}", {"archived": False}, format="json")

    assert archived.status_code == 200
    assert archived.json()["archived"] is True
    assert restored.status_code == 200
    assert restored.json() == pipeline_body(partners)
    assert restored.json()["archived"] is False


def test_it_refuses_to_make_an_archived_pipeline_the_default(client_for, admin, org):
    partners = make_pipeline(org)
    client = client_for(admin)
    client.patch(f"/v1/pipelines/{partners.id}", {"archived": True}, format="json")

    response = client.patch(f"/v1/pipelines/{partners.id}", {"is_default": True}, format="json")

    assert response.status_code == 409
    assert response.json() == error(
        response, "pipeline_archived", "An archived pipeline cannot be the default."
    )


def test_it_restores_an_archived_pipeline_as_the_default_in_one_change(client_for, admin, org):
    partners = make_pipeline(org)
    client = client_for(admin)
    client.patch(f"/v1/pipelines/{partners.id}", {"archived": True}, format="json")

    response = client.patch(
        f"/v1/pipelines/{partners.id}", {"archived": False, "is_default": True}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["archived"], response.json()["is_default"]) == (False, True)


# Roles


def test_it_lets_every_member_read_pipelines(client_for, viewer, member, sales):
    for user in (viewer, member):
        client = client_for(user)

        assert client.get("/v1/pipelines").status_code == 200
        assert client.get(f"/v1/pipelines/{sales.id}").status_code == 200
        assert client.get(f"/v1/pipelines/{sales.id}/summary").status_code == 200


def test_it_lets_only_admins_and_owners_change_pipelines(client_for, sales, member, viewer):
    stage = str(pipeline_body(sales)["stages"][0]["id"])
    writes = [
        ("post", "/v1/pipelines", {"name": "P", "stages": [{"name": "A", "kind": "open"}]}),
        ("patch", f"/v1/pipelines/{sales.id}", {"name": "Deals"}),
        ("post", f"/v1/pipelines/{sales.id}/stages", {"name": "New", "kind": "open"}),
        ("patch", f"/v1/pipelines/{sales.id}/stages/{stage}", {"name": "Fresh"}),
        ("post", f"/v1/pipelines/{sales.id}/stages/reorder", {"stage_ids": [stage]}),
    ]

    for user in (member, viewer):
        client = client_for(user)
        for method, path, body in writes:
            response = getattr(client, method)(path, body, format="json")

            assert response.status_code == 403, (user.email, method, path)
            assert response.json() == error(response, "permission_denied", ROLE_MESSAGE)
    assert pipeline_body(sales)["name"] == "Sales"


def test_it_lets_the_owner_change_pipelines(client_for, owner, sales):
    response = client_for(owner).patch(
        f"/v1/pipelines/{sales.id}", {"name": "Deals"}, format="json"
    )

    assert response.status_code == 200


def test_it_refuses_a_caller_outside_the_org_before_looking_the_pipeline_up(
    client_for, outsider, sales
):
    response = client_for(outsider).get(f"/v1/pipelines/{sales.id}")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "organization_forbidden"
