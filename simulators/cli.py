"""`hallctl demo` and `hallctl sim`: the simulated city, for laptops, CI and maintainers."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import typer

app = typer.Typer(help="Simulated halls and devices.")
log = logging.getLogger(__name__)


@app.command("demo")
def demo_command(
    halls: int = typer.Option(3, "--halls", min=1, max=16, help="service centres to simulate"),
    windows: int = typer.Option(4, "--windows", min=1, max=20, help="windows per hall"),
    minutes: float = typer.Option(60.0, "--minutes", min=1, help="simulated minutes"),
    speed: float = typer.Option(120.0, "--speed", min=1, max=1000, help="simulated seconds per real second"),
    json_path: Path | None = typer.Option(None, "--json", help="write the summary as JSON here"),
    workdir: Path = typer.Option(Path("var/demo"), "--workdir", help="database, logs and printed tickets"),
    mqtt_url: str | None = typer.Option(None, "--mqtt-url", envvar="HALL_MQTT_URL", help="use this broker"),
    seed: int | None = typer.Option(None, "--seed", help="random seed for arrivals and service times"),
) -> None:
    """Run a simulated morning: citizens take tickets, clerks call and finish, citizens rate."""
    from simulators.demo import DemoOptions, run_demo

    options = DemoOptions(
        halls=halls,
        windows=windows,
        minutes=minutes,
        speed=speed,
        json_path=json_path,
        workdir=workdir,
        mqtt_url=mqtt_url,
        seed=seed,
    )
    summary = run_demo(options)
    if summary.double_calls or summary.lost_ratings or summary.invented_ratings:
        raise typer.Exit(code=1)


@app.command("sim")
def sim_command(
    hall: str = typer.Option(..., "--hall", help="hall id (one of the demo city's centres)"),
    server_url: str = typer.Option("http://127.0.0.1:8000", "--server-url", help="hall server to register with"),
    mqtt_url: str = typer.Option("mqtt://127.0.0.1:1883", "--mqtt-url", envvar="HALL_MQTT_URL"),
    windows: int = typer.Option(4, "--windows", min=1, max=20),
    state_dir: Path = typer.Option(Path("var/sim"), "--state-dir", help="edge outbox and logs"),
) -> None:
    """Simulate one hall's devices on pseudo-terminals and run its edge agent against them."""
    import httpx

    from simulators.city import CENTRES, HallPlan, topology
    from simulators.hall import SimulatedHall
    from simulators.processes import EdgeProcess

    names = dict(CENTRES)
    if hall not in names:
        raise typer.BadParameter(f"unknown hall {hall}; choose one of {', '.join(names)}")
    plan = HallPlan(hall, names[hall], windows)
    httpx.put(f"{server_url}/api/topology", json=topology([plan]), timeout=30).raise_for_status()
    simulated = SimulatedHall(plan)
    edge = EdgeProcess(state_dir, simulated.edge_config(mqtt_url, state_dir)).start()
    log.info("hall %s: %d simulated devices, edge pid %s", hall, len(plan.devices), edge.proc.pid if edge.proc else "?")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        edge.stop()
        simulated.close()
