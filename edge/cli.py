"""`hallctl edge`: run one hall's edge agent."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from edge.agent import EdgeAgent
from edge.config import load_config

app = typer.Typer(help="Edge agent: drives one hall's devices and speaks the hall bus.")


@app.command("edge")
def edge_command(
    config: Path = typer.Option(..., "--config", "-c", help="edge configuration (JSON)", exists=True),
    hall: str | None = typer.Option(None, "--hall", help="hall id (must match the configuration)"),
    mqtt_url: str | None = typer.Option(None, "--mqtt-url", envvar="HALL_MQTT_URL", help="mqtt://host:port"),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="where the outbox database lives"),
) -> None:
    """Connect to the broker, publish birth and drive the configured devices until SIGTERM."""
    cfg = load_config(config)
    if hall is not None and hall != cfg.hall:
        raise typer.BadParameter(f"--hall {hall} does not match the configuration's hall {cfg.hall}")
    updates: dict[str, object] = {}
    if mqtt_url:
        updates["mqtt_url"] = mqtt_url
    if state_dir:
        updates["state_dir"] = state_dir
    cfg = cfg.model_copy(update=updates)
    logging.getLogger(__name__).info("starting edge %s", cfg.client_id)
    EdgeAgent(cfg).run_forever()
