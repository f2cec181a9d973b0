"""Benchmark of ``GET /v1/leads``: a deep keyset page against the first page and
against the raw SQL of the same page, measured in the same run.

Two orgs of ``--leads`` leads each are generated in PostgreSQL itself, so the other
org's rows share the table and its indexes as they would in production. Each figure
is the median of ``--repeat`` runs; the ratios are what to compare across machines.

The API figures go through Django's test client, in this process. ``--server`` adds
the deep page through a gunicorn worker on 127.0.0.1, which also pays for HTTP and
for the connection health check that a real server's request starts with.
"""

import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse

from django.core import signing
from django.core.management.base import BaseCommand, CommandError
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
        parser.add_argument(
            "--server", action="store_true", help="also measure through a gunicorn worker"
        )

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
            self._report(orgs[0], owner, leads, repeat, options["server"])
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

    def _report(self, organization, owner, leads, repeat, server):
        headers = {
            "Authorization": f"Bearer {issue_id_token(owner)}",
            "X-Organization-Id": str(organization.id),
        }
        client = Client(headers=headers)
        first = client.get("/v1/leads", {"limit": PAGE})
        assert first.status_code == 200, first.content
        deep_row = self._row_at(organization, leads // 2)
        deep = {"limit": PAGE, "cursor": self._cursor_at(first.json()["next_cursor"], deep_row)}

        def api_get(params):
            return self._ok(client.get("/v1/leads", params).status_code)

        api_first = self._median(repeat, lambda: api_get({"limit": PAGE}))
        api_deep = self._median(repeat, lambda: api_get(deep))
        with org_scope(organization.id):
            raw_deep = self._median(repeat, lambda: self._raw_keyset(organization, deep_row))
            raw_offset = self._median(repeat, lambda: self._raw_offset(organization, leads // 2))

        lines = [
            f"leads per org: {leads:,}; page size {PAGE}; median of {repeat}",
            f"API first page        {api_first * 1000:8.2f} ms",
            f"API deep page         {api_deep * 1000:8.2f} ms"
            f"   deep/first = {api_deep / api_first:.2f} (target <= 1.2)",
            f"raw keyset SQL + JSON {raw_deep * 1000:8.2f} ms"
            f"   API/raw   = {api_deep / raw_deep:.2f} (target <= 5)",
            f"raw OFFSET SQL + JSON {raw_offset * 1000:8.2f} ms"
            f"   OFFSET/keyset = {raw_offset / raw_deep:.1f}",
        ]
        if server:
            with self._server() as port:
                http_get = self._http_get(port, headers)
                http_deep = self._median(repeat, lambda: self._ok(http_get(deep)))
            lines.append(
                f"HTTP deep page        {http_deep * 1000:8.2f} ms"
                f"   HTTP/raw  = {http_deep / raw_deep:.2f} (gunicorn, one worker)"
            )
        self.stdout.write("\n".join(lines))

    def _ok(self, status: int) -> None:
        # A refused request (429 once the org's budget is spent) is no page to time.
        if status != 200:
            raise CommandError(f"GET /v1/leads answered {status}")

    @contextlib.contextmanager
    def _server(self):
        """The port of a gunicorn worker serving this project, as ``make run`` does."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        # The embedded servers' addresses are in the environment, so the worker shares
        # this process's database and cache.
        command = [sys.executable, "-m", "gunicorn", "apollo.wsgi", "--workers", "1"]
        server = subprocess.Popen(
            [*command, "--bind", f"127.0.0.1:{port}"],
            env=os.environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            self._wait_until_up(port)
            yield port
        finally:
            server.terminate()
            server.wait(timeout=30)

    def _wait_until_up(self, port: int) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                probe.request("GET", "/healthz")
                probe.getresponse().read()
                return
            except OSError:
                time.sleep(0.2)
        raise CommandError(f"gunicorn did not answer on port {port}")

    def _http_get(self, port: int, headers: dict):
        def get(params) -> int:
            # A connection per request: gunicorn's sync worker closes each one anyway.
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", f"/v1/leads?{urllib.parse.urlencode(params)}", headers=headers)
                response = conn.getresponse()
                response.read()
                return response.status
            finally:
                conn.close()

        return get

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
