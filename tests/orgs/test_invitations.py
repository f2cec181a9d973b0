"""Invitations: create, list, resend, revoke and accept, and the mail they send."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apollo.errors import ApiError
from apollo.secrets import digest
from apollo.tenancy import privileged
from orgs import services
from orgs.models import Invitation, Role, User
from tests.conftest import PASSWORD, Client, make_user
from tests.helpers import error, iso, membership_of, role_of, run_while_held

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a long and unusual passphrase"
NOT_FOUND_MESSAGE = "No invitation with this id in this organization."


def invitation_body(invitation: Invitation, **extra) -> dict:
    return {
        "id": str(invitation.id),
        "email": invitation.email,
        "role": invitation.role,
        "status": invitation.status,
        "invited_by_id": str(invitation.invited_by_id),
        "created_at": iso(invitation.created_at),
        "expires_at": iso(invitation.expires_at),
        **extra,
    }


def stored(invitation_id) -> Invitation | None:
    with privileged("a test reads an invitation"):
        return Invitation.objects.filter(pk=invitation_id).first()


def invite(organization, inviter, email="guest@example.com", role=Role.MEMBER):
    """An invitation made through the service, as the API makes it; returns it and its token."""
    with privileged("test setup"):
        actor = inviter.memberships.select_related("organization").get(organization=organization)
        return services.invitation_create(actor=actor, email=email, role=role)


def accept(token: str, user=None, **fields):
    return Client(user).post("/v1/invitations/accept", {"token": token, **fields}, "json")


def expire(invitation: Invitation) -> None:
    with privileged("test setup"):
        Invitation.objects.filter(pk=invitation.pk).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )


# POST /v1/invitations


@pytest.mark.parametrize("persona", ["owner", "admin"])
def test_it_lets_an_admin_or_owner_invite(
    request, client_for, org, persona, django_capture_on_commit_callbacks, mailoutbox
):
    user = request.getfixturevalue(persona)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(user).post(
            "/v1/invitations", {"email": "guest@example.com", "role": "member"}, "json"
        )

    assert response.status_code == 201
    invitation = stored(response.json()["id"])
    token = response.json()["token"]
    assert response.json() == invitation_body(invitation, token=token)
    assert response.json()["status"] == "pending"
    assert response.json()["invited_by_id"] == str(user.id)
    assert token.startswith("inv_")
    assert invitation.token_hash == digest(token)
    assert invitation.organization_id == org.id
    lifetime = invitation.expires_at - invitation.created_at
    assert abs(lifetime - timedelta(days=7)) < timedelta(seconds=5)
    assert len(mailoutbox) == 1


def test_it_mails_the_link_with_the_token(
    client_for, admin, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(
            "/v1/invitations", {"email": "guest@example.com", "role": "viewer"}, "json"
        )

    token = response.json()["token"]
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["guest@example.com"]
    assert mail.subject == "You are invited to Acme on Apollo Space"
    assert f"http://localhost:8000/accept-invitation?token={token}" in mail.body
    assert "admin@example.com invited you to join Acme as viewer." in mail.body


def test_it_mails_only_once_the_transaction_commits(
    client_for, admin, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client_for(admin).post(
            "/v1/invitations", {"email": "guest@example.com", "role": "viewer"}, "json"
        )

    assert mailoutbox == []
    callbacks[0]()
    assert [mail.to for mail in mailoutbox] == [["guest@example.com"]]


@pytest.mark.parametrize("persona", ["member", "viewer"])
def test_it_refuses_a_member_or_viewer_to_invite(request, client_for, persona, mailoutbox):
    user = request.getfixturevalue(persona)

    response = client_for(user).post(
        "/v1/invitations", {"email": "guest@example.com", "role": "viewer"}, "json"
    )

    assert response.status_code == 403
    assert response.json() == error(
        response, "permission_denied", "Your role does not allow this action."
    )
    with privileged("a test counts invitations"):
        assert not Invitation.objects.exists()


def test_it_refuses_an_admin_to_invite_an_owner(client_for, admin):
    response = client_for(admin).post(
        "/v1/invitations", {"email": "boss@example.com", "role": "owner"}, "json"
    )

    assert response.status_code == 403
    assert response.json() == error(
        response,
        "permission_denied",
        "Only an owner can grant, change or remove the owner role.",
    )


def test_it_lets_an_owner_invite_an_owner(client_for, owner):
    response = client_for(owner).post(
        "/v1/invitations", {"email": "boss@example.com", "role": "owner"}, "json"
    )

    assert response.status_code == 201
    assert response.json()["role"] == "owner"


@pytest.mark.parametrize("email", ["guest@example.com", "GUEST@example.com"])
def test_it_refuses_a_second_pending_invitation_for_the_same_email(client_for, org, admin, email):
    invite(org, admin, "guest@example.com")

    response = client_for(admin).post("/v1/invitations", {"email": email, "role": "member"}, "json")

    assert response.status_code == 409
    assert response.json() == error(
        response,
        "invitation_pending",
        "A pending invitation for this email exists; resend it instead.",
    )


def test_it_invites_the_same_email_to_another_organization(org, admin, other_org, outsider):
    invite(org, admin, "guest@example.com")

    response = Client(outsider, other_org).post(
        "/v1/invitations", {"email": "guest@example.com", "role": "member"}, "json"
    )

    assert response.status_code == 201


@pytest.mark.parametrize("email", ["member@example.com", "Member@Example.com"])
def test_it_refuses_to_invite_an_existing_member(client_for, admin, member, email):
    response = client_for(admin).post("/v1/invitations", {"email": email, "role": "admin"}, "json")

    assert response.status_code == 409
    assert response.json() == error(response, "already_member", "This person is already a member.")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["email", "role"]),
        ({"email": "not an email", "role": "member"}, ["email"]),
        ({"email": "guest@example.com", "role": "superuser"}, ["role"]),
    ],
)
def test_it_refuses_an_invalid_invitation_naming_the_fields(client_for, admin, body, fields):
    response = client_for(admin).post("/v1/invitations", body, "json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert [detail["field"] for detail in response.json()["error"]["details"]] == fields


# GET /v1/invitations


def test_it_lists_pending_invitations_without_their_tokens(
    client_for, org, admin, other_org, outsider
):
    first, _ = invite(org, admin, "first@example.com")
    second, _ = invite(org, admin, "second@example.com", Role.VIEWER)
    _, token = invite(org, admin, "accepted@example.com")
    services.invitation_accept(token=token, user=None, password=NEW_PASSWORD)
    invite(other_org, outsider, "foreign@example.com")

    response = client_for(admin).get("/v1/invitations")

    assert response.status_code == 200
    assert response.json() == {
        "items": [invitation_body(second), invitation_body(first)],
        "next_cursor": None,
    }


def test_it_lists_the_invitations_in_as_many_queries_however_many_they_are(client_for, org, admin):
    client = client_for(admin)
    invite(org, admin, "first@example.com")
    client.get("/v1/invitations")
    with CaptureQueriesContext(connection) as few:
        client.get("/v1/invitations")
    for number in range(5):
        invite(org, admin, f"guest{number}@example.com")

    with CaptureQueriesContext(connection) as many:
        response = client.get("/v1/invitations")

    assert len(response.json()["items"]) == 6
    assert len(many) == len(few)


def test_it_lists_an_expired_invitation_as_expired(client_for, org, admin):
    invitation, _ = invite(org, admin)
    expire(invitation)

    response = client_for(admin).get("/v1/invitations")

    assert [item["status"] for item in response.json()["items"]] == ["expired"]


@pytest.mark.parametrize("persona", ["member", "viewer"])
def test_it_refuses_the_invitation_list_to_a_member_or_viewer(request, client_for, persona):
    response = client_for(request.getfixturevalue(persona)).get("/v1/invitations")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


# POST /v1/invitations/{id}/resend


def test_it_resends_with_a_new_token_and_the_old_one_dies(
    client_for, org, admin, django_capture_on_commit_callbacks, mailoutbox
):
    invitation, old_token = invite(org, admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(f"/v1/invitations/{invitation.id}/resend")

    assert response.status_code == 200
    new_token = response.json()["token"]
    assert new_token != old_token
    assert response.json() == invitation_body(stored(invitation.id), token=new_token)
    assert len(mailoutbox) == 1
    assert new_token in mailoutbox[0].body
    guest = make_user("guest@example.com")
    dead = accept(old_token, guest)
    assert dead.status_code == 404
    assert dead.json() == error(dead, "invitation_not_found", "No invitation has this token.")
    alive = accept(new_token, guest)
    assert alive.status_code == 200


def test_it_renews_an_expired_invitation_on_resend(client_for, org, admin):
    invitation, _ = invite(org, admin)
    expire(invitation)

    response = client_for(admin).post(f"/v1/invitations/{invitation.id}/resend")

    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    accepted = accept(response.json()["token"], password=NEW_PASSWORD)
    assert accepted.status_code == 200


def test_it_mails_nothing_for_a_link_replaced_before_the_mail_went(
    client_for, org, admin, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invitation, _ = invite(org, admin)
    client_for(admin).post(f"/v1/invitations/{invitation.id}/resend")

    callbacks[0]()

    assert mailoutbox == []


def test_it_refuses_an_admin_to_resend_an_owner_invitation(client_for, org, owner, admin):
    invitation, _ = invite(org, owner, "boss@example.com", Role.OWNER)

    response = client_for(admin).post(f"/v1/invitations/{invitation.id}/resend")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_it_refuses_a_member_to_resend(client_for, org, admin, member):
    invitation, _ = invite(org, admin)

    response = client_for(member).post(f"/v1/invitations/{invitation.id}/resend")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_it_does_not_resend_an_accepted_invitation(client_for, org, admin):
    invitation, token = invite(org, admin)
    services.invitation_accept(token=token, user=None, password=NEW_PASSWORD)

    response = client_for(admin).post(f"/v1/invitations/{invitation.id}/resend")

    assert response.status_code == 404
    assert response.json() == error(response, "invitation_not_found", NOT_FOUND_MESSAGE)


# DELETE /v1/invitations/{id}


def test_it_revokes_an_invitation_whose_token_then_dies(client_for, org, admin):
    invitation, token = invite(org, admin)

    response = client_for(admin).delete(f"/v1/invitations/{invitation.id}")

    assert response.status_code == 204
    assert response.content == b""
    assert stored(invitation.id) is None
    dead = accept(token, password=NEW_PASSWORD)
    assert dead.status_code == 404
    assert dead.json()["error"]["code"] == "invitation_not_found"


def test_it_refuses_a_member_to_revoke(client_for, org, admin, member):
    invitation, _ = invite(org, admin)

    response = client_for(member).delete(f"/v1/invitations/{invitation.id}")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert stored(invitation.id) is not None


@pytest.mark.parametrize("action", ["resend", "delete"])
def test_it_does_not_find_another_organizations_invitation(
    client_for, admin, other_org, outsider, action
):
    foreign, _ = invite(other_org, outsider, "foreign@example.com")
    client = client_for(admin)

    if action == "resend":
        response = client.post(f"/v1/invitations/{foreign.id}/resend")
    else:
        response = client.delete(f"/v1/invitations/{foreign.id}")

    assert response.status_code == 404
    assert response.json() == error(response, "invitation_not_found", NOT_FOUND_MESSAGE)
    assert stored(foreign.id).token_hash == foreign.token_hash


@pytest.mark.parametrize("invitation_id", ["not-a-uuid", "42", str(uuid.uuid4())])
@pytest.mark.parametrize("action", ["resend", "delete"])
def test_it_does_not_find_a_malformed_or_unknown_invitation_id(
    client_for, admin, invitation_id, action
):
    client = client_for(admin)

    if action == "resend":
        response = client.post(f"/v1/invitations/{invitation_id}/resend")
    else:
        response = client.delete(f"/v1/invitations/{invitation_id}")

    assert response.status_code == 404
    assert response.json() == error(response, "invitation_not_found", NOT_FOUND_MESSAGE)


# POST /v1/invitations/accept


def test_it_lets_a_signed_in_user_with_the_invited_email_join(client_for, org, admin):
    guest = make_user("guest@example.com")
    invitation, token = invite(org, admin, "Guest@Example.com", Role.VIEWER)

    response = accept(token, guest)

    assert response.status_code == 200
    assert response.json() == {
        "organization_id": str(org.id),
        "role": "viewer",
        "user_id": str(guest.id),
    }
    assert role_of(guest, org) == "viewer"
    assert stored(invitation.id).accepted_by_id == guest.id
    assert Client(guest, org).get("/v1/organization").status_code == 200


def test_it_creates_the_user_of_an_unauthenticated_accept(org, admin):
    _, token = invite(org, admin, "guest@example.com", Role.ADMIN)

    response = accept(token, password=NEW_PASSWORD, name="Gus Guest")

    assert response.status_code == 200
    body = response.json()
    tokens = body.pop("tokens")
    guest = User.objects.get(email="guest@example.com")
    assert body == {"organization_id": str(org.id), "role": "admin", "user_id": str(guest.id)}
    assert guest.name == "Gus Guest"
    assert guest.check_password(NEW_PASSWORD)
    assert set(tokens) == {"id_token", "refresh_token", "token_type", "expires_in"}
    me = Client().get("/v1/me", HTTP_AUTHORIZATION=f"Bearer {tokens['id_token']}")
    assert me.status_code == 200
    assert me.json() == {
        "id": str(guest.id),
        "email": "guest@example.com",
        "name": "Gus Guest",
        "memberships": [
            {"organization_id": str(org.id), "organization_name": "Acme", "role": "admin"}
        ],
    }


def test_it_refuses_the_same_token_twice(org, admin):
    _, token = invite(org, admin)
    first = accept(token, password=NEW_PASSWORD)

    second = accept(token, password=NEW_PASSWORD)

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json() == error(
        second, "invitation_accepted", "This invitation was already used."
    )


def test_it_refuses_an_expired_invitation(org, admin):
    invitation, token = invite(org, admin)
    expire(invitation)

    response = accept(token, password=NEW_PASSWORD)

    assert response.status_code == 409
    assert response.json() == error(response, "invitation_expired", "This invitation has expired.")
    assert stored(invitation.id).accepted_at is None


def test_it_refuses_a_signed_in_user_with_another_email(org, admin, member):
    invitation, token = invite(org, admin, "guest@example.com", Role.ADMIN)

    response = accept(token, member)

    assert response.status_code == 403
    assert response.json() == error(
        response,
        "invitation_email_mismatch",
        "This invitation was sent to another email address.",
    )
    assert role_of(member, org) == "member"
    assert stored(invitation.id).accepted_at is None


def test_it_requires_a_password_to_create_the_user(org, admin):
    invitation, token = invite(org, admin)

    response = accept(token)

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "validation_error",
            "message": "The request is not valid.",
            "request_id": response["X-Request-Id"],
            "details": [
                {
                    "field": "password",
                    "code": "required",
                    "message": "A password is required to create an account.",
                }
            ],
        }
    }
    assert stored(invitation.id).accepted_at is None


def test_it_refuses_a_weak_password(org, admin):
    _, token = invite(org, admin)

    response = accept(token, password="abc")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert {detail["field"] for detail in response.json()["error"]["details"]} == {"password"}


def test_it_asks_an_existing_user_to_sign_in_before_accepting(org, admin):
    make_user("guest@example.com")
    _, token = invite(org, admin)

    response = accept(token, password=PASSWORD)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "user_exists"


def test_it_does_not_find_an_unknown_token(db):
    response = accept("inv_nothing", password=NEW_PASSWORD)

    assert response.status_code == 404
    assert response.json() == error(
        response, "invitation_not_found", "No invitation has this token."
    )


def test_it_accepts_with_the_org_header_of_another_org(org, admin, other_org, outsider):
    _, token = invite(org, admin, "rival@example.com", Role.MEMBER)

    response = Client(outsider, other_org).post("/v1/invitations/accept", {"token": token}, "json")

    assert response.status_code == 200
    assert role_of(outsider, org) == "member"


def test_it_refuses_an_invalid_bearer_token_on_accept(org, admin):
    _, token = invite(org, admin)

    response = Client().post(
        "/v1/invitations/accept", {"token": token}, "json", HTTP_AUTHORIZATION="Bearer junk"
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"


def test_it_mails_an_invitation_to_an_organization_named_on_two_lines(
    db, django_capture_on_commit_callbacks, mailoutbox
):
    founder = make_user("founder@example.com")
    organization = services.organization_create(owner=founder, name="Acme\nRockets")

    with django_capture_on_commit_callbacks(execute=True):
        invite(organization, founder)

    assert [mail.subject for mail in mailoutbox] == [
        "You are invited to Acme Rockets on Apollo Space"
    ]


@pytest.mark.parametrize("state", ["accepted", "expired"])
def test_it_tells_a_user_with_another_email_nothing_of_the_invitation_state(
    org, admin, member, state
):
    invitation, token = invite(org, admin)
    if state == "accepted":
        services.invitation_accept(token=token, user=None, password=NEW_PASSWORD)
    else:
        expire(invitation)

    response = accept(token, member)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invitation_email_mismatch"


@pytest.mark.django_db(transaction=True)
def test_it_creates_one_user_when_two_invitations_to_one_email_are_accepted_at_once(
    org, admin, other_org, outsider
):
    _, ours = invite(org, admin, "guest@example.com")
    _, theirs = invite(other_org, outsider, "guest@example.com")

    raised = run_while_held(
        org,
        lambda: services.invitation_accept(token=ours, user=None, password=NEW_PASSWORD),
        lambda: services.invitation_accept(token=theirs, user=None, password=NEW_PASSWORD),
    )

    assert raised == "user_exists"
    guest = User.objects.get(email="guest@example.com")
    assert (role_of(guest, org), role_of(guest, other_org)) == ("member", None)


# Invitations changed by someone else meanwhile


def test_it_gives_no_new_link_to_an_invitation_accepted_meanwhile(org, admin):
    invitation, token = invite(org, admin)
    seen_by_admin = stored(invitation.id)
    services.invitation_accept(token=token, user=None, password=NEW_PASSWORD)

    with pytest.raises(ApiError) as raised, privileged("a test acts as the admin"):
        services.invitation_resend(actor=membership_of(admin, org), invitation=seen_by_admin)

    assert raised.value.code == "invitation_accepted"
    assert stored(invitation.id).token_hash == digest(token)


def test_it_does_not_resend_an_invitation_revoked_meanwhile(org, admin):
    invitation, _ = invite(org, admin)
    seen_by_admin = stored(invitation.id)
    with privileged("a test acts as the admin"):
        services.invitation_revoke(actor=membership_of(admin, org), invitation=invitation)

    with pytest.raises(ApiError) as raised, privileged("a test acts as the admin"):
        services.invitation_resend(actor=membership_of(admin, org), invitation=seen_by_admin)

    assert raised.value.code == "invitation_not_found"


def test_it_keeps_an_invitation_accepted_before_its_revocation(org, admin):
    invitation, token = invite(org, admin)
    seen_by_admin = stored(invitation.id)
    services.invitation_accept(token=token, user=None, password=NEW_PASSWORD)

    with pytest.raises(ApiError) as raised, privileged("a test acts as the admin"):
        services.invitation_revoke(actor=membership_of(admin, org), invitation=seen_by_admin)

    assert raised.value.code == "invitation_accepted"
    assert stored(invitation.id).accepted_at is not None
