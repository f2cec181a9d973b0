"""The cross-tenant probe: row-level security proven in SQL, as the application's role.

It finds the tenant tables itself (every table with an ``organization_id`` column), so
a table added later without its policies fails here.
"""

import pytest
from django.db import DatabaseError, connection, transaction

from apollo.models import IdempotencyRecord, RateLimitOverride
from apollo.rls import CURRENT_ORG, PRIVILEGED, ROW_SECURITY_EXEMPT
from apollo.tenancy import privileged
from leads.models import Activity, Lead, LeadField, LeadImport, LeadImportIssue
from orgs import services
from orgs.models import Role
from pipelines.models import Stage
from tests.conftest import add_member, make_user
from webhooks.services import event_emit


def fetch(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def scope(org_id="", privileged_flag=""):
    fetch(
        "SELECT set_config('apollo.org_id', %s, true), set_config('apollo.user_id', '', true),"
        " set_config('apollo.privileged', %s, true)",
        [str(org_id), privileged_flag],
    )


def tenant_tables():
    rows = fetch(
        "SELECT table_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND column_name = 'organization_id'"
        " ORDER BY table_name"
    )
    return [name for (name,) in rows if name not in ROW_SECURITY_EXEMPT]


@pytest.fixture
def two_orgs(db):
    """Two orgs with rows in every tenant table: a new tenant table adds its rows here."""
    alpha = services.organization_create(owner=make_user("a@example.com"), name="Alpha")
    beta = services.organization_create(owner=make_user("b@example.com"), name="Beta")
    add_member(alpha, make_user("a2@example.com"), Role.MEMBER)
    for organization in (alpha, beta):
        with privileged("test setup"):
            seed_tenant_rows(organization, organization_owner(organization))
    return alpha, beta


def seed_tenant_rows(organization, owner):
    tag = str(organization.id)
    services.Invitation.objects.create(
        organization=organization,
        email=f"invitee-{tag}@example.com",
        role=Role.MEMBER,
        token_hash=tag,
        expires_at="2999-01-01T00:00:00Z",
    )
    IdempotencyRecord.objects.create(
        organization=organization,
        user=owner,
        method="POST",
        path="/v1/invitations",
        key=tag,
        fingerprint="0" * 64,
        expires_at="2999-01-01T00:00:00Z",
    )
    RateLimitOverride.objects.create(
        organization=organization, operation_class="read", requests=1000
    )
    event_emit(organization_id=organization.id, type="webhook.test", data={})
    LeadField.objects.create(
        organization=organization, key="industry", label="Industry", type="text"
    )
    stage = Stage.objects.filter(organization=organization, position=0).get()
    lead = Lead.objects.create(
        organization=organization,
        pipeline_id=stage.pipeline_id,
        stage=stage,
        contact_name="Probe Lead",
    )
    Activity.objects.create(
        organization=organization, lead=lead, type="note_added", actor_type="system"
    )
    job = LeadImport.objects.create(organization=organization, file_name="probe.csv")
    LeadImportIssue.objects.create(
        organization=organization, job=job, severity="error", row=1, code="probe", message="probe"
    )


def organization_owner(organization):
    with privileged("test setup"):
        return services.Membership.objects.get(organization=organization, role=Role.OWNER).user


def test_it_connects_as_a_role_that_row_security_applies_to(db):
    [(superuser, bypass)] = fetch(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    )

    assert (superuser, bypass) == (False, False)


def test_it_finds_the_tenant_tables(db):
    assert {"orgs_membership", "orgs_invitation"} <= set(tenant_tables())


def row_security_of(table):
    [(enabled, forced, owner)] = fetch(
        "SELECT c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner)"
        " FROM pg_class c WHERE c.relname = %s AND c.relkind = 'r'",
        [table],
    )
    policies = fetch(
        "SELECT qual, with_check FROM pg_policies"
        " WHERE tablename = %s AND policyname = 'tenant_isolation'",
        [table],
    )
    return enabled, forced, owner, policies


def test_it_forces_the_org_policy_on_every_tenant_table(db):
    [(current_user,)] = fetch("SELECT current_user")
    unprotected = []
    for table in tenant_tables():
        enabled, forced, owner, policies = row_security_of(table)
        keyed = [
            all(part in expression for part in ("organization_id", "apollo.org_id"))
            for policy in policies
            for expression in policy
        ]
        if not (enabled and forced and owner == current_user and keyed and all(keyed)):
            unprotected.append(table)

    assert unprotected == []


def test_it_shows_no_rows_when_no_org_is_set(two_orgs):
    counts = {}
    for table in tenant_tables():
        scope(privileged_flag="on")
        [(total,)] = fetch(f"SELECT count(*) FROM {table}")
        scope()
        [(visible,)] = fetch(f"SELECT count(*) FROM {table}")
        counts[table] = (total > 0, visible)

    assert counts == {table: (True, 0) for table in tenant_tables()}


def test_it_shows_only_the_current_orgs_rows(two_orgs):
    alpha, _ = two_orgs
    seen = {}
    for table in tenant_tables():
        scope(alpha.id)
        seen[table] = {o for (o,) in fetch(f"SELECT organization_id FROM {table}")}

    assert seen == {table: {alpha.id} for table in tenant_tables()}


def test_it_refuses_to_write_a_row_of_another_org(two_orgs):
    alpha, beta = two_orgs
    [(user_id,)] = fetch("SELECT id FROM orgs_user WHERE email = 'a2@example.com'")
    scope(alpha.id)

    with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
        fetch(
            "INSERT INTO orgs_membership (id, organization_id, user_id, role, created_at,"
            " updated_at) VALUES (gen_random_uuid(), %s, %s, 'owner', now(), now())",
            [beta.id, user_id],
        )


def test_it_cannot_move_a_row_into_another_org(two_orgs):
    alpha, beta = two_orgs
    scope(alpha.id)

    with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
        fetch("UPDATE orgs_invitation SET organization_id = %s", [beta.id])


def test_it_cannot_touch_another_orgs_rows(two_orgs):
    alpha, beta = two_orgs
    scope(alpha.id)

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE orgs_invitation SET role = 'admin' WHERE organization_id = %s", [beta.id]
        )
        updated = cursor.rowcount
        cursor.execute("DELETE FROM orgs_membership WHERE organization_id = %s", [beta.id])
        deleted = cursor.rowcount

    assert (updated, deleted) == (0, 0)


def test_it_sees_every_org_only_through_the_privileged_path(two_orgs):
    alpha, beta = two_orgs

    with privileged("probe"):
        inside = {o for (o,) in fetch("SELECT DISTINCT organization_id FROM orgs_membership")}
    scope()
    after = fetch("SELECT count(*) FROM orgs_membership")

    assert inside == {alpha.id, beta.id}
    assert after == [(0,)]


def test_the_policy_helpers_name_the_settings_the_app_sets():
    assert "apollo.org_id" in CURRENT_ORG
    assert "apollo.privileged" in PRIVILEGED
