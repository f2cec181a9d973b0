"""The run command's demo organization: made once, found again on every later start."""

import pytest

from apollo.management.commands.run import DEMO_EMAIL, DEMO_ORG, Command
from apollo.tenancy import privileged
from orgs.models import Membership, Organization, Role

pytestmark = pytest.mark.django_db


def test_it_makes_the_demo_org_once_and_finds_it_on_the_next_start():
    first_user, first_org = Command()._demo()

    again_user, again_org = Command()._demo()

    assert (again_user, again_org) == (first_user, first_org)
    assert (first_user.email, first_org.name) == (DEMO_EMAIL, DEMO_ORG)
    assert Organization.objects.filter(name=DEMO_ORG).count() == 1
    with privileged("a test reads the demo membership"):
        assert Membership.objects.get(user=first_user).role == Role.OWNER
