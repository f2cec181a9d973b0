"""Writes and rules for pipelines and their stages.

Guarantees:
1. Active stages of a pipeline hold the positions 0..n-1, without gaps or repeats,
   after every change; archived stages hold none.
2. Every change to a pipeline's stages first locks the pipeline row, so two changes
   (two reorders, a reorder and an archive) run one after the other: each sees the
   other's result, and a reorder applies its whole order or nothing.
3. A pipeline always keeps at least one active open stage.
4. A stage that still holds leads is archived only with a target stage of the same
   pipeline; its leads move there through ``leads.services``, with their activities.
5. An org has at most one default pipeline, and once it has one it always has one.
   Changes of the default are serialized per org, so two of them never race into the
   unique constraint.
"""

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from apollo.errors import ApiError, Conflict, ValidationFailed
from pipelines.models import Pipeline, Stage, StageKind

DEFAULT_PIPELINE_NAME = "Sales"
# Shared by new orgs, the backfill migration and the backfill command.
DEFAULT_STAGES = [
    ("New lead", StageKind.OPEN),
    ("Qualified", StageKind.OPEN),
    ("In conversation", StageKind.OPEN),
    ("Proposal sent", StageKind.OPEN),
    ("Negotiation", StageKind.OPEN),
    ("Won", StageKind.WON),
    ("Lost", StageKind.LOST),
]


class InvalidStageOrder(ApiError):
    status = 400
    code = "invalid_stage_order"
    message = "stage_ids must list each active stage of this pipeline exactly once."


def on_organization_created(sender, organization, **kwargs):
    pipeline_create_default(organization)


def _lock_defaults(organization_id) -> None:
    """Serialize the changes of one org's default pipeline, until the transaction ends.

    An advisory lock rather than a row lock: the org row is not this app's, and two
    creators of a first pipeline have no existing row to queue on.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"pipelines.default:{organization_id}"],
        )


def _constraint_of(error: IntegrityError) -> str | None:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


def _name_taken(what: str) -> Conflict:
    return Conflict(f"An active {what} already has this name.", code=f"{what}_name_taken")


def _save_named(instance, what: str, constraint: str, **kwargs) -> None:
    """Save ``instance``; a clash with ``constraint`` is a 409 ``<what>_name_taken``."""
    try:
        with transaction.atomic():
            instance.save(**kwargs)
    except IntegrityError as error:
        if _constraint_of(error) == constraint:
            raise _name_taken(what) from None
        raise


@transaction.atomic
def pipeline_create_default(organization) -> Pipeline:
    """The org's default pipeline; a no-op for an org that has one."""
    _lock_defaults(organization.pk)
    existing = Pipeline.objects.filter(organization=organization, is_default=True).first()
    if existing is not None:
        return existing
    return pipeline_create(
        organization=organization,
        name=DEFAULT_PIPELINE_NAME,
        stages=[{"name": name, "kind": kind} for name, kind in DEFAULT_STAGES],
        is_default=True,
    )


def _check_stage_list(stages: list[dict]) -> None:
    seen = set()
    for index, stage in enumerate(stages):
        # lower(), as the database's unique index folds names.
        folded = stage["name"].lower()
        if folded in seen:
            raise ValidationFailed.for_field(
                f"stages[{index}].name", "Stage names must be unique.", code="unique"
            )
        seen.add(folded)
    if not any(stage["kind"] == StageKind.OPEN for stage in stages):
        raise ValidationFailed.for_field(
            "stages", "A pipeline needs at least one open stage.", code="no_open_stage"
        )


@transaction.atomic
def pipeline_create(*, organization, name, stages, is_default=False) -> Pipeline:
    """A pipeline with its stages in the given order; an org's first one is its default."""
    _check_stage_list(stages)
    _lock_defaults(organization.pk)
    has_default = Pipeline.objects.filter(organization=organization, is_default=True).exists()
    if is_default and has_default:
        _clear_default(organization.pk)

    pipeline = Pipeline(
        organization=organization, name=name, is_default=is_default or not has_default
    )
    _save_named(pipeline, "pipeline", "pipeline_name_ci_unique", force_insert=True)
    try:
        with transaction.atomic():
            Stage.objects.bulk_create(
                Stage(
                    organization=organization,
                    pipeline=pipeline,
                    name=stage["name"],
                    kind=stage["kind"],
                    position=position,
                )
                for position, stage in enumerate(stages)
            )
    except IntegrityError as error:
        # Names Python's lower() keeps apart and the database's folds together (a final
        # Greek sigma, a dotted capital I): the unique index has the last word.
        if _constraint_of(error) != "stage_name_ci_unique":
            raise
        raise ValidationFailed.for_field(
            "stages", "Stage names must be unique, compared without case.", code="unique"
        ) from None
    return pipeline


def _clear_default(organization_id) -> None:
    Pipeline.objects.filter(organization_id=organization_id, is_default=True).update(
        is_default=False, updated_at=timezone.now()
    )


@transaction.atomic
def pipeline_update(pipeline: Pipeline, *, name=None, is_default=None, archived=None):
    """Rename, make the default, archive or restore. The default is never archived."""
    if is_default is not None:
        _lock_defaults(pipeline.organization_id)
    pipeline = _locked(pipeline.pk)
    if is_default is False and pipeline.is_default:
        raise Conflict(
            "An org always has a default pipeline: make another one the default instead.",
            code="default_pipeline_required",
        )
    if archived and (pipeline.is_default or is_default):
        raise Conflict("The default pipeline cannot be archived.", code="pipeline_is_default")
    if is_default and not pipeline.is_default:
        if pipeline.archived_at and archived is not False:
            raise Conflict("An archived pipeline cannot be the default.", code="pipeline_archived")
        _clear_default(pipeline.organization_id)
        pipeline.is_default = True

    if name is not None:
        pipeline.name = name
    if archived is not None and archived != (pipeline.archived_at is not None):
        pipeline.archived_at = timezone.now() if archived else None
    _save_named(pipeline, "pipeline", "pipeline_name_ci_unique")
    return pipeline


def _locked(pipeline_id) -> Pipeline:
    return Pipeline.objects.select_for_update().get(pk=pipeline_id)


def _active(pipeline):
    """The active stages of a pipeline, given as an instance or an id."""
    return Stage.objects.filter(pipeline=pipeline, archived_at__isnull=True)


def _renumber(pipeline: Pipeline) -> None:
    """Close the gaps: active stages get 0..n-1 in their current order."""
    now, moved = timezone.now(), []
    for position, stage in enumerate(_active(pipeline).order_by("position", "created_at")):
        if stage.position != position:
            stage.position, stage.updated_at = position, now
            moved.append(stage)
    Stage.objects.bulk_update(moved, ["position", "updated_at"])


@transaction.atomic
def stage_add(pipeline: Pipeline, *, name, kind, position=None) -> Stage:
    """A new active stage at ``position`` (the end when absent or beyond it)."""
    pipeline = _locked(pipeline.pk)
    count = _active(pipeline).count()
    position = count if position is None else min(position, count)
    # The unique constraint on positions is deferred: the shift may pass through
    # repeats, only the committed result counts.
    _active(pipeline).filter(position__gte=position).update(
        position=F("position") + 1, updated_at=timezone.now()
    )

    stage = Stage(
        organization_id=pipeline.organization_id,
        pipeline=pipeline,
        name=name,
        kind=kind,
        position=position,
    )
    _save_named(stage, "stage", "stage_name_ci_unique", force_insert=True)
    return stage


def stages_hold(pipeline_id, stage_ids=None) -> set:
    """Share-lock the pipeline's active stages (or those of ``stage_ids``) for the
    caller's transaction; answer the ids of those still active.

    Writers of leads call it before they commit leads to a stage. The locks conflict
    with the FOR UPDATE that ``stage_update`` takes before it archives, so an archive
    either committed first (its stage is missing from the answer) or waits for the
    writer and then moves the writer's leads too. The foreign key's own lock comes too
    late for that: the constraint is checked at commit. Share locks let many writers
    into one stage at once; the pipeline is locked first, in the order ``stage_update``
    takes its locks, so a writer that adds a stage meanwhile cannot deadlock with it.
    """
    quote = connection.ops.quote_name
    stages, pipelines = quote(Stage._meta.db_table), quote(Pipeline._meta.db_table)
    sql = f"SELECT id FROM {stages} WHERE pipeline_id = %s AND archived_at IS NULL"  # noqa: S608
    params = [pipeline_id]
    if stage_ids is not None:
        sql += " AND id = ANY(%s)"
        params.append(list(stage_ids))
    pipeline_lock = f"SELECT 1 FROM {pipelines} WHERE id = %s FOR SHARE"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(pipeline_lock, [pipeline_id])
        cursor.execute(sql + " ORDER BY id FOR SHARE", params)
        return {row[0] for row in cursor.fetchall()}


def _require_another_open_stage(stage: Stage) -> None:
    others = _active(stage.pipeline_id).filter(kind=StageKind.OPEN).exclude(pk=stage.pk)
    if not others.exists():
        raise Conflict("A pipeline keeps at least one open stage.", code="last_open_stage")


@transaction.atomic
def stage_update(
    stage: Stage, *, actor=None, name=None, kind=None, archived=None, target_stage_id=None
) -> Stage:
    """Rename, change the kind, archive (moving its leads to the target) or restore.

    ``target_stage_id`` is checked whenever given and used only when the stage is
    archived now; a restored stage goes to the end of the pipeline.
    """
    pipeline = _locked(stage.pipeline_id)
    # Locked too: a lead being created in this stage right now either commits before
    # the emptiness check below or waits for this change.
    stage = Stage.objects.select_for_update().get(pk=stage.pk)
    target = _target_stage(stage, target_stage_id) if target_stage_id is not None else None
    active = stage.archived_at is None
    if (
        active
        and stage.kind == StageKind.OPEN
        and (archived or (kind is not None and kind != StageKind.OPEN))
    ):
        _require_another_open_stage(stage)

    if name is not None:
        stage.name = name
    if kind is not None:
        stage.kind = kind
    if archived and active:
        _empty_stage(stage, target, actor)
        stage.archived_at, stage.position = timezone.now(), None
    elif archived is False and not active:
        stage.archived_at, stage.position = None, _active(pipeline).count()
    _save_named(stage, "stage", "stage_name_ci_unique")
    _renumber(pipeline)
    return stage


def _target_stage(stage: Stage, target_stage_id) -> Stage:
    target = _active(stage.pipeline_id).exclude(pk=stage.pk).filter(pk=target_stage_id).first()
    if target is None:
        raise ValidationFailed.for_field(
            "target_stage_id",
            "Must be another active stage of the same pipeline.",
            code="invalid_target",
        )
    return target


def _empty_stage(stage: Stage, target: Stage | None, actor) -> None:
    # Imported at call time: leads build on pipelines, so ``leads.services`` may well
    # import this module.
    from leads import services as lead_services

    if target is not None:
        # TODO(apollo): the leads move inside the request, about 2,400 a second; a stage
        # of more than about 60,000 leads outlasts the server's 30-second timeout. A job
        # (like the import's) would lift that.
        lead_services.leads_move_stage(from_stage=stage, to_stage=target, actor=actor)
    elif lead_services.stage_has_leads(stage):
        raise Conflict(
            "This stage still holds leads; send target_stage_id to move them.",
            code="stage_not_empty",
        )


@transaction.atomic
def stages_reorder(pipeline: Pipeline, stage_ids: list) -> list[Stage]:
    """Apply a whole new order of the active stages, or raise ``InvalidStageOrder``."""
    pipeline = _locked(pipeline.pk)
    stages = {stage.pk: stage for stage in _active(pipeline)}
    if len(stage_ids) != len(set(stage_ids)) or set(stage_ids) != set(stages):
        raise InvalidStageOrder()

    moved = {
        pk: position for position, pk in enumerate(stage_ids) if stages[pk].position != position
    }
    if moved:
        # One UPDATE: the deferred unique constraint is checked at commit, on the result.
        _active(pipeline).filter(pk__in=moved).update(
            position=Case(*(When(pk=pk, then=Value(p)) for pk, p in moved.items())),
            updated_at=timezone.now(),
        )
    return list(_active(pipeline).order_by("position"))
