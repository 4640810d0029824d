"""Bad input (issue #7): property tests of the matcher and of every file or page we parse.

tests/test_normalize.py already covers ``normalize`` alone (arbitrary text, spans, 100 KB);
here the whole matcher gets hostile text, and the readers get broken exports, broken config
files and broken preview pages. A bad input must give a clear error (a ConfigError naming the
file, a MarkupChanged naming the channel), never a traceback, and must not lose the good part.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.cli.channels import load_channels_yaml
from monitor.collect.export import ExportFormatError, read_export
from monitor.collect.records import PostRecord
from monitor.collect.source import MarkupChanged
from monitor.collect.web import parse_page
from monitor.config import load_settings
from monitor.errors import ConfigError
from monitor.match import Matcher, load_rules
from tests.conftest import CONFIG, SAMPLE
from tests.conftest_match import RULES_DIR, shared_matcher
from tests.telegram_preview import FIXTURES

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CUE = "ولا تهنوا ولا تحزنوا وأنتم الأعلون إن كنتم مؤمنين"
THREAT = "نعلن جاهزيتنا لقتال العدو الأمريكي في قاعدة عين الأسد"
HOSTILE = [
    "\ud800",  # lone surrogates
    "\udfff",
    "\u200f",  # RLM, LRM, ALM, bidi embeddings, overrides and isolates
    "\u200e",
    "\u061c",
    "\u202b",
    "\u202e",
    "\u202c",
    "\u2066",
    "\u2067",
    "\u2069",
    "\u200d",  # joiners, BOM
    "\u200c",
    "\ufeff",
    "\u0640" * 30,  # tatweel run
    "\u064e" * 200,  # a run of Arabic combining marks
    "\u0301" * 50,  # Latin combining marks
    "ﷲ",
    "ﷺ",
    "🔥",
    "\x00",
    "\r\n",
]


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.mktemp("quran-cache"))


def _spans_valid(text: str, m: Matcher) -> None:
    result = m.match(text)
    for s in result.signals:
        assert 0 <= s.start <= s.end <= len(text), s
        assert text[s.start : s.end] == s.matched, s


pieces = st.one_of(
    st.sampled_from(HOSTILE),
    st.sampled_from(CUE.split() + THREAT.split()),
    st.text(alphabet=st.characters(codec=None), max_size=20),
    st.just(" "),
)


@FUZZ
@given(st.lists(pieces, max_size=60))
def test_matcher_on_hostile_text_never_raises_and_spans_index_the_original(
    matcher: Matcher, parts: list[str]
) -> None:
    _spans_valid("".join(parts), matcher)


@FUZZ
@given(
    st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=8),
    st.randoms(use_true_random=False),
)
def test_cue_verse_sprinkled_with_controls_still_gives_valid_spans(
    matcher: Matcher, noise: list[str], rnd: random.Random
) -> None:
    words = CUE.split()
    for junk in noise:  # inside words and between them
        i = rnd.randrange(len(words))
        w = words[i]
        cut = rnd.randrange(len(w) + 1)
        words[i] = w[:cut] + junk + w[cut:]
    _spans_valid(" ".join(words) + " " + THREAT, matcher)


def test_hundred_kilobyte_posts(matcher: Matcher) -> None:
    for text in (
        (CUE + " \u202e") * 1500,  # ~ 80 K characters of cues and bidi overrides
        "\ud800\u064e" * 50_000,
        "ا" + "\u064e" * 100_000,
        ("x" * 99 + "\n") * 1000,
    ):
        _spans_valid(text, matcher)
    flagged = matcher.match((THREAT + " ") * 2000 + CUE)
    assert flagged.flagged and flagged.signals[-1].end <= len((THREAT + " ") * 2000 + CUE)


# --------------------------------------------------------------------------- exports

SAMPLE_BYTES = SAMPLE.read_bytes()
SAMPLE_RECORDS = [r for r in read_export(io.BytesIO(SAMPLE_BYTES)) if isinstance(r, PostRecord)]


def _read(data: bytes) -> tuple[list[PostRecord], ConfigError | None]:
    got: list[PostRecord] = []
    try:
        for item in read_export(io.BytesIO(data)):
            if isinstance(item, PostRecord):
                got.append(item)
    except ConfigError as exc:
        return got, exc
    return got, None


@FUZZ
@given(st.integers(min_value=0, max_value=len(SAMPLE_BYTES.rstrip()) - 1))
def test_truncated_export_keeps_every_whole_message_before_the_cut(cut: int) -> None:
    got, error = _read(SAMPLE_BYTES[:cut])
    assert error is not None  # a cut file is never taken for a whole one
    assert got == SAMPLE_RECORDS[: len(got)]  # what was read is exactly the file's beginning
    if isinstance(error, ExportFormatError) and error.messages_read:
        assert "broken JSON" in str(error)


@FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, len(SAMPLE_BYTES) - 1), st.binary(min_size=1, max_size=4)),
        min_size=1,
        max_size=5,
    )
)
def test_corrupted_export_is_read_or_refused_clearly(edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(SAMPLE_BYTES)
    for pos, junk in edits:
        data[pos : pos + len(junk)] = junk
    got, error = _read(bytes(data))
    first = min(pos for pos, _ in edits)
    # Messages that end before the first damaged byte come out unchanged.
    intact = [r for r in SAMPLE_RECORDS if _end_of(r.message_id) < first]
    assert got[: len(intact)] == intact
    if error is not None:
        assert str(error)


def _end_of(message_id: int) -> int:
    """Byte offset where the sample's message ``message_id`` ends (its closing brace)."""
    start = SAMPLE_BYTES.index(f'"id": {message_id},'.encode())
    nxt = SAMPLE_BYTES.find(b'"id": ', start + 1)
    return len(SAMPLE_BYTES) if nxt < 0 else nxt


# --------------------------------------------------------------------------- config files


def _mangle(text: str, rnd: random.Random, junk: str) -> str:
    lines = text.splitlines(keepends=True) or [""]
    how = rnd.randrange(4)
    i = rnd.randrange(len(lines))
    if how == 0:
        return text[: rnd.randrange(len(text) + 1)]  # truncated
    if how == 1:
        lines[i] = junk + "\n"  # a line replaced
    elif how == 2:
        del lines[i]  # a line lost
    else:
        pos = rnd.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:pos] + junk + lines[i][pos:]  # junk typed in
    return "".join(lines)


junk_text = st.one_of(
    st.sampled_from(
        [":", "- ", "  ", "\t", "{", "[", "]", "'", '"', "&a", "*a", "!!python/x", "%"]
    ),
    st.text(max_size=12),
)


def _clear(exc: ConfigError, path: Path) -> None:
    assert exc.file is not None and Path(exc.file).name == path.name, exc
    assert str(exc).startswith(str(exc.file)), exc


@FUZZ
@given(st.randoms(use_true_random=False), junk_text)
def test_broken_settings_yaml_is_a_config_error_naming_the_file(
    rnd: random.Random, junk: str
) -> None:
    original = (CONFIG / "settings.yaml").read_text("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "settings.yaml"
        path.write_text(_mangle(original, rnd, junk), "utf-8")
        try:
            load_settings(config_dir=Path(tmp))
        except ConfigError as exc:
            if exc.key and exc.key.startswith("environment variable"):
                return
            _clear(exc, path)
            assert exc.line is not None or "must be a mapping" in exc.message, exc


@FUZZ
@given(st.randoms(use_true_random=False), junk_text)
def test_broken_channels_yaml_is_a_config_error_naming_the_file(
    rnd: random.Random, junk: str
) -> None:
    original = (CONFIG / "channels.yaml").read_text("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "channels.yaml"
        path.write_text(_mangle(original, rnd, junk), "utf-8")
        try:
            load_channels_yaml(path)
        except ConfigError as exc:
            _clear(exc, path)


RULE_FILES = sorted(p.name for p in RULES_DIR.glob("*.yaml"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(RULE_FILES), st.randoms(use_true_random=False), junk_text)
def test_broken_rule_file_is_a_config_error_with_file_and_line(
    name: str, rnd: random.Random, junk: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules"
        shutil.copytree(RULES_DIR, rules)
        path = rules / name
        path.write_text(_mangle(path.read_text("utf-8"), rnd, junk), "utf-8")
        try:
            load_rules(rules)
        except ConfigError as exc:
            assert exc.file is not None, exc
            assert Path(exc.file).parent == rules, exc  # names the file at fault (or its peer)
            assert exc.line is not None, exc


# --------------------------------------------------------------------------- preview pages

PAGES = sorted(FIXTURES.glob("*.html"))


@FUZZ
@given(
    st.one_of(
        st.text(max_size=300),
        st.lists(
            st.sampled_from(
                [
                    "<div class='tgme_channel_history'>",
                    "<div class='tgme_widget_message' data-post='x/1'>",
                    "<div class='tgme_widget_message' data-post='/'>",
                    "<div class='tgme_widget_message' data-post='chan/99999999999999999999'>",
                    "<div class='tgme_widget_message_text'>",
                    "<time datetime='not a date'>",
                    "<time datetime='2024-01-01T00:00:00+00:00'>",
                    "<span class='tgme_widget_message_views'>1.2K</span>",
                    "<span class='tgme_widget_message_views'>9.9.9M</span>",
                    "<a class='tgme_widget_message_date' href='https://t.me/c/x'>",
                    "</div>",
                    "<br>",
                    "نعلن",
                    "\ud800",
                    "&#0;",
                    "<!--",
                ]
            ),
            max_size=40,
        ).map("".join),
    )
)
def test_random_preview_page_is_parsed_or_a_markup_error(html: str) -> None:
    try:
        page = parse_page(html, "chan")
    except MarkupChanged as exc:
        assert "@chan" in str(exc)
        return
    for rec in page.records:
        assert isinstance(rec.message_id, int) and isinstance(rec.text, str)


@FUZZ
@given(st.sampled_from(PAGES), st.randoms(use_true_random=False), junk_text)
def test_damaged_real_preview_page_is_parsed_or_a_markup_error(
    page: Path, rnd: random.Random, junk: str
) -> None:
    html = _mangle(page.read_text("utf-8"), rnd, junk)
    try:
        parse_page(html, "chan")
    except MarkupChanged as exc:
        assert "@chan" in str(exc)


def test_fixture_pages_exist() -> None:
    assert PAGES, FIXTURES
    assert json.dumps(RULE_FILES)
