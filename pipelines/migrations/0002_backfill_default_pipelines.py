"""Give every organization that lacks one the default pipeline of a new org.

Idempotent: an org that has a default pipeline is left alone. The management command
``backfill_default_pipelines`` does the same work org by org, for a run outside a
deploy (with a progress bar and ``--dry-run``).
"""

from django.db import migrations


def backfill_default_pipelines(apps, schema_editor):
    # The same name and stages as a new org's, and the command's.
    from pipelines.services import DEFAULT_PIPELINE_NAME, DEFAULT_STAGES

    Organization = apps.get_model("orgs", "Organization")
    Pipeline = apps.get_model("pipelines", "Pipeline")
    Stage = apps.get_model("pipelines", "Stage")
    alias = schema_editor.connection.alias

    # Tenant tables have row-level security and this sweep crosses every org. The
    # setting is transaction-local: it ends with this migration's transaction at the
    # latest, and is cleared below for any later operation in the same transaction.
    _set_privileged(schema_editor, "on")

    covered = Pipeline.objects.using(alias).filter(is_default=True).values("organization_id")
    for organization in Organization.objects.using(alias).exclude(pk__in=covered).iterator():
        pipeline = Pipeline.objects.using(alias).create(
            organization=organization, name=DEFAULT_PIPELINE_NAME, is_default=True
        )
        Stage.objects.using(alias).bulk_create(
            Stage(
                organization=organization,
                pipeline=pipeline,
                name=name,
                kind=str(kind),
                position=position,
            )
            for position, (name, kind) in enumerate(DEFAULT_STAGES)
        )
    _set_privileged(schema_editor, "")


def _set_privileged(schema_editor, value):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT set_config('apollo.privileged', %s, true)", [value])


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0001_initial"),
        ("pipelines", "0001_initial"),
    ]

    operations = [
        # Nothing to undo: the pipelines stay, as any other the org made.
        migrations.RunPython(backfill_default_pipelines, migrations.RunPython.noop),
    ]
