import datetime
import time

import pytest
from django.core import signing

from apollo.pagination import CURSOR_SALT
from apollo.tenancy import privileged
from leads.api.filters import LeadFilterSet
from orgs.models import Membership, Role, User
from pipelines.api.filters import PipelineFilterSet

INSTANT = datetime.datetime(2026, 6, 26, 17, 45, 13, tzinfo=datetime.UTC)


def add_members(org, count, created_at=INSTANT, step=datetime.timedelta(0), prefix="m"):
    users = User.objects.bulk_create(
        User(email=f"{prefix}{i}@example.com", password="!") for i in range(count)
    )
    with privileged("test setup"):
        Membership.objects.bulk_create(
            Membership(organization=org, user=user, role=Role.MEMBER) for user in users
        )
        for i, user in enumerate(users):
            if step:
                Membership.objects.filter(user=user).update(created_at=created_at + step * i)
        if not step:
            Membership.objects.filter(user__in=users).update(created_at=created_at)
    return users


def walk(client, path="/v1/members", limit=200, between_pages=None):
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params)
        assert response.status_code == 200, response.json()
        body = response.json()
        seen.extend(item["user_id"] for item in body["items"])
        cursor, pages = body["next_cursor"], pages + 1
        if cursor is None:
            return seen
        if between_pages:
            between_pages(pages)


def test_a_walk_over_thousands_of_equal_timestamps_repeats_and_skips_nothing(
    client_for, owner, org
):
    users = add_members(org, 2500)

    seen = walk(client_for(owner))

    assert len(seen) == len(set(seen)) == 2501
    assert set(seen) == {str(u.id) for u in users} | {str(owner.id)}


def test_it_orders_by_microseconds_newest_first(client_for, owner, org):
    users = add_members(org, 30, step=datetime.timedelta(microseconds=1))

    seen = walk(client_for(owner), limit=7)

    newest_first = [str(u.id) for u in reversed(users)]
    assert [s for s in seen if s != str(owner.id)] == newest_first


def test_rows_inserted_or_deleted_during_a_walk_neither_repeat_nor_vanish(client_for, owner, org):
    users = add_members(org, 600)
    gone = {}

    def churn(page):
        if page == 1:
            add_members(org, 50, created_at=INSTANT + datetime.timedelta(days=1), prefix="new")
            add_members(org, 50, created_at=INSTANT - datetime.timedelta(days=1), prefix="old")
            with privileged("test"):
                victim = Membership.objects.filter(user=users[-1]).first()
                gone["id"] = str(victim.user_id)
                victim.delete()

    seen = walk(client_for(owner), limit=100, between_pages=churn)

    assert len(seen) == len(set(seen))
    untouched = {str(u.id) for u in users} - {gone["id"]}
    assert untouched <= set(seen)
    assert sum(1 for s in seen if s in untouched) == len(untouched)


def first_cursor(client, path="/v1/members"):
    return client.get(path, {"limit": 1}).json()["next_cursor"]


def error_of(response):
    return response.status_code, response.json()["error"]["code"]


def test_it_refuses_a_tampered_cursor(client_for, owner, org):
    add_members(org, 3)
    client = client_for(owner)
    cursor = first_cursor(client)

    tampered = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]

    assert error_of(client.get("/v1/members", {"cursor": tampered})) == (400, "invalid_cursor")
    assert error_of(client.get("/v1/members", {"cursor": "garbage"})) == (400, "invalid_cursor")


def test_it_refuses_another_orgs_cursor(client_for, owner, org, outsider, other_org):
    add_members(org, 3)
    add_members(other_org, 3, prefix="o")
    foreign = first_cursor(client_for(owner))

    response = client_for(outsider, organization=other_org).get("/v1/members", {"cursor": foreign})

    assert error_of(response) == (400, "invalid_cursor")


def test_it_refuses_another_endpoints_cursor(client_for, owner, org):
    add_members(org, 3)
    client = client_for(owner)
    for email in ("a@x.io", "b@x.io"):
        client.post("/v1/invitations", {"email": email, "role": "member"}, format="json")
    cursor = first_cursor(client, "/v1/invitations")

    assert error_of(client.get("/v1/members", {"cursor": cursor})) == (400, "invalid_cursor")


def test_it_refuses_an_expired_cursor(client_for, owner, org, monkeypatch):
    add_members(org, 3)
    client = client_for(owner)
    payload = signing.loads(first_cursor(client), salt=CURSOR_SALT)
    two_days_ago = time.time() - 2 * 24 * 3600
    monkeypatch.setattr(signing.time, "time", lambda: two_days_ago)
    stale = signing.dumps(payload, salt=CURSOR_SALT, compress=True)
    monkeypatch.undo()

    response = client.get("/v1/members", {"cursor": stale})

    assert error_of(response) == (400, "invalid_cursor")


@pytest.mark.parametrize("limit", ["0", "201", "-1", "ten", "1.5"])
def test_it_refuses_a_limit_out_of_range(client_for, owner, limit):
    response = client_for(owner).get("/v1/members", {"limit": limit})

    assert response.status_code == 400
    assert response.json()["error"]["details"] == [
        {"field": "limit", "code": "out_of_range", "message": "Must be an integer from 1 to 200."}
    ]


def test_it_defaults_to_fifty_items(client_for, owner, org):
    add_members(org, 60)

    body = client_for(owner).get("/v1/members").json()

    assert len(body["items"]) == 50
    assert body["next_cursor"] is not None


def test_it_answers_an_empty_page_with_a_null_cursor(client_for, owner):
    body = client_for(owner).get("/v1/invitations").json()

    assert body == {"items": [], "next_cursor": None}


def test_it_refuses_an_unknown_query_parameter(client_for, owner):
    response = client_for(owner).get("/v1/members", {"rol": "admin", "limit": 5})

    assert response.status_code == 400
    assert response.json()["error"]["details"] == [
        {
            "field": "rol",
            "code": "unknown_parameter",
            "message": "This endpoint has no such query parameter.",
        }
    ]


BLANK = ("blank", "Give a value, or leave the parameter out.")
REPEATED = ("repeated", "Give this parameter once.")


@pytest.mark.parametrize(
    ("url", "field", "problem"),
    [
        ("/v1/members?limit=", "limit", BLANK),
        ("/v1/members?limit=1&limit=2", "limit", REPEATED),
        ("/v1/events?type=lead.created&type=", "type", BLANK),
        ("/v1/events?type=lead.created&type=lead.updated", "type", REPEATED),
    ],
)
def test_it_refuses_an_empty_or_repeated_parameter_rather_than_guess(
    client_for, owner, url, field, problem
):
    response = client_for(owner).get(url)

    assert response.status_code == 400
    code, message = problem
    assert response.json()["error"]["details"] == [
        {"field": field, "code": code, "message": message}
    ]


def test_a_filterset_is_skipped_only_when_it_would_change_nothing():
    assert LeadFilterSet.filters_nothing({"limit": "50", "cursor": "abc"})
    assert not LeadFilterSet.filters_nothing({"limit": "50", "tag": "vip"})
    # Hiding archived pipelines is the FilterSet's own default: it runs either way.
    assert not PipelineFilterSet.filters_nothing({})


def test_a_page_costs_the_same_queries_whatever_the_size(
    client_for, owner, org, django_assert_max_num_queries
):
    add_members(org, 300)
    client = client_for(owner)
    cursor = first_cursor(client)

    with django_assert_max_num_queries(12):
        client.get("/v1/members", {"limit": 200, "cursor": cursor})
