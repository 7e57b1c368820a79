"""`hallctl`: the one command line of the project, composed from each part's own commands.

This module is the composition root: it only gathers the Typer commands that `hall_server`, `edge`
and `simulators` define, so no part has to import another to be started.
"""

from __future__ import annotations

import logging
import os

import typer
from rich.logging import RichHandler

app = typer.Typer(
    help="城市政务大厅设备编排 · Hall devices for a city's government service halls.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def configure(
    log_level: str = typer.Option(
        os.environ.get("HALL_LOG_LEVEL", "INFO"), "--log-level", help="DEBUG, INFO, WARNING or ERROR"
    ),
) -> None:
    """Set up logging once for every command."""
    logging.basicConfig(
        level=log_level.upper(),
        format="%(name)s: %(message)s",
        handlers=[RichHandler(show_path=False, rich_tracebacks=False)],
    )
    for chatty in ("httpx", "httpcore", "uvicorn.access", "amqtt"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))


def _register() -> None:
    from edge.cli import app as edge_app
    from hall_server.audit_cli import app as audit_app
    from hall_server.audit_cli import group as audit_group
    from hall_server.cli import app as server_app
    from hall_server.console import app as console_app
    from simulators.cli import app as sim_app

    for part in (server_app, console_app, audit_app, edge_app, sim_app):
        app.registered_commands.extend(part.registered_commands)
    app.add_typer(audit_group, name="audit")


def main() -> None:
    _register()
    app()


if __name__ == "__main__":
    main()
