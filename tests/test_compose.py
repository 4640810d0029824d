"""docker-compose.yml is valid compose and starts the service safely (no Docker engine here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO

COMPOSE = REPO / "docker-compose.yml"


def test_compose_file_validates_against_the_compose_spec() -> None:
    # check-jsonschema ships the compose-spec schema, so this needs no network.
    exe = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(exe), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_service_waits_for_a_healthy_database_and_a_migration() -> None:
    spec = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = spec["services"]
    assert "healthcheck" in services["db"]
    assert services["migrate"]["command"] == ["monitor", "db", "upgrade"]
    for name in ("collector", "console"):
        deps = services[name]["depends_on"]
        assert deps["db"]["condition"] == "service_healthy"
        assert deps["migrate"]["condition"] == "service_completed_successfully"
    assert "monitor-var:/app/var" in services["collector"]["volumes"]
    assert "healthcheck" in services["console"]


def test_required_secrets_fail_loudly_when_missing() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    for var in ("POSTGRES_PASSWORD", "MONITOR_SECRET_KEY"):
        assert re.search(r"\$\{" + var + r":\?[^}]+\}", text), var
    assert "changeme" not in text.lower()


def test_the_console_reads_the_signing_key_and_not_the_telegram_session() -> None:
    """Evidence bundles from the post page (#17) need the service's key; the console gets its
    volume read-only, and never the collector's var volume with the Telegram session."""
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    assert "monitor-evidence:/app/var/evidence" in services["collector"]["volumes"]
    console = services["console"]["volumes"]
    assert "monitor-evidence:/app/var/evidence:ro" in console
    assert not any(v.startswith("monitor-var:") for v in console)
