from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.match import load_rules

from .conftest_match import RULES_DIR


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "rules"
    shutil.copytree(RULES_DIR, dst)
    return dst


def test_default_rules_load_with_catalog() -> None:
    rs = load_rules(RULES_DIR)
    required = (
        "2:190 2:191 2:193 2:194 2:249 3:126 3:139 3:169 3:173 4:76 8:12 8:17 8:39 8:60 9:14 9:29 "
        "9:36 9:111 11:81 17:81 22:39 26:227 33:23 42:39 47:4 47:7 48:1 54:45 61:4 61:13 110:1"
    )
    assert set(required.split()) <= set(rs.cues)
    assert {r.kind for r in rs.rules} == {
        "readiness",
        "threat",
        "allegiance",
        "attack_claim",
        "target",
    }


def test_version_is_stable_and_tracks_content(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    v1 = load_rules(d).version
    assert load_rules(d).version == v1
    with (d / "phrases.yaml").open("a", encoding="utf-8") as fh:
        fh.write("\n# a comment is a change of the files too\n")
    assert load_rules(d).version != v1


@pytest.mark.parametrize(
    ("content", "line", "needle"),
    [
        ("rules:\n  - id: x\n    kind: threat\n    patterns: [a b\n", None, "invalid YAML"),
        ("rules:\n  - id: x\n    kind: bogus\n    patterns: [foo]\n", 3, "kind"),
        ("rules:\n  - id: x\n    kind: threat\n", 2, "patterns"),
        (
            "rules:\n  - id: x\n    kind: threat\n    patterns: [foo]\n    weight: lots\n",
            5,
            "number",
        ),
        ("rules:\n  - id: x\n    kind: threat\n    patterns: [foo ...]\n", 4, "..."),
        ("cues:\n  - {ref: '3:139'}\n", 2, "twice"),
        ("cues:\n  - {ref: 'three'}\n", 2, "surah:ayah"),
        (
            "rules:\n  - id: x\n    kind: threat\n    patterns: [foo]\n"
            "    requires_context: [nope]\n",
            5,
            "unknown context",
        ),
        ("severity:\n  thresholds: {low: 50, medium: 10, high: 60, critical: 70}\n", 2, "increase"),
        ("surprise: 1\n", 1, "unknown section"),
    ],
)
def test_bad_rule_file_names_file_and_line(
    tmp_path: Path, content: str, line: int | None, needle: str
) -> None:
    d = _copy(tmp_path)
    bad = d / "zz-bad.yaml"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_rules(d)
    err = info.value
    assert err.file == str(bad)
    if line is not None:
        assert err.line == line
    else:
        assert err.line is not None
    assert needle in str(err)
    assert err.exit_code == 2


def test_duplicate_rule_id_across_files(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    (d / "zz-dup.yaml").write_text(
        "rules:\n  - id: readiness:declare\n    kind: readiness\n    patterns: [x]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="used twice") as info:
        load_rules(d)
    assert info.value.line == 2


def test_missing_folder() -> None:
    with pytest.raises(ConfigError):
        load_rules(Path("/nonexistent/rules"))
