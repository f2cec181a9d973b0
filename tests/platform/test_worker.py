"""One task through a real Celery worker and the configured broker."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail

from apollo.celery import app as celery_app


@pytest.fixture
def worker():
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = False
    with start_worker(celery_app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        yield


@pytest.mark.django_db(transaction=True)
def test_it_mails_an_invitation_from_a_real_worker(worker, client_for, owner, org):
    response = client_for(owner).post(
        "/v1/invitations", {"email": "newcomer@example.com", "role": "member"}, format="json"
    )

    deadline = time.monotonic() + 20
    while not mail.outbox and time.monotonic() < deadline:
        time.sleep(0.1)

    assert response.status_code == 201
    assert [message.to for message in mail.outbox] == [["newcomer@example.com"]]
    assert response.json()["token"] in mail.outbox[0].body
