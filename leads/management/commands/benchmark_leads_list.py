"""Benchmark of ``GET /v1/leads``: a deep keyset page against the first page and
against the raw SQL of the same page, measured in the same run.

Two orgs of ``--leads`` leads each are generated in PostgreSQL itself, so the other
org's rows share the table and its indexes as they would in production. Each figure
is the median of ``--repeat`` runs; the ratios are what to compare across machines.
"""

import json
import statistics
import time

from django.core import signing
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test import Client

from apollo.pagination import CURSOR_SALT
from apollo.tenancy import org_scope, privileged
from orgs import services as org_services
from orgs.auth.issuer import issue_id_token
from orgs.models import Organization, User
from pipelines.models import Stage

PAGE = 50
COLUMNS = (
    "id, organization_id, pipeline_id, stage_id, contact_name, company_name, email, phone,"
    " phone_extension, website, source, owner_id, tags, value_cents, external_id,"
    " custom_fields, created_at, updated_at, last_activity_at"
)


class Command(BaseCommand):
    help = "Measure the leads list: first page, a deep page, raw SQL and OFFSET."

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=20_000, help="leads per org")
        parser.add_argument("--repeat", type=int, default=15)
        parser.add_argument("--keep", action="store_true", help="keep the generated orgs")

    def handle(self, *args, leads, repeat, **options):
        owner = User.objects.create_user(email=f"bench-{time.time_ns()}@example.com")
        orgs = [org_services.organization_create(owner=owner, name=f"Bench {i}") for i in (1, 2)]
        started = time.monotonic()
        for organization in orgs:
            self._generate(organization, leads)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE leads_lead")
        self.stdout.write(f"generated {2 * leads:,} leads in {time.monotonic() - started:.1f}s")

        try:
            self._report(orgs[0], owner, leads, repeat)
        finally:
            if not options["keep"]:
                self._cleanup(orgs, owner)

    def _generate(self, organization, count):
        with org_scope(organization.id), connection.cursor() as cursor:
            stage = Stage.objects.get(
                organization=organization, position=0, pipeline__is_default=True
            )
            # Timestamps repeat every 1000 rows on purpose: the keyset must break ties.
            cursor.execute(
                f"INSERT INTO leads_lead ({COLUMNS})"  # noqa: S608 - constant column list
                " SELECT gen_random_uuid(), %s, %s, %s, 'Contact ' || g, 'Company ' || (g %% 997),"
                " 'lead' || g || '@example.com', '', '', '', 'Benchmark', NULL,"
                " ARRAY['tag' || (g %% 7)], (g %% 10000) * 100, NULL, '{}'::jsonb,"
                " timestamp '2026-01-01' + (g / 1000) * interval '1 second',"
                " timestamp '2026-01-01', NULL"
                " FROM generate_series(1, %s) AS g",
                [organization.id, stage.pipeline_id, stage.id, count],
            )

    def _report(self, organization, owner, leads, repeat):
        client = Client(
            HTTP_AUTHORIZATION=f"Bearer {issue_id_token(owner)}",
            HTTP_X_ORGANIZATION_ID=str(organization.id),
        )
        first = client.get("/v1/leads", {"limit": PAGE})
        assert first.status_code == 200, first.content
        deep_row = self._row_at(organization, leads // 2)
        cursor = self._cursor_at(first.json()["next_cursor"], deep_row)

        api_first = self._median(repeat, lambda: client.get("/v1/leads", {"limit": PAGE}))
        api_deep = self._median(
            repeat, lambda: client.get("/v1/leads", {"limit": PAGE, "cursor": cursor})
        )
        with org_scope(organization.id):
            raw_deep = self._median(repeat, lambda: self._raw_keyset(organization, deep_row))
            raw_offset = self._median(repeat, lambda: self._raw_offset(organization, leads // 2))

        self.stdout.write(
            "\n".join(
                [
                    f"leads per org: {leads:,}; page size {PAGE}; median of {repeat}",
                    f"API first page        {api_first * 1000:8.2f} ms",
                    f"API deep page         {api_deep * 1000:8.2f} ms"
                    f"   deep/first = {api_deep / api_first:.2f} (target <= 1.2)",
                    f"raw keyset SQL + JSON {raw_deep * 1000:8.2f} ms"
                    f"   API/raw   = {api_deep / raw_deep:.2f} (target <= 5)",
                    f"raw OFFSET SQL + JSON {raw_offset * 1000:8.2f} ms"
                    f"   OFFSET/keyset = {raw_offset / raw_deep:.1f}",
                ]
            )
        )

    def _row_at(self, organization, offset):
        with org_scope(organization.id), connection.cursor() as cursor:
            cursor.execute(
                "SELECT created_at, id FROM leads_lead WHERE organization_id = %s"
                " ORDER BY created_at DESC, id DESC OFFSET %s LIMIT 1",
                [organization.id, offset],
            )
            return cursor.fetchone()

    def _cursor_at(self, template: str, row) -> str:
        """A cursor the API itself would issue at ``row``: its own, moved there."""
        payload = signing.loads(template, salt=CURSOR_SALT)
        payload.update(v=row[0].isoformat(), id=str(row[1]))
        return signing.dumps(payload, salt=CURSOR_SALT, compress=True)

    def _raw_keyset(self, organization, row):
        return self._raw(
            "WHERE organization_id = %s AND (created_at, id) < (%s, %s)"
            " ORDER BY created_at DESC, id DESC LIMIT %s",
            [organization.id, row[0], row[1], PAGE + 1],
            organization,
        )

    def _raw_offset(self, organization, offset):
        return self._raw(
            "WHERE organization_id = %s ORDER BY created_at DESC, id DESC OFFSET %s LIMIT %s",
            [organization.id, offset, PAGE + 1],
            organization,
        )

    def _raw(self, clause, params, organization):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {COLUMNS} FROM leads_lead {clause}", params)  # noqa: S608
            names = [column.name for column in cursor.description]
            rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
        return json.dumps(rows, default=str)

    def _median(self, repeat, work) -> float:
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            work()
            timings.append(time.perf_counter() - started)
        return statistics.median(timings)

    def _cleanup(self, orgs, owner):
        with privileged("benchmark cleanup"), transaction.atomic():
            ids = [organization.id for organization in orgs]
            with connection.cursor() as cursor:
                for table in ("leads_activity", "leads_lead"):
                    cursor.execute(
                        f"DELETE FROM {table} WHERE organization_id = ANY(%s)",  # noqa: S608
                        [ids],
                    )
            Organization.objects.filter(pk__in=ids).delete()
            owner.delete()
