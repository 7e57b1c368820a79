"""Operator commands that read a running hall server over its HTTP API (`hallctl devices`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Look at a running hall server.")

AVAILABILITY_STYLE = {"online": "green", "offline": "bold red"}


def _state_text(state: dict[str, Any]) -> str:
    """State fields as `key=value`, unknown ones dimmed: a silent device is never shown as ok."""
    parts = []
    for key, value in sorted(state.items()):
        if key in ("v", "ts", "edge"):
            continue
        text = f"{key}={value}"
        parts.append(f"[dim]{text}[/dim]" if value == "unknown" else text)
    return " ".join(parts) or "-"


@app.command("devices")
def devices_command(
    hall: str = typer.Option(..., "--hall", help="hall id"),
    server_url: str = typer.Option("http://127.0.0.1:8000", "--server-url", envvar="HALL_SERVER_URL"),
) -> None:
    """List a hall's devices with availability and state (设备状态)."""
    try:
        response = httpx.get(f"{server_url}/api/halls/{hall}/devices", timeout=10)
    except httpx.HTTPError as exc:
        raise typer.BadParameter(f"cannot reach the hall server at {server_url}: {exc}") from None
    if response.status_code == 404:
        raise typer.BadParameter(f"the server knows no hall {hall!r}")
    response.raise_for_status()
    table = Table(title=f"{hall} 设备 devices")
    for column in ("设备 device", "类型 kind", "窗口 window", "可用 availability", "原因 reason", "状态 state"):
        table.add_column(column)
    for d in response.json():
        availability = str(d.get("availability") or "unknown")
        style = AVAILABILITY_STYLE.get(availability, "yellow")
        table.add_row(
            d["id"],
            d["kind"],
            d.get("window") or "-",
            f"[{style}]{availability}[/{style}]",
            d.get("reason") or "",
            _state_text(d.get("state") or {}),
        )
    Console().print(table)


@app.command("broker-auth")
def broker_auth_command(
    topology: Path = typer.Option(..., "--topology", exists=True, help="topology JSON (the body of PUT /api/topology)"),
    out: Path = typer.Option(Path("var/broker-auth"), "--out", help="folder for passwd, acl and credentials/"),
) -> None:
    """Generate Mosquitto accounts and the ACL whitelist from the topology (bus.md §9).

    Existing passwords in OUT/credentials are kept; run it again after every topology change and
    reload the broker (SIGHUP). Each edge gets OUT/credentials/<hall>.<edge>.password.
    """
    from hall_server.brokerauth import load_topology, mosquitto_auth_conf, write_broker_auth

    accounts = write_broker_auth(load_topology(topology), out)
    console = Console()
    console.print(f"{len(accounts)} accounts written to {out} (passwd, acl, credentials/)")
    console.print("Add to mosquitto.conf:\n" + mosquitto_auth_conf(out.resolve()))


@app.command("token")
def token_command(
    principal_id: str = typer.Option(..., "--id", help="who: the id the audit trail records, e.g. clerk-wangfang"),
    role: str = typer.Option(..., "--role", help="admin, operator, clerk, approver, custodian or kiosk"),
    name: str = typer.Option("", "--name", help="display name"),
    hall: str | None = typer.Option(None, "--hall", help="operator, clerk, custodian, kiosk: their hall"),
    window: str | None = typer.Option(None, "--window", help="clerk: their window"),
    department: str | None = typer.Option(None, "--department", help="approver: their department"),
    principals_file: Path | None = typer.Option(None, "--principals-file", envvar="HALL_PRINCIPALS_FILE"),
) -> None:
    """Create a principal and print its token once (only its SHA-256 is stored)."""
    from pydantic import ValidationError

    from hall_server.auth import Principal, PrincipalStore
    from hall_server.settings import Settings

    path = principals_file or Settings().principals_file
    try:
        principal = Principal(id=principal_id, role=role, name=name, hall=hall, window=window, department=department)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise typer.BadParameter(str(exc.errors()[0]["msg"])) from None
    if principal.role == "clerk" and not (principal.hall and principal.window):
        raise typer.BadParameter("a clerk is bound to one window: give --hall and --window")
    if principal.role == "approver" and not principal.department:
        raise typer.BadParameter("an approver acts for one department: give --department")
    if principal.role in ("operator", "custodian", "kiosk") and not principal.hall:
        raise typer.BadParameter(f"a {principal.role} belongs to a hall: give --hall")
    try:
        token = PrincipalStore(path).add(principal)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(token)
