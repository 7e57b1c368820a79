"""Engines, sessions and migrations for SQLite (embedded) and PostgreSQL (production).

SQLite runs in WAL mode with a busy timeout and foreign keys on. Its write transactions start with
``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes can fail at once with
SQLITE_BUSY when another writer committed in between, and the busy timeout does not cover that case.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alembic import command as alembic_command
from alembic.config import Config
from sqlalchemy import Engine, Table, create_engine, event, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from hall_server.models import ServerSession

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
IMMEDIATE = "hall_immediate"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_folder(url: str) -> None:
    """Create the folder of a file-based SQLite database so the first start just works."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(str(parsed.database)).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _sqlite_on_begin)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_on_begin(conn: Any) -> None:
    immediate = conn.get_execution_options().get(IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, *, pooled: bool = True) -> Engine:
    """An engine with the per-backend settings this server relies on."""
    if is_sqlite(url):
        ensure_sqlite_folder(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            poolclass=None if pooled else NullPool,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if pooled:
        return create_engine(url, pool_size=10, max_overflow=30, pool_pre_ping=True)
    return create_engine(url, poolclass=NullPool)


class Database:
    """Session factories: `write()` for decisions (serialised on SQLite), `read()` for queries.

    On SQLite the writers of this process also queue on a lock of their own before ``BEGIN IMMEDIATE``.
    SQLite's busy handler makes a waiting writer sleep and poll (up to 100 ms a try), so under the city
    twin's load the ingest, the dispatch rounds and the HTTP threads convoyed behind each other; a
    Python lock hands the database over the moment the previous commit ends. Other processes still
    meet the busy timeout.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        writer = self.engine.execution_options(**{IMMEDIATE: True})
        self._write = sessionmaker(bind=writer, expire_on_commit=False)
        self._read = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._writers: AbstractContextManager[Any] = threading.RLock() if self.dialect == "sqlite" else nullcontext()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        with self._writers, self._write() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the schema to the newest revision; safe to run from several processes at once."""
    ensure_sqlite_folder(url)
    engine = make_engine(url, pooled=False)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            alembic_command.upgrade(cfg, "head")
    finally:
        engine.dispose()
    log.info("database schema is at head (%s)", make_url(url).render_as_string(hide_password=True))


def next_server_session(db: Database) -> int:
    """Increment and return the server's liveness session counter (bus.md §4.2)."""
    with db.write() as session:
        stmt = (
            update(ServerSession)
            .where(ServerSession.id == 1)
            .values(counter=ServerSession.counter + 1)
            .returning(ServerSession.counter)
        )
        value = session.execute(stmt).scalar_one_or_none()
        if value is None:
            session.add(ServerSession(id=1, counter=1))
            value = 1
        return int(value)


def bump_counter(session: Session, model: Any, **key: str) -> int:
    """Increment and return the `last` column of `model`'s row `key` (created at 1) in one atomic upsert.

    Ticket numbers, case numbers and blank serials all come from such a row: no read-then-write, so two
    transactions (or processes) can never take the same value.
    """
    table = cast(Table, model.__table__)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(table)
        .values(**key, last=1)
        .on_conflict_do_update(index_elements=[table.c[k] for k in key], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )
    return int(session.execute(stmt).scalar_one())


def local_tz(name: str = "Asia/Shanghai") -> tzinfo:
    """The halls' zone; China has had no DST since 1991, so UTC+8 is an exact fallback."""
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        return timezone(timedelta(hours=8))


def local_day(at_ms: int, tz: tzinfo) -> str:
    """The local calendar day of a UTC-ms instant: ticket numbers restart every day."""
    return datetime.fromtimestamp(at_ms / 1000, tz=tz).date().isoformat()
