"""The probes an orchestrator calls: is the process alive, can it serve."""

import pytest

from apollo import health

pytestmark = pytest.mark.django_db


# Outside a test transaction, as in production: inside one, the tenancy middleware
# clears the database session's scope, which would count here.
@pytest.mark.django_db(transaction=True)
def test_it_answers_liveness_without_touching_the_database(anonymous, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = anonymous.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_it_answers_a_head_probe(anonymous):
    assert anonymous.head("/healthz").status_code == 200


def test_it_is_ready_when_database_cache_and_broker_answer(anonymous):
    response = anonymous.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "broker": "ok"},
    }


def test_it_is_not_ready_when_one_check_fails(anonymous, monkeypatch, caplog):
    def broker_down():
        raise ConnectionError("Error 111 connecting to redis:6379")

    monkeypatch.setitem(health.CHECKS, "broker", broker_down)

    response = anonymous.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "error": {
            "code": "not_ready",
            "message": "Not ready; failing checks: broker.",
            "request_id": response["X-Request-Id"],
        }
    }
    [record] = [r for r in caplog.records if r.getMessage() == "readiness_check_failed"]
    assert record.check == "broker"
    assert record.exc_info[0] is ConnectionError


def test_it_names_every_failing_check(anonymous, monkeypatch):
    def down():
        raise RuntimeError("down")

    monkeypatch.setitem(health.CHECKS, "database", down)
    monkeypatch.setitem(health.CHECKS, "cache", down)

    response = anonymous.get("/readyz")

    assert response.status_code == 503
    assert response.json()["error"]["message"] == "Not ready; failing checks: database, cache."


def test_it_needs_no_token_and_no_organization(anonymous):
    assert anonymous.get("/readyz", HTTP_AUTHORIZATION="Bearer nonsense").status_code == 200
