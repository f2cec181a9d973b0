import uuid
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apollo.errors import ApiError
from apollo.tenancy import org_scope
from leads.imports import lead_import_create, lead_import_run
from leads.imports.jobs import MATCH_KEYS, ON_DUPLICATE
from orgs.models import Membership, Organization


class Command(BaseCommand):
    help = (
        "Import a CSV or JSON lines file of leads into an org, in this process, through "
        "the same job and checks as POST /v1/lead-imports."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--org", required=True, type=uuid.UUID, help="The org's id.")
        parser.add_argument("--pipeline", type=uuid.UUID, help="Default: the org's default.")
        parser.add_argument("--match-key", choices=MATCH_KEYS, default="email")
        parser.add_argument("--on-duplicate", choices=ON_DUPLICATE, default="skip")
        parser.add_argument("--region", default="US", help="Default region of phones.")
        parser.add_argument("--create-missing-stages", action="store_true")
        parser.add_argument(
            "--as-user",
            metavar="EMAIL",
            help="A member the job and the leads' timeline are recorded for; the system "
            "when absent.",
        )
        parser.add_argument("--batch-size", type=int, help="Rows per transaction.")

    def handle(self, *args, **options):
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        organization = Organization.objects.filter(pk=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization {options['org']}.")

        with path.open("rb") as binary, org_scope(organization.pk):
            user = self._member(organization, options["as_user"])
            try:
                job = lead_import_create(
                    organization=organization,
                    user=user,
                    upload=File(binary, name=path.name),
                    options={
                        "pipeline_id": options["pipeline"],
                        "match_key": options["match_key"],
                        "on_duplicate": options["on_duplicate"],
                        "default_region": options["region"],
                        "create_missing_stages": options["create_missing_stages"],
                    },
                )
            except ApiError as exc:
                raise CommandError(_describe(exc)) from None

        with tqdm(total=job.rows, unit="row", disable=options["verbosity"] == 0) as bar:
            outcome = lead_import_run(job.pk, batch_size=options["batch_size"], progress=bar.update)
        with org_scope(organization.pk):
            job.refresh_from_db()
        self.stdout.write(
            f"Import {job.pk} {outcome}: {job.rows} rows, {job.created} created, "
            f"{job.updated} updated, {job.skipped} skipped, {job.failed} failed, "
            f"{job.warnings} warnings."
        )
        if job.error:
            raise CommandError(job.error)

    def _member(self, organization, email):
        if not email:
            return None
        membership = (
            Membership.objects.select_related("user")
            .filter(organization=organization, user__email__iexact=email)
            .first()
        )
        if membership is None:
            raise CommandError(f"{email} is not a member of {organization.name}.")
        return membership.user


def _describe(error: ApiError) -> str:
    details = "; ".join(f"{d['field']}: {d['message']}" for d in error.details or [])
    return f"{error.message} {details}".strip()
