"""Bad API bodies get a 422 (JSON detail) and change nothing; reads answer 404 for unknown things."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hall_server.app import create_app
from hall_server.settings import Settings


@pytest.fixture
def client(sqlite_url, hall_topology):
    with TestClient(create_app(Settings(database_url=sqlite_url))) as c:
        assert c.put("/api/topology", json=hall_topology(windows=2)).status_code == 200
        yield c


def _snapshot(client: TestClient) -> tuple:
    return (
        client.get("/api/halls").json(),
        client.get("/api/halls/h1").json(),
        client.get("/api/halls/h1/devices").json(),
        client.get("/api/halls/h1/tickets").json(),
    )


BAD_TOPOLOGIES = [
    {"halls": [{"id": "H 1", "name": "x"}]},  # id not [a-z0-9_-]
    {"halls": [{"id": "h2", "name": "x", "devices": [{"id": "d", "kind": "toaster", "edge": "e1"}]}]},
    {"halls": [{"id": "h2", "name": "x", "windows": [{"id": "w1", "number": 1, "categories": []}]}]},
    {"halls": [{"id": "h2", "name": "x", "devices": [{"id": "d", "kind": "caller", "edge": "e1", "window": "w7"}]}]},
    {
        "halls": [
            {
                "id": "h1",
                "name": "x",
                "windows": [
                    {"id": "w1", "number": 1, "categories": ["all"]},
                    {"id": "w1", "number": 2, "categories": ["all"]},
                ],
            }
        ]
    },
    {"matters": [{"code": "m", "name": "n", "category": "c", "prefix": "a1"}]},
    {"halls": [{"id": "h2", "name": "x"}], "surprise": True},
    [1, 2, 3],
]


@pytest.mark.parametrize("body", BAD_TOPOLOGIES)
def test_bad_topology_is_422_and_changes_nothing(client, body):
    before = _snapshot(client)
    response = client.put("/api/topology", json=body)
    assert response.status_code == 422
    assert "detail" in response.json()
    assert _snapshot(client) == before


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"matter": 7},
        {"matter": "nope"},
        {"matter": "biz_license", "printer": "w1-screen"},
        {"matter": "biz_license", "extra": 1},
        {"matter": "biz_license", "request_id": ""},
    ],
)
def test_bad_ticket_body_is_422_and_issues_nothing(client, body):
    before = _snapshot(client)
    response = client.post("/api/halls/h1/tickets", json=body)
    assert response.status_code == 422, response.text
    assert _snapshot(client) == before
    assert client.post("/api/halls/h1/tickets", json={"matter": "biz_license"}).json()["number"] == "A001"


def test_broken_json_is_422(client):
    response = client.post("/api/halls/h1/tickets", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_unknown_things_are_404(client):
    for path in (
        "/api/halls/h9",
        "/api/halls/h9/devices",
        "/api/halls/h9/ratings",
        "/api/halls/h9/stats",
        "/api/tickets/999",
        "/api/commands/nope",
        "/api/halls/h9/tickets",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert isinstance(response.json()["detail"], str)
    assert client.post("/api/halls/h9/tickets", json={"matter": "biz_license"}).status_code == 404
    assert client.get("/api/tickets/abc").status_code == 422


def test_topology_is_idempotent_and_reads_back(client, hall_topology):
    assert client.put("/api/topology", json=hall_topology(windows=2)).json() == {
        "matters": 2,
        "halls": 1,
        "windows": 2,
        "devices": 7,
    }
    hall = client.get("/api/halls/h1").json()
    assert [w["id"] for w in hall["windows"]] == ["w1", "w2"] and hall["queue_length"] == 0
    assert hall["windows"][0]["number"] == "1" and hall["windows"][0]["state"] == "offline"
    devices = client.get("/api/halls/h1/devices").json()
    assert {d["kind"] for d in devices} == {"ticket_printer", "window_screen", "caller", "evaluator"}
    assert all(d["available"] is False for d in devices)  # nothing heard from the edge yet
    assert client.get("/api/halls").json() == [{"id": "h1", "name": "长春市政务服务中心", "waiting": 0}]
    assert client.get("/api/health").json()["status"] == "ok"


def test_ticket_read_includes_print_status(client):
    ticket = client.post("/api/halls/h1/tickets", json={"matter": "social_card"}).json()
    assert ticket["number"] == "B001" and ticket["state"] == "waiting" and ticket["ahead"] == 0
    read = client.get(f"/api/tickets/{ticket['id']}").json()
    assert read["print"] == {"status": "pending", "error": None}
    command = client.get(f"/api/commands/{ticket['print_cmd_id']}").json()
    assert command["name"] == "print_ticket" and command["device"] == "p1" and command["status"] == "pending"
    assert command["args"]["ticket_no"] == "B001"
    assert command["deadline"] > command["expires_at"] > command["created_at"]
    assert [t["number"] for t in client.get("/api/halls/h1/tickets", params={"state": "waiting"}).json()] == ["B001"]
    assert client.get("/api/halls/h1/tickets", params={"state": "bogus"}).status_code == 422
