"""Stages through the public API: adding, changing, archiving with leads, reordering."""

import threading
import time
import uuid

import pytest
from django.db import connection

from apollo.tenancy import org_scope
from leads import services as lead_services
from leads.models import Activity, Lead
from pipelines.models import Stage
from tests.conftest import Client
from tests.pipelines.conftest import (
    INVALID_ORDER,
    PIPELINE_NOT_FOUND,
    STAGE_NOT_FOUND,
    active_stages,
    default_pipeline,
    error,
    layout,
    make_leads,
    make_pipeline,
    pipeline_body,
    stage_body,
    stage_named,
)

pytestmark = pytest.mark.django_db

DEFAULT_NAMES = [
    "New lead",
    "Qualified",
    "In conversation",
    "Proposal sent",
    "Negotiation",
    "Won",
    "Lost",
]
NAME_TAKEN = "An active stage already has this name."


def dense(names) -> list[tuple[str, int]]:
    return [(name, position) for position, name in enumerate(names)]


def stage_url(pipeline, stage) -> str:
    return f"/v1/pipelines/{pipeline.id}/stages/{stage.id}"


def reorder(client, pipeline, stage_ids):
    return client.post(
        f"/v1/pipelines/{pipeline.id}/stages/reorder",
        {"stage_ids": [str(pk) for pk in stage_ids]},
        format="json",
    )


# POST /v1/pipelines/{id}/stages


def test_it_adds_a_stage_at_the_end(as_admin, sales):
    response = as_admin.post(
        f"/v1/pipelines/{sales.id}/stages", {"name": "Onboarding", "kind": "open"}, format="json"
    )

    assert response.status_code == 201
    assert response.json() == stage_body(stage_named(sales, "Onboarding"))
    assert response.json()["position"] == 7
    assert layout(sales) == dense([*DEFAULT_NAMES, "Onboarding"])


def test_it_adds_a_stage_at_a_position_and_moves_the_later_ones_down(as_admin, sales):
    response = as_admin.post(
        f"/v1/pipelines/{sales.id}/stages",
        {"name": "Discovery call", "kind": "open", "position": 1},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["position"] == 1
    assert layout(sales) == dense(["New lead", "Discovery call", *DEFAULT_NAMES[1:]])


def test_it_adds_a_stage_beyond_the_last_position_at_the_end(as_admin, sales):
    response = as_admin.post(
        f"/v1/pipelines/{sales.id}/stages",
        {"name": "Later", "kind": "open", "position": 99},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["position"] == 7
    assert layout(sales) == dense([*DEFAULT_NAMES, "Later"])


def test_it_refuses_a_stage_name_taken_in_another_case(as_admin, sales):
    response = as_admin.post(
        f"/v1/pipelines/{sales.id}/stages", {"name": "QUALIFIED", "kind": "open"}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == error(response, "stage_name_taken", NAME_TAKEN)
    assert layout(sales) == dense(DEFAULT_NAMES)


def test_it_refuses_a_stage_without_a_kind_or_with_a_negative_position(as_admin, sales):
    response = as_admin.post(
        f"/v1/pipelines/{sales.id}/stages", {"name": "X", "position": -1}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == error(
        response,
        "validation_error",
        "The request is not valid.",
        [
            {"field": "kind", "code": "required", "message": "This field is required."},
            {
                "field": "position",
                "code": "min_value",
                "message": "Ensure this value is greater than or equal to 0.",
            },
        ],
    )


def test_it_reuses_the_name_of_an_archived_stage(as_admin, sales):
    as_admin.patch(
        stage_url(sales, stage_named(sales, "Qualified")), {"archived": True}, format="json"
    )

    response = as_admin.post(
        f"/v1/pipelines/{sales.id}/stages", {"name": "Qualified", "kind": "open"}, format="json"
    )

    assert response.status_code == 201


# PATCH /v1/pipelines/{id}/stages/{stage_id}


def test_it_renames_a_stage_and_changes_its_kind(as_admin, sales):
    stage = stage_named(sales, "Negotiation")

    response = as_admin.patch(
        stage_url(sales, stage), {"name": "Verbal yes", "kind": "won"}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == stage_body(stage)
    assert (response.json()["name"], response.json()["kind"]) == ("Verbal yes", "won")


def test_it_refuses_to_rename_a_stage_to_a_taken_name(as_admin, sales):
    response = as_admin.patch(
        stage_url(sales, stage_named(sales, "Won")), {"name": "lost"}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == error(response, "stage_name_taken", NAME_TAKEN)


def test_it_answers_404_for_a_stage_of_another_pipeline(as_admin, org, sales):
    other = active_stages(make_pipeline(org))[0]

    response = as_admin.patch(stage_url(sales, other), {"name": "Moved"}, format="json")

    assert response.status_code == 404
    assert response.json() == error(response, "stage_not_found", STAGE_NOT_FOUND)
    assert stage_body(other)["name"] == "Lead"


def test_it_answers_404_for_a_stage_of_another_org(as_admin, sales, other_org):
    foreign = active_stages(default_pipeline(other_org))[0]

    response = as_admin.patch(stage_url(sales, foreign), {"name": "Mine"}, format="json")

    assert response.status_code == 404
    assert response.json() == error(response, "stage_not_found", STAGE_NOT_FOUND)


@pytest.mark.parametrize("stage_id", ["reorder-me", "1", str(uuid.uuid4())])
def test_it_answers_404_for_a_malformed_or_unknown_stage_id(as_admin, sales, stage_id):
    response = as_admin.patch(
        f"/v1/pipelines/{sales.id}/stages/{stage_id}", {"name": "X"}, format="json"
    )

    assert response.status_code == 404
    assert response.json() == error(response, "stage_not_found", STAGE_NOT_FOUND)


def test_it_answers_404_for_the_pipeline_before_the_stage(as_admin, sales):
    stage = active_stages(sales)[0]

    response = as_admin.patch(f"/v1/pipelines/nope/stages/{stage.id}", {"name": "X"}, format="json")

    assert response.status_code == 404
    assert response.json() == error(response, "pipeline_not_found", PIPELINE_NOT_FOUND)


# Archiving


def test_it_archives_an_empty_stage_and_closes_the_gap(as_admin, sales):
    stage = stage_named(sales, "Qualified")

    response = as_admin.patch(stage_url(sales, stage), {"archived": True}, format="json")

    assert response.status_code == 200
    assert response.json() == stage_body(stage)
    assert (response.json()["archived"], response.json()["position"]) == (True, None)
    assert layout(sales) == dense([n for n in DEFAULT_NAMES if n != "Qualified"])
    assert "Qualified" not in [s["name"] for s in pipeline_body(sales)["stages"]]


def test_it_refuses_to_archive_a_stage_that_holds_leads_without_a_target(as_admin, sales):
    stage = stage_named(sales, "Qualified")
    make_leads(stage, [100])

    response = as_admin.patch(stage_url(sales, stage), {"archived": True}, format="json")

    assert response.status_code == 409
    assert response.json() == error(
        response,
        "stage_not_empty",
        "This stage still holds leads; send target_stage_id to move them.",
    )
    assert layout(sales) == dense(DEFAULT_NAMES)


def test_it_moves_the_leads_of_an_archived_stage_to_the_target(as_admin, admin, org, sales):
    stage, target = stage_named(sales, "Qualified"), stage_named(sales, "Proposal sent")
    leads = make_leads(stage, [100, 250])
    untouched = make_leads(stage_named(sales, "New lead"), [7])[0]

    response = as_admin.patch(
        stage_url(sales, stage),
        {"archived": True, "target_stage_id": str(target.id)},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["archived"] is True
    with org_scope(org.id):
        assert set(Lead.objects.filter(stage=target).values_list("pk", flat=True)) == {
            lead.pk for lead in leads
        }
        assert Lead.objects.get(pk=untouched.pk).stage_id != target.id
        activities = list(Activity.objects.filter(type="stage_changed"))
    assert sorted(a.lead_id for a in activities) == sorted(lead.pk for lead in leads)
    assert {(a.actor_type, a.actor_id) for a in activities} == {("user", admin.pk)}
    assert activities[0].data == {
        "from": {"id": str(stage.id), "name": "Qualified"},
        "to": {"id": str(target.id), "name": "Proposal sent"},
    }


@pytest.mark.parametrize("where", ["another_pipeline", "another_org", "itself", "archived"])
def test_it_refuses_a_target_that_is_not_another_active_stage_of_the_pipeline(
    as_admin, org, other_org, sales, where
):
    stage = stage_named(sales, "Qualified")
    make_leads(stage, [100])
    targets = {
        "another_pipeline": lambda: active_stages(make_pipeline(org))[0],
        "another_org": lambda: active_stages(default_pipeline(other_org))[0],
        "itself": lambda: stage,
        "archived": lambda: _archived(as_admin, sales, "Won"),
    }
    target = targets[where]()

    response = as_admin.patch(
        stage_url(sales, stage),
        {"archived": True, "target_stage_id": str(target.id)},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == error(
        response,
        "validation_error",
        "The request is not valid.",
        [
            {
                "field": "target_stage_id",
                "code": "invalid_target",
                "message": "Must be another active stage of the same pipeline.",
            }
        ],
    )
    with org_scope(org.id):
        assert Lead.objects.filter(stage=stage).count() == 1
        assert not Activity.objects.exists()


def _archived(client, pipeline, name):
    stage = stage_named(pipeline, name)
    response = client.patch(stage_url(pipeline, stage), {"archived": True}, format="json")
    assert response.status_code == 200
    return stage


def test_it_keeps_the_last_open_stage(as_admin, org):
    pipeline = make_pipeline(org, stages=[("Only", "open"), ("Won", "won")])
    only = stage_named(pipeline, "Only")

    archived = as_admin.patch(stage_url(pipeline, only), {"archived": True}, format="json")
    closed = as_admin.patch(stage_url(pipeline, only), {"kind": "lost"}, format="json")

    for response in (archived, closed):
        assert response.status_code == 409
        assert response.json() == error(
            response, "last_open_stage", "A pipeline keeps at least one open stage."
        )
    assert stage_body(only)["kind"] == "open"
    assert stage_body(only)["archived"] is False


def test_it_restores_an_archived_stage_at_the_end(as_admin, sales):
    stage = _archived(as_admin, sales, "Qualified")

    response = as_admin.patch(stage_url(sales, stage), {"archived": False}, format="json")

    assert response.status_code == 200
    assert (response.json()["archived"], response.json()["position"]) == (False, 6)
    assert layout(sales) == dense([*(n for n in DEFAULT_NAMES if n != "Qualified"), "Qualified"])


def test_it_refuses_to_restore_a_stage_whose_name_was_taken_meanwhile(as_admin, sales):
    stage = _archived(as_admin, sales, "Qualified")
    as_admin.post(
        f"/v1/pipelines/{sales.id}/stages", {"name": "qualified", "kind": "open"}, format="json"
    )

    response = as_admin.patch(stage_url(sales, stage), {"archived": False}, format="json")

    assert response.status_code == 409
    assert response.json() == error(response, "stage_name_taken", NAME_TAKEN)


# POST /v1/pipelines/{id}/stages/reorder


def test_it_reorders_the_stages(as_admin, sales):
    stages = active_stages(sales)
    new_order = [stages[6], *stages[:6]]

    response = reorder(as_admin, sales, [stage.id for stage in new_order])

    assert response.status_code == 200
    assert response.json() == pipeline_body(sales)
    assert [s["name"] for s in response.json()["stages"]] == ["Lost", *DEFAULT_NAMES[:6]]
    assert [s["position"] for s in response.json()["stages"]] == list(range(7))


def test_it_accepts_the_current_order_as_a_reorder(as_admin, sales):
    response = reorder(as_admin, sales, [stage.id for stage in active_stages(sales)])

    assert response.status_code == 200
    assert layout(sales) == dense(DEFAULT_NAMES)


@pytest.mark.parametrize(
    "change",
    ["missing", "extra", "duplicate", "another_pipeline", "another_org", "archived", "empty"],
)
def test_it_refuses_an_order_that_is_not_exactly_the_active_stages(
    as_admin, org, other_org, sales, change
):
    ids = [stage.id for stage in active_stages(sales)]
    orders = {
        "missing": lambda: ids[1:],
        "extra": lambda: [*ids, uuid.uuid4()],
        "duplicate": lambda: [*ids, ids[0]],
        "another_pipeline": lambda: [*ids[1:], active_stages(make_pipeline(org))[0].id],
        "another_org": lambda: [*ids[1:], active_stages(default_pipeline(other_org))[0].id],
        "archived": lambda: [*ids, _archived(as_admin, sales, "Won").id],
        "empty": lambda: [],
    }
    stage_ids = orders[change]()
    before = layout(sales)

    response = reorder(as_admin, sales, list(reversed(stage_ids)))

    assert response.status_code == 400
    assert response.json() == error(response, "invalid_stage_order", INVALID_ORDER)
    assert layout(sales) == before


def test_it_refuses_a_malformed_stage_id_in_an_order(as_admin, sales):
    response = as_admin.post(
        f"/v1/pipelines/{sales.id}/stages/reorder", {"stage_ids": ["nope"]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def race_reorders(admin, org, pipeline, orders) -> dict:
    """Send each order from its own thread and connection while the stages are locked.

    A third transaction holds the stage rows, so both requests are in flight (each has
    read the pipeline) before either can write; then it lets them go.
    """
    held, release, statuses = threading.Event(), threading.Event(), {}

    def hold():
        try:
            with org_scope(org.id):
                list(Stage.objects.select_for_update().filter(pipeline=pipeline))
                held.set()
                release.wait(10)
        finally:
            connection.close()

    def send(index):
        try:
            statuses[index] = reorder(Client(admin, org), pipeline, orders[index]).status_code
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    senders = [threading.Thread(target=send, args=(index,)) for index in range(len(orders))]
    for thread in senders:
        thread.start()
    # Long enough for both requests to reach the locks.
    time.sleep(0.5)
    release.set()
    for thread in [holder, *senders]:
        thread.join(30)
    return statuses


@pytest.mark.django_db(transaction=True)
def test_it_applies_exactly_one_of_two_concurrent_reorders(org, admin):
    pipeline = default_pipeline(org)
    ids = [stage.id for stage in active_stages(pipeline)]
    # Orders that move disjoint stages: applied over each other, they would mix.
    orders = [[ids[1], ids[0], *ids[2:]], [*ids[:5], ids[6], ids[5]]]

    statuses = race_reorders(admin, org, pipeline, orders)

    assert statuses == {0: 200, 1: 200}
    stages = active_stages(pipeline)
    assert [stage.id for stage in stages] in orders
    assert [stage.position for stage in stages] == list(range(7))


@pytest.mark.django_db(transaction=True)
def test_an_archive_waits_for_a_lead_moving_into_the_stage_and_moves_it_too(org, admin):
    pipeline = default_pipeline(org)
    stages = active_stages(pipeline)
    archived, target = stages[0], stages[2]
    [lead] = make_leads(stages[1], [0])
    moved, release, answers = threading.Event(), threading.Event(), {}

    def move_lead_and_hold_the_transaction():
        try:
            with org_scope(org.id):
                lead_services.lead_update(
                    lead, actor=lead_services.Actor.system(), stage_id=archived.id
                )
                moved.set()
                release.wait(10)
        finally:
            connection.close()

    def archive():
        try:
            body = {"archived": True, "target_stage_id": str(target.id)}
            response = Client(admin, org).patch(stage_url(pipeline, archived), body, format="json")
            answers["archive"] = response.status_code
        finally:
            connection.close()

    mover = threading.Thread(target=move_lead_and_hold_the_transaction)
    mover.start()
    assert moved.wait(10)
    archiver = threading.Thread(target=archive)
    archiver.start()
    # The archive must wait for the move's transaction, not slip past it.
    time.sleep(0.5)
    assert "archive" not in answers
    release.set()
    for thread in (mover, archiver):
        thread.join(30)

    assert answers == {"archive": 200}
    with org_scope(org.id):
        assert Lead.objects.get(pk=lead.pk).stage_id == target.id
