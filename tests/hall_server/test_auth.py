"""Who may do what: roles bound to halls, windows and departments; no token, no change."""

from __future__ import annotations

import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hall_server.app import create_app
from hall_server.auth import Principal, PrincipalStore
from hall_server.settings import Settings
from simulators.city import plan_halls, topology


@pytest.fixture
def secured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, PrincipalStore, Path]]:
    monkeypatch.setenv("HALL_AUTH", "required")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'hall.db'}",
        principals_file=tmp_path / "principals.json",
        admin_token_file=tmp_path / "admin.token",
        dispatch_round_ms=0,
    )
    with TestClient(create_app(settings)) as client:
        yield client, PrincipalStore(tmp_path / "principals.json"), tmp_path


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_first_start_creates_an_admin_whose_token_only_its_owner_can_read(secured) -> None:  # type: ignore[no-untyped-def]
    client, _, tmp = secured
    token_file = tmp / "admin.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert "admin.token" not in (tmp / "principals.json").read_text()
    admin = _bearer(token_file.read_text().strip())
    assert client.put("/api/topology", json=topology(plan_halls(2, 2)), headers=admin).status_code == 200


def test_roles_are_bound_to_their_hall_and_window(secured) -> None:  # type: ignore[no-untyped-def]
    client, store, tmp = secured
    admin = _bearer((tmp / "admin.token").read_text().strip())
    client.put("/api/topology", json=topology(plan_halls(2, 2)), headers=admin).raise_for_status()
    kiosk = _bearer(store.add(Principal(id="kiosk-city-1", role="kiosk", hall="cc-city")))
    clerk = _bearer(store.add(Principal(id="clerk-wang", role="clerk", hall="cc-city", window="w01")))

    assert client.post("/api/halls/cc-city/tickets", json={"matter": "E001"}).status_code == 401
    forged = client.post("/api/halls/cc-city/tickets", json={"matter": "E001"}, headers=_bearer("forged"))
    assert forged.status_code == 401
    assert client.post("/api/halls/cc-city/tickets", json={"matter": "E001"}, headers=kiosk).status_code == 201
    assert client.post("/api/halls/cc-nanguan/tickets", json={"matter": "E001"}, headers=kiosk).status_code == 403
    assert client.post("/api/halls/cc-city/windows/w01/call-next", headers=kiosk).status_code == 403

    assert client.post("/api/halls/cc-city/windows/w02/call-next", headers=clerk).status_code == 403
    assert client.get("/api/halls/cc-city/tickets", headers=clerk).status_code == 403, "no waiting list for clerks"
    chosen = client.post("/api/halls/cc-city/windows/w01/call-next", json={"ticket": 1}, headers=clerk)
    assert chosen.status_code == 422, "a clerk cannot name the ticket to call"
    called = client.post("/api/halls/cc-city/windows/w01/call-next", headers=clerk)
    assert called.status_code == 200 and called.json()["ticket"]["number"] == "A001"

    audit = client.get("/api/halls/cc-city/audit?action=dispatch", headers=admin).json()
    assert audit and all(entry["hall"] == "cc-city" for entry in audit)
    assert client.get("/api/halls/cc-city/devices").status_code == 200, "what the hall shows is public"


def test_hallctl_token_prints_a_working_token(secured) -> None:  # type: ignore[no-untyped-def]
    client, _, tmp = secured
    admin = _bearer((tmp / "admin.token").read_text().strip())
    client.put("/api/topology", json=topology(plan_halls(1, 1)), headers=admin).raise_for_status()
    made = subprocess.run(
        [sys.executable, "-m", "hallctl", "token", "--id", "op-city", "--role", "operator", "--hall", "cc-city",
         "--principals-file", str(tmp / "principals.json")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    operator = _bearer(made.stdout.strip().splitlines()[-1])
    assert client.get("/api/halls/cc-city/ratings", headers=operator).status_code == 200
    refused = subprocess.run(
        [sys.executable, "-m", "hallctl", "token", "--id", "c", "--role", "clerk", "--hall", "cc-city",
         "--principals-file", str(tmp / "principals.json")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode != 0 and "window" in refused.stderr
