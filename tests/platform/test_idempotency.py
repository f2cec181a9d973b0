import io
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection

from apollo.models import IdempotencyRecord
from apollo.tenancy import privileged
from orgs import services
from orgs.models import Invitation, Organization
from tests.conftest import Client

INVITE = {"email": "newcomer@example.com", "role": "member"}


def post(client, path, body, key):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def invitations(org):
    with privileged("test"):
        return Invitation.objects.filter(organization=org).count()


def test_it_replays_a_completed_request_without_a_second_effect(client_for, owner, org):
    client = client_for(owner)

    first = post(client, "/v1/invitations", INVITE, "key-1")
    again = post(client, "/v1/invitations", INVITE, "key-1")

    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert invitations(org) == 1


def test_it_refuses_the_same_key_with_another_body(client_for, owner):
    client = client_for(owner)
    post(client, "/v1/invitations", INVITE, "key-1")

    response = post(client, "/v1/invitations", {**INVITE, "role": "viewer"}, "key-1")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_it_refuses_a_key_over_255_characters(client_for, owner, org):
    response = post(client_for(owner), "/v1/invitations", INVITE, "k" * 256)

    assert response.status_code == 400
    assert response.json()["error"]["details"] == [
        {
            "field": "Idempotency-Key",
            "code": "invalid_length",
            "message": "Must be 1 to 255 characters.",
        }
    ]
    assert invitations(org) == 0


def test_it_stores_a_client_error_and_replays_it(client_for, owner, org):
    client = client_for(owner)

    first = post(client, "/v1/invitations", {"email": "x@example.com", "role": "boss"}, "k")
    again = post(client, "/v1/invitations", {"email": "x@example.com", "role": "boss"}, "k")

    assert first.status_code == again.status_code == 400
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"


def test_it_keeps_a_stored_client_error_without_its_effects(client_for, owner, org, member):
    client = client_for(owner)
    member_invite = {"email": "member@example.com", "role": "member"}

    response = post(client, "/v1/invitations", member_invite, "k")

    assert response.json()["error"]["code"] == "already_member"
    assert invitations(org) == 0
    with privileged("test"):
        assert IdempotencyRecord.objects.get(key="k").response_status == 409


def test_it_stores_nothing_for_a_server_error(client_for, owner, org, monkeypatch):
    client = client_for(owner, raise_request_exception=False)
    real = services.invitation_create

    def broken(**kwargs):
        raise RuntimeError("the mail relay is on fire")

    monkeypatch.setattr(services, "invitation_create", broken)
    failed = post(client, "/v1/invitations", INVITE, "k")
    monkeypatch.setattr(services, "invitation_create", real)
    retried = post(client, "/v1/invitations", INVITE, "k")

    assert failed.status_code == 500
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert invitations(org) == 1


def test_it_scopes_keys_by_user_path_and_org(client_for, owner, admin, org, other_org):
    first = post(client_for(owner), "/v1/invitations", INVITE, "shared")
    by_admin = post(client_for(admin), "/v1/invitations", {**INVITE, "email": "b@x.io"}, "shared")
    new_org = post(
        client_for(owner, organization=None), "/v1/organizations", {"name": "N"}, "shared"
    )

    assert [first.status_code, by_admin.status_code, new_org.status_code] == [201, 201, 201]
    assert "Idempotent-Replayed" not in by_admin.headers
    assert "Idempotent-Replayed" not in new_org.headers


def test_it_frees_an_expired_key(client_for, owner, org):
    client = client_for(owner)
    post(client, "/v1/organizations", {"name": "First"}, "k")
    with privileged("test"):
        IdempotencyRecord.objects.update(expires_at="2000-01-01T00:00:00Z")

    again = post(client, "/v1/organizations", {"name": "First"}, "k")

    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert Organization.objects.filter(name="First").count() == 2


def test_the_sweep_deletes_expired_keys_of_every_org_and_keeps_live_ones(
    client_for, owner, org, other_org, outsider
):
    post(client_for(owner), "/v1/invitations", INVITE, "old")
    post(client_for(outsider, organization=other_org), "/v1/invitations", INVITE, "old")
    post(client_for(owner), "/v1/invitations", {**INVITE, "email": "b@x.io"}, "live")
    with privileged("test"):
        IdempotencyRecord.objects.filter(key="old").update(expires_at="2000-01-01T00:00:00Z")
    out = io.StringIO()

    call_command("prune_idempotency_keys", "--batch-size", "1", verbosity=0, stdout=out)

    with privileged("test"):
        assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["live"]
    assert out.getvalue().startswith("Deleted 2 idempotency keys that expired before ")


def test_it_ignores_the_key_on_reads(client_for, owner):
    response = client_for(owner).get("/v1/members", HTTP_IDEMPOTENCY_KEY="k" * 300)

    assert response.status_code == 200


def slow_organization_create(monkeypatch, seconds):
    real = services.organization_create

    def slow(**kwargs):
        time.sleep(seconds)
        return real(**kwargs)

    monkeypatch.setattr(services, "organization_create", slow)


def in_threads(count, work):
    results = [None] * count

    def run(index):
        try:
            results[index] = work()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_racing_requests_with_one_key_have_one_effect(owner, monkeypatch):
    slow_organization_create(monkeypatch, 0.5)

    def attempt():
        response = post(Client(owner), "/v1/organizations", {"name": "Raced"}, "race")
        return response.status_code, response.headers.get("Idempotent-Replayed")

    results = in_threads(6, attempt)

    assert Organization.objects.filter(name="Raced").count() == 1
    assert results.count((201, None)) == 1
    assert set(results) <= {(201, None), (201, "true"), (409, None)}


@pytest.mark.django_db(transaction=True)
def test_it_answers_409_while_the_first_request_runs(owner, monkeypatch):
    slow_organization_create(monkeypatch, 1.5)
    first = {}

    def run_first():
        first["response"] = post(Client(owner), "/v1/organizations", {"name": "Slow"}, "k")
        connection.close()

    runner = threading.Thread(target=run_first)
    runner.start()
    time.sleep(0.5)

    during = post(Client(owner), "/v1/organizations", {"name": "Slow"}, "k")
    runner.join()
    after = post(Client(owner), "/v1/organizations", {"name": "Slow"}, "k")

    assert during.status_code == 409
    assert during.json()["error"]["code"] == "idempotency_key_in_use"
    assert during.headers["Retry-After"] == "1"
    assert first["response"].status_code == 201
    assert (after.status_code, after.headers["Idempotent-Replayed"]) == (201, "true")
