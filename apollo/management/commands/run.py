"""Run Apollo Space locally: migrations, a demo org, the API server and a worker.

This process owns the embedded PostgreSQL and Redis (when no URLs are set) and hands
their addresses to the server and the worker through the environment, so all three
use the same servers. Ctrl-C stops the children, then the embedded servers.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from apollo.local_services import VAR_DIR
from apollo.tenancy import privileged
from orgs import services as org_services
from orgs.auth import issuer
from orgs.models import Membership, Organization, User

DEMO_EMAIL = "demo@example.com"
DEMO_ORG = "Demo Organization"


class Command(BaseCommand):
    help = "Run the API server and a worker with a demo organization."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("APOLLO_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("APOLLO_PORT", 8000)))
        parser.add_argument("--workers", type=int, default=2, help="web server processes")

    def handle(self, *args, host, port, workers, **options):
        call_command("migrate", interactive=False, verbosity=0)
        user, organization = self._demo()
        children = self._start(host, port, workers)
        self._wait_until_ready(host, port, children)
        self._print_welcome(host, port, user, organization)
        self._supervise(children)

    def _demo(self):
        user = User.objects.filter(email__iexact=DEMO_EMAIL).first()
        if user is None:
            user = User.objects.create_user(email=DEMO_EMAIL, name="Demo Owner")
        with privileged("the run command finds the demo owner's organization"):
            membership = (
                Membership.objects.filter(user=user, organization__name=DEMO_ORG)
                .order_by("organization__created_at")
                .first()
            )
        if membership is None:
            organization = org_services.organization_create(owner=user, name=DEMO_ORG)
        else:
            organization = Organization.objects.get(pk=membership.organization_id)
        return user, organization

    def _start(self, host, port, workers):
        bin_dir = os.path.dirname(sys.executable)
        web = [
            shutil.which("gunicorn", path=bin_dir) or "gunicorn",
            "apollo.wsgi",
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(workers),
            "--config",
            "python:apollo.gunicorn_conf",
        ]
        worker = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "apollo",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            # The periodic sweeps of CELERY_BEAT_SCHEDULE, in this one worker.
            "--beat",
            "--schedule",
            str(VAR_DIR / "celerybeat-schedule"),
        ]
        return [subprocess.Popen(web), subprocess.Popen(worker)]

    def _wait_until_ready(self, host, port, children, timeout=60):
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(child.poll() is not None for child in children):
                self._stop(children)
                raise SystemExit("The server or the worker exited at start; see above.")
            try:
                with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        self._stop(children)
        raise SystemExit("The server did not answer in time.")

    def _print_welcome(self, host, port, user, organization):
        base = f"http://{host}:{port}"
        token = issuer.issue_id_token(user)
        self.stdout.write(
            f"""
Apollo Space is running at {base} (docs: {base}/v1/docs)
Demo owner {user.email} in "{organization.name}".

export TOKEN={token}
export ORG={organization.id}

curl -s {base}/v1/me -H "Authorization: Bearer $TOKEN"
curl -s {base}/v1/organization -H "Authorization: Bearer $TOKEN" -H "X-Organization-Id: $ORG"

The token expires in {settings.APOLLO_ID_TOKEN_TTL_SECONDS // 60} minutes. Ctrl-C stops everything.
"""
        )
        self.stdout.flush()

    def _supervise(self, children):
        stop = {"now": False}

        def request_stop(signum, frame):
            stop["now"] = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stop["now"] and all(child.poll() is None for child in children):
            time.sleep(0.5)
        self._stop(children)

    def _stop(self, children):
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
