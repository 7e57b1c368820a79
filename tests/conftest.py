"""Shared fixtures: a real Mosquitto broker on a random loopback port, and database URLs."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.broker import MosquittoBroker, mosquitto_binary


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A fresh Mosquitto with the project's settings; `broker.stop()` / `broker.start()` keep the port."""
    if mosquitto_binary() is None:
        pytest.fail("mosquitto is not installed: apt-get install mosquitto (.ci/run does this)")
    b = MosquittoBroker(workdir=tmp_path / "broker").start()
    try:
        yield b
    finally:
        b.stop()


def _pg_admin_url() -> str | None:
    return os.environ.get("HALL_TEST_PG_URL") or None


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A brand-new PostgreSQL database for one test, dropped afterwards; skips without HALL_TEST_PG_URL."""
    base = _pg_admin_url()
    if not base:
        pytest.skip("HALL_TEST_PG_URL is not set")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(base)
    name = f"hall_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hall.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Runs a test on SQLite and, when HALL_TEST_PG_URL is set, again on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hall.db'}"
    return str(request.getfixturevalue("pg_url"))
