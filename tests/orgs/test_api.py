"""Identity, the current organization and its members, through the public API."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apollo.tenancy import privileged
from orgs import services
from orgs.models import Membership, Organization, Role, User
from tests.conftest import Client, add_member, make_user
from tests.helpers import error, iso, membership_of, role_of, run_while_held

pytestmark = pytest.mark.django_db


def organization_body(organization: Organization) -> dict:
    organization.refresh_from_db()
    return {
        "id": str(organization.id),
        "name": organization.name,
        "currency": organization.currency,
        "created_at": iso(organization.created_at),
        "updated_at": iso(organization.updated_at),
    }


def member_body(membership: Membership) -> dict:
    return {
        "user_id": str(membership.user_id),
        "email": membership.user.email,
        "name": membership.user.name,
        "role": membership.role,
        "created_at": iso(membership.created_at),
        "updated_at": iso(membership.updated_at),
    }


FORBIDDEN_MESSAGE = "You are not a member of this organization."
ROLE_MESSAGE = "Your role does not allow this action."
OWNER_ONLY_MESSAGE = "Only an owner can grant, change or remove the owner role."
MEMBER_NOT_FOUND_MESSAGE = "No member with this user id in this organization."


# /v1/me


def test_it_lists_the_memberships_of_the_user_across_organizations(owner, org):
    beta = services.organization_create(owner=make_user("beta@example.com"), name="Beta")
    add_member(beta, owner, Role.VIEWER)

    response = Client(owner).get("/v1/me")

    assert response.status_code == 200
    assert response.json() == {
        "id": str(owner.id),
        "email": "owner@example.com",
        "name": "Olive Owner",
        "memberships": [
            {"organization_id": str(org.id), "organization_name": "Acme", "role": "owner"},
            {"organization_id": str(beta.id), "organization_name": "Beta", "role": "viewer"},
        ],
    }


def test_it_answers_me_without_memberships_for_a_user_of_no_organization(db):
    user = make_user("loner@example.com")

    response = Client(user).get("/v1/me")

    assert response.status_code == 200
    assert response.json()["memberships"] == []


def test_it_refuses_me_without_a_token(anonymous):
    response = anonymous.get("/v1/me")

    assert response.status_code == 401
    assert response.json() == error(
        response, "token_missing", "Send a bearer token in the Authorization header."
    )


# POST /v1/organizations


def test_it_creates_an_organization_whose_creator_is_the_owner(db):
    creator = make_user("founder@example.com")
    client = Client(creator)

    response = client.post("/v1/organizations", {"name": "Orbit", "currency": "EUR"}, "json")

    assert response.status_code == 201
    organization = Organization.objects.get(pk=response.json()["id"])
    assert response.json() == organization_body(organization)
    assert organization.name == "Orbit"
    assert organization.currency == "EUR"
    assert role_of(creator, organization) == "owner"
    assert Client(creator, organization).get("/v1/organization").status_code == 200


def test_it_creates_an_organization_in_usd_when_no_currency_is_given(db):
    response = Client(make_user("founder@example.com")).post(
        "/v1/organizations", {"name": "Orbit"}, "json"
    )

    assert response.status_code == 201
    assert response.json()["currency"] == "USD"


def test_it_ignores_an_org_header_when_creating_an_organization(client_for, member, org):
    response = client_for(member).post("/v1/organizations", {"name": "Side project"}, "json")

    assert response.status_code == 201
    created = Organization.objects.get(pk=response.json()["id"])
    assert created != org
    assert role_of(member, created) == "owner"
    assert role_of(member, org) == "member"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "name"), ({"name": ""}, "name"), ({"name": "Orbit", "currency": "euro"}, "currency")],
)
def test_it_refuses_an_invalid_organization_naming_the_field(db, body, field):
    response = Client(make_user("founder@example.com")).post("/v1/organizations", body, "json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert [detail["field"] for detail in response.json()["error"]["details"]] == [field]
    assert not Organization.objects.filter(name="Orbit").exists()


def test_it_refuses_to_create_an_organization_without_a_token(anonymous):
    response = anonymous.post("/v1/organizations", {"name": "Orbit"}, "json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_missing"


# GET and PATCH /v1/organization


@pytest.mark.parametrize("persona", ["owner", "admin", "member", "viewer"])
def test_it_shows_the_current_organization_to_every_role(request, client_for, org, persona):
    user = request.getfixturevalue(persona)

    response = client_for(user).get("/v1/organization")

    assert response.status_code == 200
    assert response.json() == organization_body(org)


@pytest.mark.parametrize("persona", ["owner", "admin"])
def test_it_lets_an_admin_or_owner_rename_the_organization(request, client_for, org, persona):
    user = request.getfixturevalue(persona)

    response = client_for(user).patch(
        "/v1/organization", {"name": "Acme Rockets", "currency": "EUR"}, "json"
    )

    assert response.status_code == 200
    org.refresh_from_db()
    assert (org.name, org.currency) == ("Acme Rockets", "EUR")
    assert response.json() == organization_body(org)


@pytest.mark.parametrize("persona", ["member", "viewer"])
def test_it_refuses_a_member_or_viewer_to_change_the_organization(
    request, client_for, org, persona
):
    user = request.getfixturevalue(persona)

    response = client_for(user).patch("/v1/organization", {"name": "Hijacked"}, "json")

    assert response.status_code == 403
    assert response.json() == error(response, "permission_denied", ROLE_MESSAGE)
    org.refresh_from_db()
    assert org.name == "Acme"


def test_it_ignores_an_id_in_the_body_when_changing_the_organization(client_for, owner, org):
    response = client_for(owner).patch(
        "/v1/organization", {"id": str(uuid.uuid4()), "name": "Acme 2"}, "json"
    )

    assert response.status_code == 200
    assert response.json()["id"] == str(org.id)


def test_it_refuses_an_invalid_organization_change(client_for, owner, org):
    response = client_for(owner).patch("/v1/organization", {"currency": "usd"}, "json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert [detail["field"] for detail in response.json()["error"]["details"]] == ["currency"]


@pytest.mark.parametrize("header", [None, "", "not-a-uuid", "123"])
def test_it_requires_a_well_formed_org_header(owner, org, header):
    extra = {} if header is None else {"HTTP_X_ORGANIZATION_ID": header}

    response = Client(owner).get("/v1/organization", **extra)

    assert response.status_code == 403
    assert response.json() == error(
        response,
        "organization_required",
        "Send the X-Organization-Id header with the id of one of your organizations.",
    )


def test_it_answers_a_foreign_and_a_missing_org_the_same_way(owner, org, other_org):
    missing = Organization(id=uuid.uuid4())

    foreign = Client(owner, other_org).get("/v1/organization")
    nowhere = Client(owner, missing).get("/v1/organization")

    assert (foreign.status_code, nowhere.status_code) == (403, 403)
    assert foreign.json() == error(foreign, "organization_forbidden", FORBIDDEN_MESSAGE)
    assert nowhere.json() == error(nowhere, "organization_forbidden", FORBIDDEN_MESSAGE)
    assert foreign.content.replace(foreign["X-Request-Id"].encode(), b"") == (
        nowhere.content.replace(nowhere["X-Request-Id"].encode(), b"")
    )


def test_it_gives_staff_no_rights_in_an_organization(org):
    staff = User.objects.create_superuser(email="support@example.com", password="x" * 12)

    response = Client(staff, org).get("/v1/organization")

    assert response.status_code == 403
    assert response.json() == error(response, "organization_forbidden", FORBIDDEN_MESSAGE)


def test_it_checks_the_token_before_the_org_header(anonymous):
    response = anonymous.get("/v1/organization")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_missing"


def test_it_checks_the_token_before_a_foreign_org_header(other_org):
    response = Client(organization=other_org).patch("/v1/organization", {"name": "x"}, "json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_missing"


def test_it_checks_the_org_before_the_body(outsider, org):
    response = Client(outsider, org).patch("/v1/organization", {"currency": "bad"}, "json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "organization_forbidden"


# GET /v1/members


def test_it_lists_everyone_in_the_organization_and_no_one_else(
    client_for, org, owner, admin, member, viewer, outsider
):
    response = client_for(viewer).get("/v1/members")

    assert response.status_code == 200
    with privileged("a test reads the memberships"):
        memberships = Membership.objects.filter(organization=org).select_related("user")
        expected = [member_body(m) for m in memberships.order_by("-created_at", "-id")]
    assert response.json() == {"items": expected, "next_cursor": None}
    emails = {item["email"] for item in response.json()["items"]}
    assert emails == {
        "owner@example.com",
        "admin@example.com",
        "member@example.com",
        "viewer@example.com",
    }


def test_it_pages_through_the_members(client_for, owner, admin, member, viewer):
    client = client_for(owner)

    first = client.get("/v1/members", {"limit": 3})
    second = client.get("/v1/members", {"limit": 3, "cursor": first.json()["next_cursor"]})

    assert first.status_code == second.status_code == 200
    pages = first.json()["items"] + second.json()["items"]
    assert len(first.json()["items"]) == 3
    assert second.json()["next_cursor"] is None
    assert len({item["user_id"] for item in pages}) == 4


def test_it_lists_the_members_in_as_many_queries_however_many_they_are(
    client_for, org, owner, admin, member, viewer
):
    client = client_for(owner)
    client.get("/v1/members")
    with CaptureQueriesContext(connection) as few:
        client.get("/v1/members")
    for number in range(5):
        add_member(org, make_user(f"extra{number}@example.com"), Role.VIEWER)

    with CaptureQueriesContext(connection) as many:
        response = client.get("/v1/members")

    assert len(response.json()["items"]) == 9
    assert len(many) == len(few)


def test_it_refuses_the_member_list_to_an_outsider(outsider, org):
    response = Client(outsider, org).get("/v1/members")

    assert response.status_code == 403
    assert response.json() == error(response, "organization_forbidden", FORBIDDEN_MESSAGE)


# PATCH /v1/members/{user_id}


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Role.MEMBER, Role.VIEWER),
        (Role.VIEWER, Role.MEMBER),
        (Role.MEMBER, Role.ADMIN),
        (Role.ADMIN, Role.MEMBER),
        (Role.VIEWER, Role.ADMIN),
    ],
)
def test_it_lets_an_admin_change_roles_below_owner(client_for, org, admin, start, target):
    colleague = make_user("colleague@example.com", "Cole League")
    membership = add_member(org, colleague, start)

    response = client_for(admin).patch(f"/v1/members/{colleague.id}", {"role": target}, "json")

    assert response.status_code == 200
    with privileged("a test reads a membership"):
        membership.refresh_from_db()
    assert membership.role == target
    assert response.json() == member_body(membership)


def test_it_refuses_an_admin_to_promote_anyone_to_owner(client_for, org, admin, member):
    response = client_for(admin).patch(f"/v1/members/{member.id}", {"role": "owner"}, "json")

    assert response.status_code == 403
    assert response.json() == error(response, "permission_denied", OWNER_ONLY_MESSAGE)
    assert role_of(member, org) == "member"


def test_it_refuses_an_admin_to_promote_themselves_to_owner(client_for, org, admin):
    response = client_for(admin).patch(f"/v1/members/{admin.id}", {"role": "owner"}, "json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert role_of(admin, org) == "admin"


def test_it_refuses_an_admin_to_change_an_owner(client_for, org, owner, admin):
    response = client_for(admin).patch(f"/v1/members/{owner.id}", {"role": "viewer"}, "json")

    assert response.status_code == 403
    assert response.json() == error(response, "permission_denied", OWNER_ONLY_MESSAGE)
    assert role_of(owner, org) == "owner"


def test_it_refuses_an_admin_to_remove_an_owner(client_for, org, owner, admin):
    response = client_for(admin).delete(f"/v1/members/{owner.id}")

    assert response.status_code == 403
    assert response.json() == error(response, "permission_denied", OWNER_ONLY_MESSAGE)
    assert role_of(owner, org) == "owner"


def test_it_lets_an_owner_promote_a_member_to_owner(client_for, org, owner, admin):
    response = client_for(owner).patch(f"/v1/members/{admin.id}", {"role": "owner"}, "json")

    assert response.status_code == 200
    assert response.json()["role"] == "owner"
    assert role_of(admin, org) == "owner"


def test_it_lets_an_owner_step_down_when_another_owner_remains(client_for, org, owner, admin):
    add_member(org, second := make_user("second@example.com"), Role.OWNER)

    response = client_for(second).patch(f"/v1/members/{owner.id}", {"role": "admin"}, "json")

    assert response.status_code == 200
    assert role_of(owner, org) == "admin"


def test_it_keeps_the_last_owner_from_stepping_down(client_for, org, owner):
    response = client_for(owner).patch(f"/v1/members/{owner.id}", {"role": "admin"}, "json")

    assert response.status_code == 409
    assert response.json() == error(
        response,
        "last_owner",
        "An organization keeps at least one owner; make someone else owner first.",
    )
    assert role_of(owner, org) == "owner"


def test_it_keeps_the_last_owner_from_being_removed(client_for, org, owner):
    response = client_for(owner).delete(f"/v1/members/{owner.id}")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_owner"
    assert role_of(owner, org) == "owner"


def test_it_lets_the_owner_keep_the_owner_role_when_alone(client_for, owner):
    response = client_for(owner).patch(f"/v1/members/{owner.id}", {"role": "owner"}, "json")

    assert response.status_code == 200
    assert response.json()["role"] == "owner"


@pytest.mark.parametrize("persona", ["member", "viewer"])
def test_it_refuses_a_member_or_viewer_to_change_roles(request, client_for, org, persona, viewer):
    user = request.getfixturevalue(persona)

    response = client_for(user).patch(f"/v1/members/{viewer.id}", {"role": "admin"}, "json")

    assert response.status_code == 403
    assert response.json() == error(response, "permission_denied", ROLE_MESSAGE)
    assert role_of(viewer, org) == "viewer"


@pytest.mark.parametrize("persona", ["member", "viewer"])
def test_it_refuses_a_member_or_viewer_to_remove_anyone(request, client_for, org, persona, viewer):
    user = request.getfixturevalue(persona)

    response = client_for(user).delete(f"/v1/members/{viewer.id}")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert role_of(viewer, org) == "viewer"


def test_it_checks_the_role_before_the_body(client_for, member):
    response = client_for(member).patch(f"/v1/members/{member.id}", {"role": "god"}, "json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_it_names_the_field_of_an_invalid_role(client_for, owner, member):
    response = client_for(owner).patch(f"/v1/members/{member.id}", {"role": "god"}, "json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert [detail["field"] for detail in response.json()["error"]["details"]] == ["role"]


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_it_does_not_find_a_user_of_another_organization(
    client_for, owner, outsider, other_org, method
):
    response = getattr(client_for(owner), method)(
        f"/v1/members/{outsider.id}", {"role": "viewer"}, "json"
    )

    assert response.status_code == 404
    assert response.json() == error(response, "member_not_found", MEMBER_NOT_FOUND_MESSAGE)
    assert role_of(outsider, other_org) == "owner"


@pytest.mark.parametrize("user_id", ["not-a-uuid", "1", str(uuid.uuid4())])
@pytest.mark.parametrize("method", ["patch", "delete"])
def test_it_does_not_find_a_malformed_or_unknown_user_id(client_for, owner, user_id, method):
    response = getattr(client_for(owner), method)(
        f"/v1/members/{user_id}", {"role": "viewer"}, "json"
    )

    assert response.status_code == 404
    assert response.json() == error(response, "member_not_found", MEMBER_NOT_FOUND_MESSAGE)


# DELETE /v1/members/{user_id}


def test_it_removes_a_member_who_then_loses_access(client_for, org, admin, member):
    response = client_for(admin).delete(f"/v1/members/{member.id}")

    assert response.status_code == 204
    assert response.content == b""
    assert role_of(member, org) is None
    after = client_for(member).get("/v1/organization")
    assert after.status_code == 403
    assert after.json() == error(after, "organization_forbidden", FORBIDDEN_MESSAGE)


def test_it_lets_an_owner_remove_another_owner(client_for, org, owner):
    add_member(org, second := make_user("second@example.com"), Role.OWNER)

    response = client_for(owner).delete(f"/v1/members/{second.id}")

    assert response.status_code == 204
    assert role_of(second, org) is None


def test_it_lets_an_admin_leave_the_organization(client_for, org, admin):
    response = client_for(admin).delete(f"/v1/members/{admin.id}")

    assert response.status_code == 204
    assert role_of(admin, org) is None


# Concurrent role changes


@pytest.mark.django_db(transaction=True)
def test_it_refuses_an_admin_to_demote_someone_made_owner_meanwhile(org, owner, admin, member):
    by_owner, by_admin = membership_of(owner, org), membership_of(admin, org)
    target_seen_by_owner = membership_of(member, org)
    target_seen_by_admin = membership_of(member, org)

    raised = run_while_held(
        org,
        lambda: services.membership_change_role(
            actor=by_owner, target=target_seen_by_owner, role=Role.OWNER
        ),
        lambda: services.membership_change_role(
            actor=by_admin, target=target_seen_by_admin, role=Role.VIEWER
        ),
    )

    assert raised == "permission_denied"
    assert role_of(member, org) == "owner"


@pytest.mark.django_db(transaction=True)
def test_it_keeps_an_owner_when_two_owners_demote_each_other_at_once(org, owner):
    second = make_user("second@example.com")
    add_member(org, second, Role.OWNER)
    first_owner, second_owner = membership_of(owner, org), membership_of(second, org)

    raised = run_while_held(
        org,
        lambda: services.membership_change_role(
            actor=first_owner, target=membership_of(second, org), role=Role.ADMIN
        ),
        lambda: services.membership_change_role(
            actor=second_owner, target=membership_of(owner, org), role=Role.ADMIN
        ),
    )

    assert raised == "last_owner"
    assert (role_of(owner, org), role_of(second, org)) == ("owner", "admin")
