"""Settings: one typed object; bad values stop with exit 2 naming where they came from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.config import Settings, load_settings
from monitor.errors import ConfigError
from tests.conftest import CliRunner

DOCS = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_every_setting_is_documented() -> None:
    documented = set(re.findall(r"^- `([a-z_]+)`", DOCS.read_text(encoding="utf-8"), re.M))
    missing = set(Settings.model_fields) - documented
    assert not missing, f"settings without a line in docs/settings.md: {sorted(missing)}"
    stale = documented - set(Settings.model_fields)
    assert not stale, f"docs/settings.md documents settings that do not exist: {sorted(stale)}"


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MONITOR_CONFIG_DIR", str(tmp_path))
    for var in ("MONITOR_DATABASE_URL", "MONITOR_INGEST_BATCH_SIZE", "MONITOR_SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_yaml_values_are_used_and_environment_wins(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (config_dir / "settings.yaml").write_text("ingest_batch_size: 250\ncollect_interval: 60\n")
    assert load_settings().ingest_batch_size == 250
    monkeypatch.setenv("MONITOR_INGEST_BATCH_SIZE", "500")
    settings = load_settings()
    assert settings.ingest_batch_size == 500
    assert settings.collect_interval == 60


def test_bad_yaml_value_names_file_line_and_key(config_dir: Path) -> None:
    (config_dir / "settings.yaml").write_text(
        "# comment\nlog_level: INFO\ningest_batch_size: lots\n"
    )
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.exit_code == 2
    assert str(err.value).startswith(f"{config_dir / 'settings.yaml'}:3: ingest_batch_size:")


def test_unknown_key_is_refused_with_its_line(config_dir: Path) -> None:
    (config_dir / "settings.yaml").write_text("log_level: INFO\ncolect_interval: 60\n")
    with pytest.raises(ConfigError, match=r"settings.yaml:2: colect_interval: unknown setting"):
        load_settings()


@pytest.mark.parametrize("key", ["~", "1.5", "12", "null"])
def test_a_key_that_is_not_a_name_is_refused_with_its_line(config_dir: Path, key: str) -> None:
    (config_dir / "settings.yaml").write_text(f"log_level: INFO\n{key}: 5\n")
    with pytest.raises(ConfigError, match=r"settings.yaml:2: a setting name must be a plain word"):
        load_settings()


def test_broken_yaml_names_the_line(config_dir: Path) -> None:
    (config_dir / "settings.yaml").write_text("log_level: INFO\ncollect_interval: [60\n")
    with pytest.raises(ConfigError, match=r"settings.yaml:3: invalid YAML"):
        load_settings()


def test_bad_environment_value_names_the_variable(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_DATABASE_URL", "mysql://nope")
    with pytest.raises(ConfigError, match="environment variable MONITOR_DATABASE_URL"):
        load_settings()


def test_empty_optional_variables_count_as_unset(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # docker-compose passes `${MONITOR_TELEGRAM_API_ID:-}` as an empty string when unset.
    monkeypatch.setenv("MONITOR_TELEGRAM_API_ID", "")
    monkeypatch.setenv("MONITOR_TELEGRAM_API_HASH", "")
    assert not load_settings().telegram_enabled


@pytest.mark.parametrize("placeholder", ["changeme", "secret", "short"])
def test_placeholder_secret_refused_outside_demo(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, placeholder: str
) -> None:
    monkeypatch.setenv("MONITOR_SECRET_KEY", placeholder)
    with pytest.raises(ConfigError, match="MONITOR_SECRET_KEY"):
        load_settings()
    demo = load_settings(demo=True)
    generated = demo.console_secret(demo=True)
    assert generated != placeholder and len(generated) >= 32


@pytest.mark.parametrize(
    "weak",
    [
        "aaaaaaaaaaaaaaaa",
        "a" * 64,
        "abababababababab",
        "abcdefghijklmnopqrstuvwxyz",
        "1234567890123456",
        "0123456789abcdef",
        "zyxwvutsrqponmlk",
        "passwordpassword",
        "secretsecretsecret",
        "                ",
        # words, keyboard walks, a phrase repeated (zxcvbn; the entropy count passed them)
        "changemechangemechangeme",
        "passwordpasswordpassword",
        "monitor-secret-key",
        "qwertyuiopasdfghjkl",
        "1q2w3e4r5t6y7u8i",
    ],
)
def test_low_entropy_secret_refused(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, weak: str
) -> None:
    """Long enough is not random enough: these sign sessions an attacker can forge (#11)."""
    monkeypatch.setenv("MONITOR_SECRET_KEY", weak)
    with pytest.raises(ConfigError, match="MONITOR_SECRET_KEY") as caught:
        load_settings()
    assert weak.strip() == "" or weak not in str(caught.value)  # the message never echoes it


def test_random_secrets_are_accepted() -> None:
    import secrets

    for _ in range(2000):
        for key in (secrets.token_urlsafe(32), secrets.token_hex(16), secrets.token_urlsafe(16)):
            assert Settings(secret_key=key).console_secret() == key
    # A long phrase of words carries enough, too.
    phrase = "correct horse battery staple on the tigris"
    assert Settings(secret_key=phrase).console_secret() == phrase


def test_cli_reports_bad_config_with_exit_2(run_cli: CliRunner, tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "settings.yaml").write_text("ingest_batch_size: 0\n")
    result = run_cli("db", "upgrade", config_dir=str(cfg))
    assert result.code == 2
    assert "settings.yaml:1: ingest_batch_size:" in result.err
    assert "Traceback" not in result.err
