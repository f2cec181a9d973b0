def test_it_answers_me_and_the_current_organization(client_for, owner, org):
    client = client_for(owner)

    me = client.get("/v1/me")
    current = client.get("/v1/organization")

    assert me.status_code == 200
    assert me.json()["memberships"] == [
        {"organization_id": str(org.id), "organization_name": "Acme", "role": "owner"}
    ]
    assert current.status_code == 200
    assert current.json()["id"] == str(org.id)
