"""The support admin: reads across orgs, finds a request by its id, edits little.

These tests need ``apollo.apps.SupportAdminConfig`` in place of
``django.contrib.admin`` in ``INSTALLED_APPS``.
"""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.test import Client as Browser
from django.utils import timezone

from apollo.apps import SupportAdminSite
from apollo.middleware import new_request_id
from apollo.models import RequestLog
from apollo.tenancy import privileged
from orgs import services
from orgs.models import Invitation, Membership, Role, User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

REQUEST_LOG = "/admin/apollo/requestlog/"


def changelist_rows(response) -> list:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_it_serves_the_support_site_as_the_admin():
    assert isinstance(admin.site, SupportAdminSite)


def test_it_keeps_out_a_user_who_is_not_staff(owner):
    browser = Browser()
    browser.force_login(owner)

    response = browser.get(REQUEST_LOG)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


# Request log


def test_it_finds_exactly_one_request_by_its_request_id(support, client_for, owner):
    ids = [client_for(owner).get("/v1/me")["X-Request-Id"] for _ in range(3)]

    response = support.get(REQUEST_LOG, {"q": ids[1]})

    [row] = changelist_rows(response)
    assert row.request_id == ids[1]
    # An equality on the column, which its unique index answers; never a LIKE scan.
    assert '"apollo_requestlog"."request_id" = ' in str(response.context["cl"].queryset.query)


def test_it_does_not_match_a_partial_request_id(support, client_for, owner):
    request_id = client_for(owner).get("/v1/me")["X-Request-Id"]

    response = support.get(REQUEST_LOG, {"q": request_id[:-1]})

    assert changelist_rows(response) == []


def test_it_filters_requests_by_status(support, client_for, owner):
    client_for(owner).get("/v1/me")
    missing = client_for(owner).get("/v1/no-such-thing")

    response = support.get(REQUEST_LOG, {"status": "404"})
    nonsense = support.get(REQUEST_LOG, {"status": "abc"})

    assert [row.request_id for row in changelist_rows(response)] == [missing["X-Request-Id"]]
    assert changelist_rows(nonsense) == []


def test_it_filters_requests_by_organization(support, client_for, owner, org, other_org):
    mine = client_for(owner).get("/v1/organization")
    client_for(owner).get("/v1/me")

    response = support.get(REQUEST_LOG, {"organization_id": str(org.id)})

    assert [row.request_id for row in changelist_rows(response)] == [mine["X-Request-Id"]]
    assert "Acme" in response.text
    assert "Rival" in response.text


def log_row(days_old: int) -> RequestLog:
    return RequestLog.objects.create(
        request_id=new_request_id(),
        method="GET",
        path="/v1/me",
        status=200,
        duration_ms=1,
        created_at=timezone.now() - timedelta(days=days_old),
    )


def test_it_filters_requests_by_date(support):
    recent = log_row(days_old=0)
    log_row(days_old=10)
    now = timezone.now()

    # The "Past 7 days" choice of the date filter.
    response = support.get(
        REQUEST_LOG,
        {
            "created_at__gte": (now - timedelta(days=7)).isoformat(),
            "created_at__lt": (now + timedelta(days=1)).isoformat(),
        },
    )

    assert changelist_rows(response) == [recent]


def test_it_shows_the_columns_support_needs(support, client_for, owner, org):
    response = client_for(owner).get("/v1/organization", HTTP_IDEMPOTENCY_KEY="k-42")

    page = support.get(REQUEST_LOG).text

    for text in (response["X-Request-Id"], "/v1/organization", "k-42", "127.0.0.1"):
        assert text in page
    assert f'href="/admin/orgs/organization/{org.id}/change/"' in page
    assert f'href="/admin/orgs/user/{owner.id}/change/"' in page


def test_it_links_a_request_to_the_object_it_touched(support, client_for, member):
    made = client_for(member).post("/v1/leads", {"contact_name": "Ada"}, format="json")
    lead_id = made.json()["id"]

    page = support.get(REQUEST_LOG).text
    detail = support.get(f"{REQUEST_LOG}{RequestLog.objects.get().pk}/change/").text

    link = f'href="/admin/leads/lead/{lead_id}/change/">lead {lead_id}</a>'
    assert link in page
    assert link in detail


def test_it_lets_no_one_add_change_or_delete_a_request(support, client_for, owner):
    client_for(owner).get("/v1/me")
    row = RequestLog.objects.get()
    change_url = f"{REQUEST_LOG}{row.pk}/change/"

    assert support.get(change_url).status_code == 200
    assert support.post(change_url, {"status": 200}).status_code == 403
    assert support.get(f"{REQUEST_LOG}add/").status_code == 403
    assert support.post(f"{REQUEST_LOG}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert RequestLog.objects.get() == row


# Organizations, users, invitations


def test_it_shows_the_memberships_of_an_organization(support, org, owner, admin, member):
    # Outside the privileged scope, row-level security hides every membership.
    assert not Membership.objects.filter(organization=org).exists()

    response = support.get(f"/admin/orgs/organization/{org.id}/change/")

    assert response.status_code == 200
    for user in (owner, admin, member):
        assert user.email in response.text


def test_it_renames_an_organization(support, org):
    response = support.post(
        f"/admin/orgs/organization/{org.id}/change/",
        {
            "name": "Acme Rockets",
            "currency": "EUR",
            # The read-only inline of its one membership, the owner's.
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "1",
        },
    )

    org.refresh_from_db()
    assert response.status_code == 302
    assert (org.name, org.currency) == ("Acme Rockets", "EUR")


def test_it_leaves_creating_organizations_to_the_api(support):
    assert support.get("/admin/orgs/organization/add/").status_code == 403


def test_it_never_shows_the_token_of_an_invitation(support, org, owner):
    with privileged("test setup"):
        actor = Membership.objects.get(organization=org, user=owner)
        invitation, token = services.invitation_create(
            actor=actor, email="new@example.com", role=Role.MEMBER
        )

    listed = support.get("/admin/orgs/invitation/")
    shown = support.get(f"/admin/orgs/invitation/{invitation.id}/change/")

    for response in (listed, shown):
        assert response.status_code == 200
        assert "new@example.com" in response.text
        assert invitation.token_hash not in response.text
        assert token not in response.text
    assert "Token hash" not in shown.text


def test_it_lets_support_revoke_but_not_edit_an_invitation(support, org, owner):
    with privileged("test setup"):
        actor = Membership.objects.get(organization=org, user=owner)
        invitation, _ = services.invitation_create(
            actor=actor, email="new@example.com", role=Role.MEMBER
        )
    url = f"/admin/orgs/invitation/{invitation.id}"

    edit = support.post(f"{url}/change/", {"role": Role.ADMIN})
    revoke = support.post(f"{url}/delete/", {"post": "yes"})

    assert edit.status_code == 403
    assert revoke.status_code == 302
    with privileged("test check"):
        assert not Invitation.objects.filter(pk=invitation.pk).exists()


def test_it_creates_a_user_with_an_email_and_no_username(support):
    response = support.post(
        "/admin/orgs/user/add/",
        {
            "email": "ada@example.com",
            "name": "Ada",
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )

    user = User.objects.get(email="ada@example.com")
    assert response.status_code == 302
    assert user.check_password(PASSWORD)
    assert not user.is_staff


def test_it_refuses_a_user_whose_email_differs_only_in_case(support, owner):
    response = support.post(
        "/admin/orgs/user/add/",
        {"email": owner.email.upper(), "usable_password": "false"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "email": ["A user with this email already exists."]
    }


def test_it_shows_a_user_and_lists_users(support, owner):
    assert support.get(f"/admin/orgs/user/{owner.id}/change/").status_code == 200
    assert owner.email in support.get("/admin/orgs/user/", {"q": "owner"}).text
