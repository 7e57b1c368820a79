"""Command line: `python -m hall_server.cli server --database-url … --mqtt-url …`, `… plan`.

`run_server` is also what other tools (hallctl, the demo) call to run the server in-process.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from hall_server import queueing
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
    # open event streams (hall_server/live.py) never end by themselves: give them 2 s on shutdown
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level="info", timeout_graceful_shutdown=2
    )


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


def _load_arrivals(path: Path, default_service_min: float) -> list[tuple[str, float, float]]:
    """Rows (hall, arrivals per hour, mean service minutes) from a CSV with a header or a JSON file.

    CSV columns: `hall`, `arrivals_per_hour`, optional `mean_service_min`. JSON: a list of such objects,
    or an object mapping hall -> arrivals per hour.
    """
    text = path.read_text(encoding="utf-8")
    rows: list[dict[str, Any]]
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        if isinstance(data, dict):
            rows = [{"hall": k, "arrivals_per_hour": v} for k, v in data.items()]
        elif isinstance(data, list):
            rows = [dict(r) for r in data]
        else:
            raise typer.BadParameter("JSON must be a list of rows or an object hall -> arrivals per hour")
    else:
        rows = list(csv.DictReader(text.splitlines()))
    out = []
    for row in rows:
        try:
            service = row.get("mean_service_min")
            out.append(
                (
                    str(row["hall"]),
                    float(row["arrivals_per_hour"]),
                    float(service) if service not in (None, "") else default_service_min,
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise typer.BadParameter(f"bad row {row!r}: {exc}") from exc
    return out


def plan_rows(halls: list[tuple[str, float, float]], target_s: float, percentile: float) -> list[dict[str, Any]]:
    """For each hall the fewest windows keeping the wait percentile under `target_s` (Erlang C)."""
    result = []
    for hall, per_hour, service_min in halls:
        if per_hour < 0 or service_min <= 0:
            raise typer.BadParameter(f"{hall}: arrivals must be >= 0 and service time > 0")
        lam, mu = per_hour / 3600, 1 / (service_min * 60)
        c = queueing.windows_needed(lam, mu, target_s, percentile)
        stable = c > 0
        result.append(
            {
                "hall": hall,
                "arrivals_per_hour": per_hour,
                "mean_service_min": service_min,
                "offered_load_erlang": round(lam / mu, 3),
                "windows": c,
                "utilisation": round(lam / (c * mu), 3) if stable else 0.0,
                "p_wait": round(queueing.erlang_c(c, lam / mu), 4) if stable else 0.0,
                "mean_wait_s": round(queueing.mean_wait(c, lam, mu), 1) if stable else 0.0,
                f"p{round(percentile * 100):d}_wait_s": (
                    round(queueing.wait_percentile(c, lam, mu, percentile), 1) if stable else 0.0
                ),
            }
        )
    return result


@app.command()
def plan(
    arrivals: Annotated[
        Path | None, typer.Argument(help="CSV (hall,arrivals_per_hour[,mean_service_min]) or JSON file")
    ] = None,
    arrivals_per_hour: Annotated[float | None, typer.Option(help="one hall's arrivals per hour")] = None,
    mean_service_min: Annotated[float, typer.Option(help="mean service time, minutes")] = 6.0,
    target_s: Annotated[float, typer.Option(help="the wait the percentile must stay under, seconds")] = 180.0,
    percentile: Annotated[float, typer.Option(min=0.5, max=0.999)] = 0.95,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """How many windows each hall needs so the p95 wait stays under 3 minutes (Erlang C, M/M/c)."""
    if arrivals is None and arrivals_per_hour is None:
        raise typer.BadParameter("give an arrivals file or --arrivals-per-hour")
    halls = _load_arrivals(arrivals, mean_service_min) if arrivals is not None else []
    if arrivals_per_hour is not None:
        halls.append(("hall", arrivals_per_hour, mean_service_min))
    rows = plan_rows(halls, target_s, percentile)
    if as_json:
        typer.echo(json.dumps({"target_s": target_s, "percentile": percentile, "halls": rows}, ensure_ascii=False))
        return
    key = f"p{round(percentile * 100):d}_wait_s"
    table = Table(title=f"Windows needed: p{round(percentile * 100):d} wait <= {target_s:g} s (Erlang C)")
    for name in ("hall", "arrivals/h", "service min", "load (E)", "windows", "utilisation", "P(wait)",
                 "mean wait s", key.replace("_", " ")):  # fmt: skip
        table.add_column(name, justify="left" if name == "hall" else "right")
    for r in rows:
        table.add_row(
            r["hall"],
            f"{r['arrivals_per_hour']:g}",
            f"{r['mean_service_min']:g}",
            f"{r['offered_load_erlang']:.2f}",
            str(r["windows"]),
            f"{r['utilisation']:.0%}",
            f"{r['p_wait']:.3f}",
            f"{r['mean_wait_s']:.0f}",
            f"{r[key]:.0f}" if math.isfinite(r[key]) else "inf",
        )
    Console().print(table)


if __name__ == "__main__":
    app()
