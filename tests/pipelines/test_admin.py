"""The support admin of pipelines: every org's pipelines, their stages, renaming only."""

import pytest
from django.contrib import admin
from django.test import Client as Browser

from pipelines.admin import PipelineAdmin
from pipelines.models import Pipeline
from tests.pipelines.conftest import default_pipeline, make_pipeline, pipeline_body

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.pipelines.admin_urls")]

PIPELINES = "/admin/pipelines/pipeline/"


def form(name, stages=7) -> dict:
    """The change form as a browser posts it, with the read-only inline of the stages."""
    return {"name": name, "stages-TOTAL_FORMS": stages, "stages-INITIAL_FORMS": stages}


def test_it_registers_the_pipeline_admin_on_the_admin_site():
    assert isinstance(admin.site._registry[Pipeline], PipelineAdmin)


def test_it_lists_the_pipelines_of_every_org(support, org, other_org):
    response = support.get(PIPELINES)

    assert response.status_code == 200
    for organization in (org, other_org):
        assert str(default_pipeline(organization).id) in response.text
        assert organization.name in response.text


def test_it_shows_a_pipeline_with_its_stages_in_order(support, sales):
    response = support.get(f"{PIPELINES}{sales.id}/change/")

    assert response.status_code == 200
    names = ["New lead", "Qualified", "In conversation", "Proposal sent", "Negotiation"]
    offsets = [response.text.index(f">{name}<") for name in names]
    assert offsets == sorted(offsets)


def test_it_renames_a_pipeline(support, sales):
    response = support.post(f"{PIPELINES}{sales.id}/change/", form("Deals"))

    assert response.status_code == 302
    assert pipeline_body(sales)["name"] == "Deals"


def test_it_refuses_a_name_another_active_pipeline_of_the_org_has(support, org, sales):
    partners = make_pipeline(org)

    response = support.post(f"{PIPELINES}{partners.id}/change/", form("SALES", stages=3))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "name": ["An active pipeline of this org already has this name."]
    }
    assert pipeline_body(partners)["name"] == "Partners"


def test_it_leaves_creating_and_deleting_pipelines_to_the_api(support, sales):
    assert support.get(f"{PIPELINES}add/").status_code == 403
    assert support.get(f"{PIPELINES}{sales.id}/delete/").status_code == 403


def test_it_keeps_out_a_user_who_is_not_staff(owner):
    browser = Browser()
    browser.force_login(owner)

    response = browser.get(PIPELINES)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
