"""Settings: one typed object fed by ``MONITOR_*`` environment variables and ``settings.yaml``.

Environment variables win over the file, so a deployment can override one value without
editing config. Every field is documented in ``docs/settings.md`` (a test enforces it).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from monitor.errors import ConfigError
from monitor.yamlfile import compose_config, construct

ENV_PREFIX = "MONITOR_"
SETTINGS_FILE = "settings.yaml"

# Values people paste from examples; a console signed with one of these is forgeable.
_PLACEHOLDER_SECRETS = frozenset(
    {"changeme", "change-me", "change_me", "changethis", "secret", "please-change", "xxx", ""}
)


class Settings(BaseSettings):
    """All runtime settings. Field names map to ``MONITOR_<NAME>`` and to keys of settings.yaml."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, env_ignore_empty=True
    )

    database_url: str = "sqlite:///var/monitor.db"
    config_dir: Path = Path("config")
    var_dir: Path = Path("var")
    # Built indexes kept between runs (the Quran index, the compiled rules, #12); files are
    # keyed by the rules' and the code's hashes, so several runs may share one folder.
    cache_dir: Path | None = None
    telegram_api_id: int | None = None
    telegram_api_hash: SecretStr | None = None
    telegram_session: Path = Path("var/telegram.session")
    telegram_web_base: str = "https://t.me"
    secret_key: SecretStr | None = None
    console_url: str = "http://127.0.0.1:8000"
    console_concurrency: int = Field(default=4, ge=1, le=100)
    # Request bodies past this are refused (413) before anything parses them (#11).
    console_max_body: int = Field(default=1_048_576, ge=1024, le=1_073_741_824)
    ingest_batch_size: int = Field(default=1000, ge=1, le=50_000)
    collect_interval: int = Field(default=300, ge=10)
    recent_window_hours: float = Field(default=48.0, ge=0)
    # Claims of one site this close together are one incident (#16, actors/incidents.py).
    incident_window_hours: float = Field(default=24.0, gt=0, le=24 * 365)
    # An incident whose last claim is older than this is not alerted: back-filled history
    # (#16, alerts/incidents.py).
    incident_alert_max_age_hours: float = Field(default=48.0, gt=0)
    # Collectors (issue #4); documented in docs/settings.md and docs/collectors.md.
    recent_window_posts: int = Field(default=50, ge=0, le=1000)
    collect_initial_posts: int = Field(default=100, ge=1, le=10_000)
    collect_max_posts: int = Field(default=2000, ge=100)
    collect_concurrency: int = Field(default=8, ge=1, le=100)
    telegram_account: str = Field(default="default", min_length=1, max_length=100)
    telegram_flood_sleep_max: int = Field(default=30, ge=0, le=3600)
    telegram_download_media: bool = False
    telegram_media_max_bytes: int = Field(default=20_000_000, ge=0)
    # Statement images (#13); documented in docs/settings.md and docs/media.md.
    # var_dir/media unless set: tests and deployments that move var_dir move the images too.
    media_dir: Path = Field(default_factory=lambda data: Path(data["var_dir"]) / "media")
    media_max_bytes: int = Field(default=10_000_000, ge=1024, le=1 << 30)
    media_max_pixels: int = Field(default=40_000_000, ge=10_000, le=1_000_000_000)
    media_attempts: int = Field(default=5, ge=1, le=100)
    media_poll_seconds: float = Field(default=15.0, gt=0)
    ocr_enabled: bool = True
    ocr_languages: str = Field(default="ara+eng", pattern=r"^[a-z_]{3,12}(\+[a-z_]{3,12}){0,4}$")
    ocr_timeout: float = Field(default=60.0, gt=0, le=3600)
    ocr_in_process: bool = True
    web_max_pages: int = Field(default=20, ge=1, le=1000)
    web_timeout: float = Field(default=20.0, gt=0)
    web_retries: int = Field(default=3, ge=1, le=10)
    worker_id: str | None = Field(default=None, max_length=100)
    lease_seconds: int = Field(default=600, ge=30)
    # Alerts (issue #6); documented in docs/settings.md.
    alert_group_seconds: int = Field(default=120, ge=0, le=3600)
    alert_max_attempts: int = Field(default=8, ge=1, le=100)
    alert_retry_initial: float = Field(default=30.0, ge=0)
    alert_retry_max: float = Field(default=3600.0, ge=1)
    alert_lease_seconds: int = Field(default=120, ge=5)
    alert_rate_per_minute: int = Field(default=30, ge=1)
    alert_poll_seconds: float = Field(default=10.0, gt=0)
    alert_private_hosts: str = ""
    # Extra apprise schemes console users may use beyond the checked table (#11).
    alert_schemes: str = ""
    # Reliability (issue #7); documented in docs/settings.md.
    db_retry_max: float = Field(default=30.0, ge=0.5, le=600)
    metrics_port: int = Field(default=0, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    # Hostile input files (#11); documented in docs/settings.md and docs/collectors.md.
    input_max_depth: int = Field(default=32, ge=8, le=1000)
    export_max_message_bytes: int = Field(default=1 << 20, ge=64 * 1024, le=1 << 30)
    scan_max_line_bytes: int = Field(default=16 << 20, ge=64 * 1024, le=1 << 30)
    # The login page lists the demo's accounts and password (#14): `monitor demo` turns it on
    # for its own console; any other console ignores it (web/login.py).
    demo_logins: bool = False
    # Console transport (issue #11); documented in docs/settings.md.
    trusted_proxies: str = ""
    hsts_seconds: int = Field(default=31_536_000, ge=0, le=63_072_000)
    # Evidence (issue #17); documented in docs/settings.md and docs/evidence.md.
    evidence_key: Path = Field(
        default_factory=lambda data: Path(data["var_dir"]) / "evidence" / "signing.key"
    )
    evidence_checkpoint_seconds: int = Field(default=3600, ge=0, le=7 * 86_400)
    evidence_tsa_url: str = ""  # RFC 3161 time-stamps of checkpoints; empty: none
    evidence_tsa_certificate: Path | None = None  # the TSA's CA (PEM) its tokens are checked to

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @field_validator("evidence_tsa_url")
    @classmethod
    def _tsa_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be empty or start with http:// or https://")
        return value

    @field_validator("telegram_web_base", "console_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        from monitor.web.transport import parse_proxies

        parse_proxies(value)  # raises ValueError naming the entry that is not an address
        return value

    @field_validator("alert_private_hosts", "alert_schemes")
    @classmethod
    def _hosts(cls, value: str, info: ValidationInfo) -> str:
        from monitor.alerts.destinations import parse_allowed, parse_schemes

        try:
            (parse_allowed if info.field_name == "alert_private_hosts" else parse_schemes)(value)
        except ConfigError as exc:
            raise ValueError(exc.message) from None
        return value

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_api_id is not None and self.telegram_api_hash is not None

    @property
    def cache_path(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else self.var_dir / "cache"

    def console_secret(self, *, demo: bool = False) -> str:
        """The key that signs console sessions; only the demo may run without a real one."""
        from monitor.strength import secret_problem

        key = self.secret_key.get_secret_value() if self.secret_key else None
        if key is None:
            problem: str | None = "is not set"
        elif key.strip().lower() in _PLACEHOLDER_SECRETS:
            problem = "is a placeholder"
        else:
            # Low-entropy keys (`aaaa…`, `1234…`) are as forgeable as placeholders (#11).
            problem = secret_problem(key)
            if problem is None:
                return key
        if demo:
            return secrets.token_urlsafe(32)
        raise ConfigError(
            f"{problem}: set a random value of at least 16 characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)",
            key=f"{ENV_PREFIX}SECRET_KEY",
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init kwargs carry the parsed settings.yaml; the environment overrides it.
        return (env_settings, init_settings)


def _read_yaml_with_lines(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", file=path) from exc
    # The loader shared by every config file: syntax errors and aliases name file and line (#11).
    node = compose_config(text, path)
    data = construct(node, path, text)
    if data is None:
        return {}, {}
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise ConfigError("must be a mapping of setting: value", file=path, line=1)
    lines: dict[str, int] = {}
    for key_node, _ in node.value:
        line = key_node.start_mark.line + 1
        # A null, numeric or complex key ("~:", "? [a]") is never a setting name.
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
            raise ConfigError("a setting name must be a plain word", file=path, line=line)
        lines[key_node.value] = line
    return {str(k): v for k, v in data.items()}, lines


def field_docs() -> dict[str, FieldInfo]:
    return dict(Settings.model_fields)


def load_settings(*, demo: bool = False, **overrides: Any) -> Settings:
    """Build settings from the environment and ``<config_dir>/settings.yaml``.

    Raises ConfigError (exit code 2) naming the variable, or the file, line and key.
    """
    env = os.environ
    config_dir = Path(overrides.get("config_dir") or env.get(f"{ENV_PREFIX}CONFIG_DIR", "config"))
    path = config_dir / SETTINGS_FILE
    data, lines = _read_yaml_with_lines(path)
    if "config_dir" in data:
        raise ConfigError(
            "config_dir cannot be set inside the config folder; use MONITOR_CONFIG_DIR",
            file=path,
            line=lines.get("config_dir"),
        )
    data["config_dir"] = config_dir
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise _config_error(exc, env, path, lines, set(overrides)) from None
    if settings.secret_key is not None and not demo:
        settings.console_secret()
    return settings


def _config_error(
    exc: ValidationError,
    env: Mapping[str, str],
    path: Path,
    lines: dict[str, int],
    overridden: set[str],
) -> ConfigError:
    first = exc.errors()[0]
    key = str(first["loc"][0]) if first["loc"] else "?"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown setting (see docs/settings.md)"
    env_name = f"{ENV_PREFIX}{key.upper()}"
    if key in overridden:
        return ConfigError(message, key=f"--{key.replace('_', '-')}")
    if env_name in env:
        return ConfigError(message, key=f"environment variable {env_name}")
    return ConfigError(message, file=path, line=lines.get(key), key=key)
