"""`hallctl audit verify` (also `audit-verify`): check the audit hash chain and name the first broken entry."""

from __future__ import annotations

import typer
from rich.console import Console

from hall_server.auditchain import verify
from hall_server.db import Database
from hall_server.settings import Settings

app = typer.Typer(help="The audit trail (全程留痕).")
#: `hallctl audit verify`: the same command as a group, the spelling the issue and operators use
group = typer.Typer(help="The audit trail (全程留痕): `hallctl audit verify`.", no_args_is_help=True)


@group.callback()
def _audit_group() -> None:
    """A group, so that `verify` keeps its name even while it is the only subcommand."""


@group.command("verify")
@app.command("audit-verify")
def audit_verify(
    database_url: str | None = typer.Option(None, "--database-url", help="default: HALL_DATABASE_URL"),
) -> None:
    """Walk the audit chain; exit 1 and name the first broken entry if any row was changed, removed or added."""
    console = Console()
    db = Database(database_url or Settings().database_url)
    try:
        with db.read() as session:
            report = verify(session)
    finally:
        db.dispose()
    if report.ok:
        console.print(f"audit chain OK: {report.entries} entries, head at seq {report.head_seq}")
        return
    first = report.breaks[0]
    console.print(f"[red]audit chain BROKEN[/red] at {first}")
    for other in report.breaks[1:]:
        console.print(f"  also: {other}")
    raise typer.Exit(code=1)
