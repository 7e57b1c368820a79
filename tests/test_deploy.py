"""Deployment files that must stay valid without a Docker engine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_compose_file_validates_offline() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose not installed (.ci/run installs Debian's package)")
    proc = subprocess.run([binary, "config", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_mosquitto_settings_that_matter_are_set() -> None:
    conf = (ROOT / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    lines = {line.split()[0]: line.split()[1:] for line in conf.splitlines() if line and not line.startswith("#")}
    assert lines["set_tcp_nodelay"] == ["true"]
    assert lines["persistence"] == ["true"]
    assert int(lines["max_queued_messages"][0]) >= 100_000
