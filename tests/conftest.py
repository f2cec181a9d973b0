"""Personas and clients shared by every test.

Tenant rows are created through the services or inside ``privileged()``, as the
application's own code does: the test database enforces row-level security too.
"""

import os

import pytest
from django.test import Client as Browser
from rest_framework.test import APIClient

from apollo.celery import app as celery_app
from apollo.tenancy import privileged
from orgs import services
from orgs.auth.issuer import issue_id_token
from orgs.models import Membership, Role, User

PASSWORD = "correct horse battery staple"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With CI=true a skipped test fails: a skip there hides a missing service."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI", "").lower() == "true":
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must not skip: {report.longrepr}"


@pytest.fixture(autouse=True)
def _eager_celery():
    # The app reads its configuration from Django settings under the CELERY_ prefix,
    # so the prefixed name is the one that takes effect.
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = True
    yield
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = False


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Real hashing costs most of a test's time; tests of hashing itself do not exist."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _generous_rate_limits(settings):
    """Tests share one cache and one address; rate-limit tests set their own ceilings."""
    settings.APOLLO_RATE_LIMITS = dict.fromkeys(settings.APOLLO_RATE_LIMITS, "100000/60s")


def make_user(email: str, name: str = "") -> User:
    return User.objects.create_user(email=email, password=PASSWORD, name=name)


def add_member(organization, user, role) -> Membership:
    with privileged("test setup"):
        return Membership.objects.create(organization=organization, user=user, role=role)


class Client(APIClient):
    """An API client for one user, acting in one org unless told otherwise."""

    def __init__(self, user=None, organization=None, **kwargs):
        super().__init__(**kwargs)
        headers = {}
        if user is not None:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {issue_id_token(user)}"
        if organization is not None:
            headers["HTTP_X_ORGANIZATION_ID"] = str(organization.id)
        self.credentials(**headers)
        self.user = user
        self.organization = organization


@pytest.fixture
def support(db):
    """A staff superuser, signed into the admin."""
    user = User.objects.create_superuser(email="support@apollo.example", password=PASSWORD)
    browser = Browser()
    browser.force_login(user)
    return browser


@pytest.fixture
def owner(db):
    return make_user("owner@example.com", "Olive Owner")


@pytest.fixture
def org(owner):
    return services.organization_create(owner=owner, name="Acme")


@pytest.fixture
def admin(org):
    user = make_user("admin@example.com", "Ada Admin")
    add_member(org, user, Role.ADMIN)
    return user


@pytest.fixture
def member(org):
    user = make_user("member@example.com", "Max Member")
    add_member(org, user, Role.MEMBER)
    return user


@pytest.fixture
def viewer(org):
    user = make_user("viewer@example.com", "Vic Viewer")
    add_member(org, user, Role.VIEWER)
    return user


@pytest.fixture
def other_org(db):
    return services.organization_create(owner=make_user("rival@example.com"), name="Rival")


@pytest.fixture
def outsider(other_org):
    """Owner of another org, member of none of ``org``'s."""
    return User.objects.get(email="rival@example.com")


@pytest.fixture
def client_for(org):
    def build(user=None, organization=org, **kwargs):
        return Client(user, organization, **kwargs)

    return build


@pytest.fixture
def anonymous():
    return Client()
