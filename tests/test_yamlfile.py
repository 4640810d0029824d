"""Every config file goes through one YAML loader that refuses aliases (#11)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.errors import ConfigError
from monitor.match import load_rules
from tests.conftest import CONFIG

ALIASED = "a: &x [lol, lol]\nb: [*x, *x]\n"


def test_settings_yaml_with_an_alias_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("log_level: INFO\nx: &big [1]\ny: *big\n", "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config_dir=tmp_path)
    assert caught.value.file == str(tmp_path / "settings.yaml") and caught.value.line == 2
    assert "anchor &big" in caught.value.message


def test_rule_file_with_an_alias_names_file_and_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(CONFIG / "rules", rules)
    extra = rules / "zz_extra.yaml"
    # An alias inside `severity` was expanded by the rule loader's plain() walk.
    extra.write_text("# extra\n" + ALIASED.replace("a:", "severity:\n  a:").replace("b:", "  b:"))
    with pytest.raises(ConfigError) as caught:
        load_rules(rules)
    assert caught.value.file == str(extra) and caught.value.line == 3
    assert "not allowed in config files" in caught.value.message


def test_shipped_config_files_use_no_aliases() -> None:
    load_rules(CONFIG / "rules")
    load_settings(config_dir=CONFIG)


def test_a_config_file_nested_50000_deep_names_file_and_line(tmp_path: Path) -> None:
    # Composing recursed once per level: this ended in a RecursionError ("internal error").
    deep = "x:\n  - " + "[" * 50_000 + "]" * 50_000 + "\n"
    (tmp_path / "settings.yaml").write_text(deep, "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config_dir=tmp_path)
    assert caught.value.file == str(tmp_path / "settings.yaml") and caught.value.line == 2
    assert "nested deeper than 64 levels" in caught.value.message
