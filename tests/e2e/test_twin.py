"""The city twin, small: three halls for minutes of simulated time on Mosquitto, the real server and edges."""

from __future__ import annotations

import json
from pathlib import Path

from simulators.broker import MosquittoBroker
from simulators.twin import TwinOptions, run_twin


def test_a_short_twin_run_has_no_double_calls_and_writes_its_report(broker: MosquittoBroker, tmp_path: Path) -> None:
    """GIVEN a centre with branch windows and two community centres WHEN 30 simulated minutes run at x120
    THEN tickets are issued, called and served, nobody is called twice, and the report has its charts."""
    options = TwinOptions(
        hall_ids=["cc-jiutai", "cm-nanguan-yongji", "cm-nanguan-xinchun"],
        hours=0.5,
        speed=120,
        utilisation=0.8,
        workdir=tmp_path / "twin",
        report=tmp_path / "report",
        mqtt_url=broker.url,
        hosts=2,
        online_timeout_s=60,
    )
    result = run_twin(options)
    assert result.double_calls == 0
    assert result.server_double_calls == 0
    assert result.tickets_issued > 20
    assert result.served > 10
    assert result.wait_p95_s is not None
    assert result.ratings_pressed > 0 and result.ratings_stored == result.ratings_pressed  # none lost, none invented
    # the server's own lag is measured, so the report can tell a slow city from a slow server
    assert result.server_ingest_lag_p95_ms is not None and result.server_kept_up is not None
    assert result.server_cores is not None and result.server_cores > 0
    report = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    assert report["halls"] == 3 and len(report["per_hall"]) == 3
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "City wait p50 / p95" in markdown and "Server behind the city" in markdown
    for chart in ("waits.png", "wait_p95_by_hall.png", "predicted_vs_realised.png", "arrivals.png"):
        assert (tmp_path / "report" / chart).read_bytes()[:4] == b"\x89PNG"
