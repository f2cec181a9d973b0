"""What a running import knows of its org, loaded once: pipeline, stages, members."""

import functools
from dataclasses import dataclass, field

from apollo.errors import ApiError
from leads.imports.mapping import Mapper, custom_keys, fold
from leads.imports.normalize import Normalizer
from leads.models import ActorType, LeadField, LeadImport
from orgs.models import Membership
from pipelines import services as pipeline_services
from pipelines.models import Pipeline, Stage, StageKind

MAX_STAGE_NAME = 100
# What other CRMs call a closed deal, folded (``mapping.fold``), to the kind of stage it
# is: such a lead goes to the pipeline's first stage of that kind, whatever its name.
CLOSED_STAGE_NAMES = {
    "closedwon": StageKind.WON,
    "dealwon": StageKind.WON,
    "won": StageKind.WON,
    "closedlost": StageKind.LOST,
    "deallost": StageKind.LOST,
    "lost": StageKind.LOST,
}


class ImportSetupError(Exception):
    """The job cannot run as it was queued: its pipeline is gone, say."""


# Files repeat a few stage and owner names on every row.
@functools.lru_cache(maxsize=4096)
def name_key(name: str) -> str:
    """A stage or member name as it is matched: no case, spaces collapsed."""
    return " ".join(name.split()).casefold()


@dataclass
class ImportContext:
    organization_id: object
    job_id: object
    match_key: str
    on_duplicate: str
    create_missing_stages: bool
    pipeline: Pipeline
    stages: dict[str, Stage]
    actor_type: str
    actor_id: object
    mapper: Mapper
    normalizer: Normalizer
    members_by_email: dict = field(default_factory=dict)
    # A name two members share maps to None: ambiguous, so not assigned.
    members_by_name: dict = field(default_factory=dict)
    stage_names: dict = field(default_factory=dict)
    pipeline_names: dict = field(default_factory=dict)

    @classmethod
    def load(cls, job: LeadImport) -> "ImportContext":
        """Run inside the job's org scope."""
        options = job.options
        org_id = job.organization_id
        pipeline = Pipeline.objects.filter(
            organization_id=org_id, pk=options["pipeline_id"], archived_at__isnull=True
        ).first()
        if pipeline is None:
            raise ImportSetupError("The import's pipeline was archived or deleted.")
        lead_fields = {f.key: f for f in LeadField.objects.filter(organization_id=org_id)}
        keys = custom_keys([(f.key, f.label) for f in lead_fields.values()])
        context = cls(
            organization_id=org_id,
            job_id=job.pk,
            match_key=options["match_key"],
            on_duplicate=options["on_duplicate"],
            create_missing_stages=options["create_missing_stages"],
            pipeline=pipeline,
            stages={},
            actor_type=ActorType.USER if job.created_by_id else ActorType.SYSTEM,
            actor_id=job.created_by_id,
            mapper=Mapper(options.get("mapping"), keys),
            normalizer=Normalizer(region=options["default_region"], lead_fields=lead_fields),
        )
        context._load_stages()
        context._load_members()
        return context

    def _load_stages(self) -> None:
        stages = list(
            Stage.objects.filter(
                organization_id=self.organization_id,
                pipeline=self.pipeline,
                archived_at__isnull=True,
            ).order_by("position")
        )
        if not stages:
            raise ImportSetupError("The import's pipeline has no active stage.")
        self.first_stage = stages[0]
        self.stages = {name_key(stage.name): stage for stage in stages}
        self.first_stage_of_kind = {}
        for stage in stages:
            self.first_stage_of_kind.setdefault(stage.kind, stage)
        org_id = self.organization_id
        self.stage_names = dict(
            Stage.objects.filter(organization_id=org_id).values_list("pk", "name")
        )
        self.pipeline_names = dict(
            Pipeline.objects.filter(organization_id=org_id).values_list("pk", "name")
        )

    def _load_members(self) -> None:
        members = Membership.objects.filter(organization_id=self.organization_id)
        for user_id, email, name in members.values_list("user_id", "user__email", "user__name"):
            self.members_by_email[email.casefold()] = user_id
            if name:
                key = name_key(name)
                self.members_by_name[key] = None if key in self.members_by_name else user_id

    def hold_stages(self) -> None:
        """Hold the pipeline's active stages for the batch's transaction, reloading them
        when one was archived or added meanwhile (``pipeline_services.stages_hold``)."""
        active = pipeline_services.stages_hold(self.pipeline.pk)
        if active != {stage.pk for stage in self.stages.values()}:
            self._load_stages()

    def stage_for(self, name: str) -> Stage | None:
        """The active stage of that name, else the closing stage the name means ("Closed
        Won"), else one created first when the job says so."""
        key = name_key(name)
        stage = self.stages.get(key)
        closing_kind = CLOSED_STAGE_NAMES.get(fold(name)) if stage is None else None
        if closing_kind is not None:
            stage = self.first_stage_of_kind.get(closing_kind)
        if stage is not None or not self.create_missing_stages or len(name) > MAX_STAGE_NAME:
            return stage
        try:
            stage = pipeline_services.stage_add(self.pipeline, name=name, kind=StageKind.OPEN)
        except ApiError:
            # Someone added it meanwhile: take theirs.
            self._load_stages()
            return self.stages.get(key)
        self.stages[key] = stage
        self.stage_names[stage.pk] = stage.name
        return stage

    def owner_for(self, raw: str):
        """The member's user id, matched by email or by name; None when not one member."""
        if "@" in raw:
            return self.members_by_email.get(raw.casefold())
        return self.members_by_name.get(name_key(raw))
