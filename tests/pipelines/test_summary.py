"""GET /v1/pipelines/{id}/summary: lead count and value per active stage, in one query."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apollo.tenancy import org_scope
from pipelines import selectors
from tests.pipelines.conftest import (
    active_stages,
    error,
    make_leads,
    make_pipeline,
    stage_named,
)

pytestmark = pytest.mark.django_db


def summary_row(stage, lead_count, value_cents) -> dict:
    return {
        "stage_id": str(stage.id),
        "name": stage.name,
        "kind": stage.kind,
        "position": stage.position,
        "lead_count": lead_count,
        "value_cents": value_cents,
    }


def test_it_sums_the_leads_and_values_of_each_stage(client_for, viewer, org, sales):
    stages = active_stages(sales)
    make_leads(stage_named(sales, "New lead"), [1000, 2500, 0])
    make_leads(stage_named(sales, "Won"), [99_999_999_999])
    # Another pipeline's leads are not this one's.
    make_leads(active_stages(make_pipeline(org))[0], [5])

    response = client_for(viewer).get(f"/v1/pipelines/{sales.id}/summary")

    assert response.status_code == 200
    counts = {"New lead": (3, 3500), "Won": (1, 99_999_999_999)}
    assert response.json() == {
        "pipeline_id": str(sales.id),
        "lead_count": 4,
        "value_cents": 100_000_003_499,
        "stages": [summary_row(stage, *counts.get(stage.name, (0, 0))) for stage in stages],
    }


def test_it_leaves_archived_stages_out_of_the_summary(client_for, admin, org, sales):
    client = client_for(admin)
    qualified = stage_named(sales, "Qualified")
    client.patch(
        f"/v1/pipelines/{sales.id}/stages/{qualified.id}", {"archived": True}, format="json"
    )

    response = client.get(f"/v1/pipelines/{sales.id}/summary")

    assert [row["name"] for row in response.json()["stages"]] == [
        "New lead",
        "In conversation",
        "Proposal sent",
        "Negotiation",
        "Won",
        "Lost",
    ]
    assert [row["position"] for row in response.json()["stages"]] == list(range(6))


def test_it_answers_404_for_the_summary_of_another_orgs_pipeline(client_for, owner, other_org):
    foreign = make_pipeline(other_org)

    response = client_for(owner).get(f"/v1/pipelines/{foreign.id}/summary")

    assert response.status_code == 404
    assert response.json() == error(
        response, "pipeline_not_found", "No pipeline with this id in this organization."
    )


def many_stages(org, count, name):
    pipeline = make_pipeline(org, name=name, stages=[(f"Stage {i}", "open") for i in range(count)])
    for stage in active_stages(pipeline):
        make_leads(stage, [100, 200])
    return pipeline


def test_it_reads_the_summary_in_one_query_whatever_the_number_of_stages(
    org, django_assert_num_queries
):
    small, large = many_stages(org, 3, "Small"), many_stages(org, 30, "Large")

    with org_scope(org.id):
        with django_assert_num_queries(1):
            assert len(selectors.pipeline_summary(small)) == 3
        with django_assert_num_queries(1):
            rows = selectors.pipeline_summary(large)
    assert {(row.lead_count, row.value_cents) for row in rows} == {(2, 300)}


def test_it_answers_the_summary_in_as_many_queries_for_30_stages_as_for_3(
    client_for, viewer, org, django_assert_num_queries
):
    small, large = many_stages(org, 3, "Small"), many_stages(org, 30, "Large")
    client = client_for(viewer)
    client.get(f"/v1/pipelines/{small.id}/summary")  # Warm the per-process caches.
    with CaptureQueriesContext(connection) as for_three:
        assert len(client.get(f"/v1/pipelines/{small.id}/summary").json()["stages"]) == 3

    with django_assert_num_queries(len(for_three)):
        response = client.get(f"/v1/pipelines/{large.id}/summary")

    assert len(response.json()["stages"]) == 30
    assert response.json()["lead_count"] == 60
