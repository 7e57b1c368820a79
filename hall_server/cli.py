"""Command line: `python -m hall_server.cli server --database-url … --mqtt-url …`.

`run_server` is also what other tools (hallctl, the demo) call to run the server in-process.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer
import uvicorn

from hall_server.app import create_app
from hall_server.settings import Settings

app = typer.Typer(help="The hall server: tickets, dispatch, ratings and the server side of the hall bus.")


def run_server(host: str, port: int, database_url: str | None, mqtt_url: str | None) -> None:
    """Apply migrations and serve the API with uvicorn until interrupted."""
    overrides: dict[str, object] = {"host": host, "port": port}
    if database_url:
        overrides["database_url"] = database_url
    if mqtt_url:
        overrides["mqtt_url"] = mqtt_url
    settings = Settings(**overrides)  # type: ignore[arg-type]
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


@app.command()
def server(
    host: Annotated[str, typer.Option(envvar="HALL_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="HALL_PORT")] = 8080,
    database_url: Annotated[str | None, typer.Option(envvar="HALL_DATABASE_URL")] = None,
    mqtt_url: Annotated[str | None, typer.Option(envvar="HALL_MQTT_URL")] = None,
) -> None:
    """Run the hall server."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_server(host, port, database_url, mqtt_url)


@app.command()
def migrate(database_url: Annotated[str | None, typer.Option(envvar="HALL_DATABASE_URL")] = None) -> None:
    """Only bring the database schema to the newest revision."""
    from hall_server.db import migrate as do_migrate

    do_migrate(database_url or Settings().database_url)


if __name__ == "__main__":
    app()
