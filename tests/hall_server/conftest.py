"""Fixtures for the hall server tests: topology, a context on a real database, live uvicorn servers, polling."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from hall_server.app import create_app
from hall_server.context import HallContext
from hall_server.db import Database, migrate
from hall_server.settings import Settings
from hall_server.topology import TopologyIn, apply
from simulators.broker import free_port

MATTERS = [
    {"code": "biz_license", "name": "营业执照", "category": "enterprise", "prefix": "A"},
    {"code": "social_card", "name": "社保卡", "category": "citizen", "prefix": "B"},
]


def hall_topology(hall: str = "h1", windows: int = 3, categories: dict[int, list[str]] | None = None) -> dict[str, Any]:
    """A hall with `windows` all-subject windows (unless `categories` says otherwise), each fully equipped."""
    cats = categories or {}
    win = [
        {
            "id": f"w{i}",
            "number": i,
            "name": f"综合窗口{i}",
            "categories": cats.get(i, ["all"]),
            "clerk": {"staff_id": f"s{i}", "name": f"clerk{i}"},
        }
        for i in range(1, windows + 1)
    ]
    devices: list[dict[str, Any]] = [{"id": "p1", "kind": "ticket_printer", "edge": "e1", "window": None}]
    for i in range(1, windows + 1):
        devices += [
            {"id": f"w{i}-screen", "kind": "window_screen", "edge": "e1", "window": f"w{i}"},
            {"id": f"w{i}-caller", "kind": "caller", "edge": "e1", "window": f"w{i}"},
            {"id": f"w{i}-eval", "kind": "evaluator", "edge": "e1", "window": f"w{i}"},
        ]
    return {
        "matters": MATTERS,
        "halls": [{"id": hall, "name": "长春市政务服务中心", "windows": win, "devices": devices}],
    }


class LiveServer:
    """uvicorn serving an app in a thread on a free loopback port (lifespan included)."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def wait_until(check: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll `check` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@pytest.fixture(autouse=True)
def immediate_dispatch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests dispatch inside the event (dispatch_round_ms=0) unless they ask for rounds themselves."""
    monkeypatch.setenv("HALL_DISPATCH_ROUND_MS", "0")


@pytest.fixture(autouse=True)
def domain_without_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    """The domain tests call the API as an anonymous admin; tests/hall_server/test_auth.py turns auth on."""
    monkeypatch.setenv("HALL_AUTH", "off")


@pytest.fixture
def make_ctx() -> Iterator[Callable[[str, dict[str, Any] | None], HallContext]]:
    """Build a service context on a migrated database, optionally loaded with a topology."""
    made: list[HallContext] = []

    def make(url: str, topo: dict[str, Any] | None = None) -> HallContext:
        migrate(url)
        ctx = HallContext(settings=Settings(database_url=url), db=Database(url))
        if topo is not None:
            with ctx.transaction() as session:
                apply(session, TopologyIn.model_validate(topo), "test")
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.db.dispose()


@pytest.fixture
def live_server() -> Iterator[Callable[[Settings], LiveServer]]:
    servers: list[LiveServer] = []

    def start(settings: Settings) -> LiveServer:
        server = LiveServer(create_app(settings)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(name="hall_topology")
def hall_topology_fixture() -> Callable[..., dict[str, Any]]:
    return hall_topology


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., Any]:
    return wait_until
