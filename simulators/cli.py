"""`hallctl demo` and `hallctl sim`: the simulated city, for laptops, CI and maintainers."""

from __future__ import annotations

import json
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


@app.command("simulate")
def simulate_command(
    halls: str = typer.Option(
        "all", "--halls", help="'all' (195 halls), how many (centres and community mixed), or hall ids a,b,c"
    ),
    hours: float = typer.Option(8.0, "--hours", min=0.01, max=24, help="simulated hours from --start-hour"),
    speed: float = typer.Option(60.0, "--speed", min=1, max=3600, help="simulated seconds per real second"),
    report: Path = typer.Option(Path("var/twin/report"), "--report", help="where report.md/.json and charts go"),
    workdir: Path = typer.Option(Path("var/twin"), "--workdir", help="database, logs and edge state (wiped)"),
    hosts: int = typer.Option(0, "--hosts", min=0, max=32, help="host processes (0: one per ~40 halls, max 6)"),
    database_url: str | None = typer.Option(None, "--database-url", help="server database (default SQLite)"),
    utilisation: float = typer.Option(0.7, "--utilisation", min=0.05, max=1.5, help="mean window utilisation"),
    start_hour: float = typer.Option(8.5, "--start-hour", min=0, max=23),
    seed: int = typer.Option(2018, "--seed"),
) -> None:
    """A digital twin of the city: citizens, clerks and devices on the real server, edges and Mosquitto."""
    from simulators.twin import TwinOptions, run_twin

    count: int | None = None
    hall_ids: list[str] | None = None
    if halls.isdigit():
        count = int(halls)
        if not 1 <= count <= 195:
            raise typer.BadParameter("--halls takes 'all', 1 to 195, or hall ids")
    elif halls != "all":
        hall_ids = [h.strip() for h in halls.split(",") if h.strip()]
    options = TwinOptions(
        halls=count, hall_ids=hall_ids, hours=hours, speed=speed, report=report, workdir=workdir, hosts=hosts,
        database_url=database_url, utilisation=utilisation, start_hour=start_hour, seed=seed,
    )  # fmt: skip
    result = run_twin(options)
    typer.echo(
        f"{result.halls} halls, {result.devices} devices: {result.tickets_issued} tickets, wait p50 "
        f"{result.wait_p50_s} s p95 {result.wait_p95_s} s, double calls {result.double_calls}/"
        f"{result.server_double_calls}, predicted-wait MAE {result.predicted_mae_s} s, server kept up: "
        f"{result.server_kept_up}; took {result.duration_s} s; "
        f"report in {result.report_dir}/report.md"
    )
    if result.double_calls or result.server_double_calls:
        raise typer.Exit(code=1)


@app.command("sim")
def sim_command(
    hall: str = typer.Option(..., "--hall", help="hall id (one of the demo city's centres)"),
    server_url: str = typer.Option("http://127.0.0.1:8000", "--server-url", help="hall server to register with"),
    mqtt_url: str = typer.Option("mqtt://127.0.0.1:1883", "--mqtt-url", envvar="HALL_MQTT_URL"),
    windows: int = typer.Option(4, "--windows", min=1, max=20),
    state_dir: Path = typer.Option(Path("var/sim"), "--state-dir", help="edge outbox and logs"),
    edge: bool = typer.Option(True, "--edge/--no-edge", help="also run the hall's edge agent"),
) -> None:
    """Simulate one hall's devices on pseudo-terminals, with its edge agent or for one you attach.

    The simulators take fault commands on hall/v1/<hall>/sim/<device>/control, e.g.
    {"v":1,"ts":0,"action":"paper_out"}; actions: paper_out, cover_open, ready, unplug, replug,
    slow (delay_s), garble, fragment, drop_replies (count), clean, rating_timeout.
    """
    import httpx

    from hallbus.connection import broker_address
    from simulators.city import CENTRES, HallPlan, topology
    from simulators.hall import SimulatedHall
    from simulators.processes import EdgeProcess

    names = dict(CENTRES)
    if hall not in names:
        raise typer.BadParameter(f"unknown hall {hall}; choose one of {', '.join(names)}")
    plan = HallPlan(hall, names[hall], windows)
    simulated = SimulatedHall(plan)
    config = simulated.edge_config(mqtt_url, state_dir)
    host, port = broker_address(mqtt_url)
    simulated.listen_for_control(host, port)
    agent = None
    if edge:
        httpx.put(f"{server_url}/api/topology", json=topology([plan]), timeout=30).raise_for_status()
        agent = EdgeProcess(state_dir, config).start()
    else:
        typer.echo(json.dumps(config, ensure_ascii=False, indent=2))
    log.info("hall %s: %d simulated devices%s", hall, len(plan.devices), " with its edge" if edge else "")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        if agent is not None:
            agent.stop()
        simulated.close()
