"""The default pipeline of orgs made before pipelines: the migration and the command."""

import importlib
import io
import types

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection

from apollo.tenancy import privileged
from orgs.models import Organization
from pipelines.models import Pipeline
from tests.pipelines.conftest import DEFAULT_STAGES, default_pipeline, layout, make_pipeline

pytestmark = pytest.mark.django_db

migration = importlib.import_module("pipelines.migrations.0002_backfill_default_pipelines")


def make_legacy_org(name="Legacy") -> Organization:
    """An org as it was before pipelines: none at all."""
    return Organization.objects.create(name=name)


def default_layout():
    return [(name, position) for position, (name, _) in enumerate(DEFAULT_STAGES)]


def all_pipelines() -> list[tuple]:
    with privileged("a test reads the pipelines of every org"):
        return sorted(Pipeline.objects.values_list("organization_id", "name", "is_default", "id"))


def privileged_setting() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('apollo.privileged', true)")
        return cursor.fetchone()[0] or ""


def run_migration():
    migration.backfill_default_pipelines(apps, types.SimpleNamespace(connection=connection))


def backfill(*args) -> str:
    out = io.StringIO()
    call_command("backfill_default_pipelines", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


# The migration


def test_the_migration_gives_an_org_without_pipelines_the_default_one(org):
    legacy = make_legacy_org()
    before = default_pipeline(org)

    run_migration()

    pipeline = default_pipeline(legacy)
    assert (pipeline.name, pipeline.is_default) == ("Sales", True)
    assert layout(pipeline) == default_layout()
    assert default_pipeline(org) == before
    assert privileged_setting() == ""


def test_the_migration_creates_nothing_the_second_time(org, other_org):
    make_legacy_org()
    run_migration()
    after_first = all_pipelines()

    run_migration()

    assert all_pipelines() == after_first
    assert len(after_first) == 3


# The command


def test_it_gives_every_org_without_a_default_pipeline_one(org, other_org):
    legacy, older = make_legacy_org(), make_legacy_org("Older")
    kept = default_pipeline(org)

    output = backfill()

    assert output == "2 orgs got a default pipeline, 2 already had one, 0 failed.\n"
    for organization in (legacy, older):
        assert layout(default_pipeline(organization)) == default_layout()
    assert default_pipeline(org) == kept


def test_it_creates_nothing_when_run_again(org):
    make_legacy_org()
    backfill()
    after_first = all_pipelines()

    output = backfill()

    assert output == "0 orgs got a default pipeline, 2 already had one, 0 failed.\n"
    assert all_pipelines() == after_first


def test_it_writes_nothing_on_a_dry_run(org):
    make_legacy_org()
    before = all_pipelines()

    output = backfill("--dry-run")

    assert output == "1 orgs would get a default pipeline, 1 already had one, 0 failed.\n"
    assert all_pipelines() == before


def test_it_reports_an_org_it_cannot_backfill_and_goes_on(org):
    blocked, fine = make_legacy_org("Blocked"), make_legacy_org("Fine")
    # An active pipeline already holds the default's name, yet is not the default.
    make_pipeline(blocked, name="Sales")
    with privileged("a test unsets a default"):
        Pipeline.objects.filter(organization=blocked).update(is_default=False)

    output = backfill()

    assert output == "1 orgs got a default pipeline, 1 already had one, 1 failed.\n"
    assert layout(default_pipeline(fine)) == default_layout()
