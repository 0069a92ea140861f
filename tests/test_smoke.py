from tests.factories import patient


def test_put_patient(client, org):
    r = client.put(org.url("/patients/p1"), json=patient(), headers=org.headers("staff"))
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "Avery Testpatient"
    r = client.put(org.url("/patients/p1"), json=patient(), headers=org.headers("staff"))
    assert r.status_code == 200
