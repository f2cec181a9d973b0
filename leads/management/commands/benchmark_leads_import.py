"""Benchmark of the lead import against a raw COPY of the same file, in the same run.

A file of ``--rows`` rows in the shape of real CRM exports (the columns of the public
sample, its phone spellings, owners and stages the org does not know) is written to a
temporary folder. The baseline COPYs it, as text columns, into an empty table. The
import runs as ``manage.py import_leads`` in a child process, so its peak memory is the
child's own maximum resident set size.
"""

import csv
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from apollo.tenancy import privileged
from orgs import services as org_services
from orgs.models import Organization, User

COLUMNS = [
    "Index", "Account Id", "Lead Owner", "First Name", "Last Name", "Company", "Phone 1",
    "Phone 2", "Email 1", "Email 2", "Website", "Source", "Deal Stage", "Notes",
]  # fmt: skip
FIRST = ["Jaime", "Cody", "Leonard", "Manuel", "Selena", "Kelsey", "Anne", "Darlene", "Ivan"]
LAST = ["Hayes", "Salinas", "Rogers", "Lowery", "Doyle", "Mosley", "Franklin", "Hurst"]
PHONES = ["9802005297", "917-584-0243x4606", "001-307-937-7505x54026", "369.329.6963"]
STAGES = ["On Hold", "Re-engagement", "Qualified", "Negotiation", "New Lead"]
SOURCES = ["LinkedIn Outreach", "Cold Call", "Referral", "Networking Event"]
CHUNK = 1 << 20
RAW_TABLE = "benchmark_raw_copy"


def sample_row(n: int) -> list[str]:
    first, last = FIRST[n % len(FIRST)], LAST[n % len(LAST)]
    return [
        str(n), f"{n * 2654435761 % (1 << 60):015X}", f"{LAST[(n + 3) % 8]} {FIRST[n % 9]}",
        first, last, f"{LAST[(n + 1) % 8]} Inc", PHONES[n % 4], PHONES[(n + 1) % 4],
        f"{first.lower()}.{last.lower()}{n}@example.com", f"{last.lower()}{n}@example.org",
        f"https://{last.lower()}{n}.example.com/", SOURCES[n % 4], STAGES[n % 5],
        f"Note {n}: partner school law vote responsibility.",
    ]  # fmt: skip


class Command(BaseCommand):
    help = "Measure the lead import against a raw COPY of the same rows."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=20_000)
        parser.add_argument("--keep", action="store_true", help="keep the generated org")

    def handle(self, *args, rows, keep, **options):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "leads.csv"
            self._write(path, rows)
            size_mb = path.stat().st_size / 1e6
            copy_seconds = self._raw_copy(path)
            owner = User.objects.create_user(email=f"bench-{time.time_ns()}@example.com")
            organization = org_services.organization_create(owner=owner, name="Import bench")
            try:
                import_seconds, peak_mb, output = self._import(path, organization)
            finally:
                if not keep:
                    self._cleanup(organization, owner)

        self.stdout.write(output.strip().splitlines()[-1] if output.strip() else "")
        self.stdout.write(
            "\n".join(
                [
                    f"rows: {rows:,} ({size_mb:.1f} MB)",
                    f"raw COPY into an empty table, committed {copy_seconds:6.2f} s",
                    f"import (manage.py import_leads) {import_seconds:6.2f} s"
                    f"   import/COPY = {import_seconds / copy_seconds:.1f} (target <= 4)",
                    f"import rows per second {rows / import_seconds:12,.0f}",
                    f"import peak memory (max RSS) {peak_mb:6.0f} MB (target <= 256)",
                ]
            )
        )

    def _write(self, path: Path, rows: int) -> None:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            writer.writerows(sample_row(n) for n in range(1, rows + 1))

    def _raw_copy(self, path: Path) -> float:
        """Seconds to COPY the file into an empty table of text columns, and commit.

        A plain table, not a temporary one: the import's rows are written to the
        write-ahead log and made durable, and so are the baseline's.
        """
        columns = ", ".join(f"c{i} text" for i in range(len(COLUMNS)))
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
            cursor.execute(f"CREATE TABLE {RAW_TABLE} ({columns})")
        try:
            started = time.perf_counter()
            with (
                transaction.atomic(),
                connection.cursor() as cursor,
                path.open("rb") as source,
                cursor.copy(f"COPY {RAW_TABLE} FROM STDIN (FORMAT csv, HEADER true)") as copy,
            ):
                while chunk := source.read(CHUNK):
                    copy.write(chunk)
            return time.perf_counter() - started
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {RAW_TABLE}")

    def _import(self, path: Path, organization) -> tuple[float, float, str]:
        command = [
            sys.executable, "manage.py", "import_leads", str(path), "--org",
            str(organization.id), "--verbosity", "0",
        ]  # fmt: skip
        started = time.perf_counter()
        child = subprocess.run(
            command, cwd=settings.BASE_DIR, capture_output=True, text=True, check=False
        )
        elapsed = time.perf_counter() - started
        if child.returncode != 0:
            raise RuntimeError(f"import_leads failed: {child.stderr[-2000:]}")
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return elapsed, peak_kb / 1024, child.stdout

    def _cleanup(self, organization, owner) -> None:
        with privileged("benchmark cleanup"), connection.cursor() as cursor:
            for table in (
                "leads_leadimportissue", "leads_leadimport", "leads_activity", "leads_lead",
                "webhooks_event",
            ):  # fmt: skip
                cursor.execute(
                    f"DELETE FROM {table} WHERE organization_id = %s",  # noqa: S608
                    [organization.id],
                )
            Organization.objects.filter(pk=organization.id).delete()
            owner.delete()
