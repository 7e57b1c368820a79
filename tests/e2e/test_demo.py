"""`hallctl demo` as a newcomer runs it: three halls, a simulated hour, judged by the devices."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_demo_morning_has_no_double_calls_and_loses_no_rating(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    args = ["demo", "--halls", "3", "--minutes", "60", "--speed", "120", "--json", str(out)]
    proc = subprocess.run(
        [sys.executable, "-m", "hallctl", *args, "--workdir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(out.read_text())
    for key in ("tickets_issued", "tickets_printed", "called", "served", "ratings", "double_calls",
                "lost_ratings", "wait_p50_s", "wait_p95_s"):  # fmt: skip
        assert key in summary
    assert summary["double_calls"] == 0 and summary["server_double_calls"] == 0
    assert summary["lost_ratings"] == 0 and summary["invented_ratings"] == 0
    assert summary["tickets_issued"] > 30, "a simulated hour in three halls issues dozens of tickets"
    assert summary["tickets_printed"] == summary["tickets_issued"]
    assert summary["ratings"] + summary["not_rated"] == summary["served"]
    assert 0 <= summary["wait_p50_s"] <= summary["wait_p95_s"]
    printed = list(Path(summary["printed_tickets_dir"]).rglob("*.txt"))
    assert len(printed) == summary["tickets_printed"]
    assert any("政务服务中心" in p.read_text(encoding="utf-8") for p in printed)
