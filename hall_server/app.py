"""The FastAPI application: wiring of settings, database, bus bridge and the command sweeper.

`create_app(settings)` applies the migrations, so a test or a fresh install needs nothing else; the
lifespan starts the bus bridge (when `mqtt_url` is set), the dispatch round scheduler and the sweeper,
and stops them cleanly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError

from hall_server import certificates, commands, pages, tickets
from hall_server.api import router
from hall_server.auth import PrincipalStore, bootstrap_admin
from hall_server.bus import BusBridge
from hall_server.context import HallContext
from hall_server.db import Database, local_tz, migrate
from hall_server.errors import HallError
from hall_server.integrity_api import router as integrity_router
from hall_server.rounds import RoundScheduler
from hall_server.settings import Settings

log = logging.getLogger(__name__)


class Sweeper:
    """Marks pending commands past their deadline `timeout`, once per interval, in its own thread."""

    def __init__(self, ctx: HallContext) -> None:
        self.ctx = ctx
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hall-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def sweep_once(self) -> int:
        with self.ctx.transaction() as session:
            overdue = commands.sweep_timeouts(session)
            for record in overdue:
                record.status = "timeout"
                if record.name == "print_ticket":
                    tickets.on_print_result(session, record)
                elif record.name == "print_certificate":
                    certificates.on_print_result(session, record)  # the blank is logged as spoiled or unused
        return len(overdue)

    def _run(self) -> None:
        while not self._stop.wait(self.ctx.settings.sweep_interval_s):
            try:
                self.sweep_once()
            except OperationalError as exc:
                log.warning("sweeper: database busy (%s); retrying next round", exc.orig)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HallError)
    async def _hall_error(request: Request, exc: HallError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("request %s %s hit a constraint: %s", request.method, request.url.path, exc.orig)
        return JSONResponse({"detail": "conflicting concurrent change; try again"}, status_code=409)

    @app.exception_handler(OperationalError)
    async def _busy(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("request %s %s: database unavailable: %s", request.method, request.url.path, exc.orig)
        return JSONResponse({"detail": "database busy or unavailable; try again"}, status_code=503)


def _document_errors(app: FastAPI) -> None:
    """Say in the OpenAPI schema what a 422 really carries: FastAPI's list of field errors for a bad
    body, or one sentence from a service (`HallError`), so clients and schemathesis can rely on it."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        components = schema.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in components:
            components["HTTPValidationError"] = {
                "title": "Error",
                "type": "object",
                "required": ["detail"],
                "properties": {
                    "detail": {
                        "anyOf": [
                            {"type": "string"},
                            {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}},
                        ]
                    }
                },
            }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _principals(settings: Settings) -> PrincipalStore | None:
    """The token store, or None with auth off (every caller an anonymous admin: never in production)."""
    if settings.auth == "off":
        log.warning("AUTH IS OFF: every caller is an anonymous admin (HALL_AUTH=off)")
        return None
    store = PrincipalStore(settings.principals_file)
    bootstrap_admin(store, settings.admin_token_file)
    return store


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for `settings` (default: from the environment), with the schema at head."""
    settings = settings or Settings()
    migrate(settings.database_url)
    ctx = HallContext(settings=settings, db=Database(settings.database_url), tz=local_tz(settings.timezone))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bridge = BusBridge(ctx) if settings.mqtt_url else None
        if bridge is not None:
            ctx.publisher = bridge
            bridge.start()
        app.state.bridge = bridge
        scheduler = RoundScheduler(ctx)
        ctx.rounds = scheduler
        scheduler.start()
        app.state.rounds = scheduler
        sweeper = Sweeper(ctx)
        sweeper.start()
        try:
            yield
        finally:
            sweeper.stop()
            scheduler.stop()
            if bridge is not None:
                bridge.stop()
            ctx.db.dispose()

    app = FastAPI(title="hall server", version="1", lifespan=lifespan)
    app.state.ctx = ctx
    app.state.bridge = None
    app.state.principals = _principals(settings)
    app.include_router(router)
    app.include_router(integrity_router)
    pages.install(app, ctx)  # web pages, their JSON and live events (hall_server/pages.py)
    _install_error_handlers(app)
    _document_errors(app)
    return app
