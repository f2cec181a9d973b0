"""Helpers that tests of several apps share: answers, memberships and races."""

import threading
import time

from django.db import connection

from apollo.errors import ApiError
from apollo.tenancy import org_scope, privileged
from orgs.models import Membership


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def error(response, code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, "request_id": response["X-Request-Id"]}}


def role_of(user, organization) -> str | None:
    with privileged("a test reads a membership"):
        membership = user.memberships.filter(organization=organization).first()
    return membership.role if membership else None


def membership_of(user, organization) -> Membership:
    with privileged("a test reads a membership"):
        return Membership.objects.get(user=user, organization=organization)


def run_while_held(organization, first, second):
    """Run ``first`` in a transaction held open while ``second`` starts in another one.

    Returns what ``second`` raised (or None), after ``first`` committed.
    """
    held, release, outcome = threading.Event(), threading.Event(), []

    def hold():
        try:
            with org_scope(organization.id):
                first()
                held.set()
                release.wait(10)
        finally:
            connection.close()

    def race():
        try:
            with org_scope(organization.id):
                second()
            outcome.append(None)
        except ApiError as exc:
            outcome.append(exc.code)
        finally:
            connection.close()

    holder, racer = threading.Thread(target=hold), threading.Thread(target=race)
    holder.start()
    assert held.wait(10)
    racer.start()
    # Long enough for the racer to reach the lock the holder keeps.
    time.sleep(0.5)
    release.set()
    holder.join(10)
    racer.join(10)
    return outcome[0]
