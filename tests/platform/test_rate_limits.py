import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection

from apollo.models import RateLimitOverride
from apollo.tenancy import privileged
from orgs.auth.issuer import issue_id_token

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def limits(settings):
    def set_limits(**rates):
        settings.APOLLO_RATE_LIMITS = {**settings.APOLLO_RATE_LIMITS, **rates}

    return set_limits


def test_it_sends_the_budget_on_every_answer(client_for, owner, limits):
    limits(read="600/60s")

    response = client_for(owner).get("/v1/members")

    assert response.status_code == 200
    assert response.headers["RateLimit-Policy"] == '"read";q=600;w=60'
    assert response.headers["RateLimit"].startswith('"read";r=599;t=')


def test_it_sends_the_budget_on_an_answer_refused_before_the_org(db, anonymous, limits):
    limits(read="600/60s")

    response = anonymous.get("/v1/members")

    assert response.status_code == 401
    assert response.headers["RateLimit-Policy"] == '"read";q=600;w=60'


def test_it_answers_429_over_the_limit(client_for, owner, limits):
    limits(read="3/60s")
    client = client_for(owner)

    statuses = [client.get("/v1/members").status_code for _ in range(4)]
    refused = client.get("/v1/members")

    assert statuses == [200, 200, 200, 429]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit"].startswith('"read";r=0;t=')


def test_it_counts_each_operation_class_apart(client_for, owner, limits):
    limits(read="1/60s", write="5/60s")
    client = client_for(owner)
    client.get("/v1/members")

    write = client.patch("/v1/organization", {"name": "Renamed"}, format="json")

    assert client.get("/v1/members").status_code == 429
    assert write.status_code == 200
    assert write.headers["RateLimit-Policy"] == '"write";q=5;w=60'


def test_it_counts_each_org_apart(client_for, owner, outsider, other_org, limits):
    limits(read="1/60s")
    client_for(owner).get("/v1/members")

    response = client_for(outsider, organization=other_org).get("/v1/members")

    assert response.status_code == 200


def test_support_can_raise_one_orgs_ceiling(client_for, owner, org, limits):
    limits(read="1/60s")
    with privileged("test setup"):
        RateLimitOverride.objects.create(organization=org, operation_class="read", requests=3)
    client = client_for(owner)

    statuses = [client.get("/v1/members").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]


def test_support_raising_a_ceiling_takes_effect_at_once(client_for, owner, org, limits):
    limits(read="1/60s")
    client = client_for(owner)
    client.get("/v1/members")

    with privileged("test setup"):
        RateLimitOverride.objects.create(organization=org, operation_class="read", requests=3)
    statuses = [client.get("/v1/members").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]


def test_the_cache_counts_a_key_it_holds_and_refuses_one_it_does_not():
    held, missing = f"test-count-{uuid.uuid4()}", f"test-count-{uuid.uuid4()}"
    cache.set(held, 1, timeout=60)

    assert cache.incr(held) == 2
    with pytest.raises(ValueError):
        cache.incr(missing)
    assert cache.get(missing) is None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, env: dict) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "apollo.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
    ]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def wait_until_up(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the server on {port} did not start")


def status_of(url: str, headers: dict) -> int:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def database_url_of_tests() -> str:
    params = connection.get_connection_params()
    host = params.get("host") or "127.0.0.1"
    port = params.get("port") or 5432
    return f"postgresql://{params['user']}@/{params['dbname']}?host={host}&port={port}"


@pytest.mark.django_db(transaction=True)
def test_two_server_processes_share_one_budget(owner, org):
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_tests(),
        "APOLLO_RATE_LIMIT_READ": "5/60s",
    }
    ports = [free_port(), free_port()]
    servers = [start_server(port, env) for port in ports]
    try:
        for port in ports:
            wait_until_up(port)
        headers = {
            "Authorization": f"Bearer {issue_id_token(owner)}",
            "X-Organization-Id": str(org.id),
        }
        statuses = [
            status_of(f"http://127.0.0.1:{ports[i % 2]}/v1/members", headers) for i in range(8)
        ]
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=20)

    assert statuses == [200] * 5 + [429] * 3
