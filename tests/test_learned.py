"""The learned second opinion (#12, match/learned.py): trained on the dev split only, read in
pure Python at match time, adding only the frame kinds the rules missed, never on its own word
on a news channel."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import ConfigError
from monitor.match import MatchContext, Matcher, load_rules, normalize
from monitor.match import learned as learned_mod
from monitor.match.learned import LearnedModel
from monitor.signals import Suppressed

from .conftest_match import RULES_DIR, shared_matcher

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "tests" / "eval" / "dev.jsonl"
MODEL = RULES_DIR / "learned.json"
# Written for these tests, in no eval split: a threat the rule files do not word ("you will
# pay the price of every drop of blood"), and a pledge of readiness to the leader.
THREAT = "ستدفعون ثمن كل قطرة دم سالت على أرضنا"
READY = "بأمرك يا سيدنا، الشباب كلهم حاضرين"


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


@pytest.fixture(scope="module")
def rules_only(matcher: Matcher, tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    # Same rule version, so the compiled rules come from the shared cache.
    rules = dataclasses.replace(matcher.rules, learned=None)
    return Matcher(rules, cache_dir=tmp_path_factory.getbasetemp() / "match-cache")


def _model() -> LearnedModel:
    model = load_rules(RULES_DIR).learned
    assert model is not None
    return model


def _dev() -> list[dict[str, Any]]:
    return [json.loads(x) for x in DEV.read_text(encoding="utf-8").splitlines() if x.strip()]


def test_a_threat_the_rules_do_not_word_is_flagged_with_its_span(
    matcher: Matcher, rules_only: Matcher
) -> None:
    assert not rules_only.match(THREAT).flagged
    result = matcher.match(THREAT, MatchContext(channel_kind="group"))
    assert result.flagged
    (sig,) = [s for s in result.signals if s.rule == "threat:learned"]
    assert sig.kind == "threat"
    assert THREAT[sig.start : sig.end] == sig.matched
    assert "ستدفعون" in sig.matched
    assert 0.7 <= sig.score <= 1.0
    assert any("learned model p=" in line and "dev.jsonl" in line for line in result.explanation)


def test_readiness_pledged_in_dialect(matcher: Matcher, rules_only: Matcher) -> None:
    assert not rules_only.match(READY).flagged
    result = matcher.match(READY)
    assert result.flagged
    assert [s.kind for s in result.signals if s.rule.endswith(":learned")] == ["readiness"]


def test_spans_index_the_original_text_through_obfuscation(matcher: Matcher) -> None:
    text = "🔻 ستـــدفعون ثمـ.ـن كل قطرة دم سالت على أرضنا\u200f!!"
    result = matcher.match(text)
    assert result.flagged
    for sig in result.signals:
        assert text[sig.start : sig.end] == sig.matched


def test_a_news_channel_reporting_it_is_not_flagged(matcher: Matcher) -> None:
    result = matcher.match(THREAT, MatchContext(channel_kind="news"))
    assert not result.flagged
    # Shown to the analyst, not counted.
    assert [s.rule for s in result.signals] == ["threat:learned"]
    assert any("news channel" in line and "threat:learned" in line for line in result.explanation)


def test_it_adds_no_kind_the_rules_found_and_nothing_to_everyday_posts(matcher: Matcher) -> None:
    found = matcher.match("نحذر قوات الاحتلال الأمريكي: ستدفعون ثمن كل قطرة دم سالت على أرضنا")
    assert "threat" in {s.kind for s in found.signals}
    assert not [s for s in found.signals if s.rule.endswith(":learned")]
    for text in (
        "وزارة الصحة تعلن افتتاح مستشفى جديد في البصرة",
        "مباراة حماسية بين الزوراء والشرطة انتهت بالتعادل",
        "The ministry announced new electricity schedules for the summer",
    ):
        assert matcher.match(text).signals == []


def test_an_analyst_suppression_silences_it(matcher: Matcher) -> None:
    ctx = MatchContext(suppressed=(Suppressed("ستدفعون ثمن", rule="threat:learned"),))
    result = matcher.match(THREAT, ctx)
    assert not result.flagged
    assert result.signals == []


def test_packed_sums_are_the_models_arithmetic() -> None:
    # The packed integers are a speed-up only: the probabilities are those of the floats.
    model = _model()
    worst = 0.0
    for post in _dev()[:300]:
        toks = normalize(post["text"]).text.split(" ")
        toks = [t for t in toks if t][: learned_mod.MAX_WORDS]
        rows = [model.word_scores(t) for t in toks]
        scale = 1 / math.sqrt(max(1, len(rows)))
        want = [
            1 / (1 + math.exp(-(b + scale * sum(r[i] for r in rows))))
            for i, b in enumerate(model.bias)
        ]
        got = model.probabilities(toks)
        worst = max(worst, *(abs(a - b) for a, b in zip(got, want, strict=True)))
    assert worst < 1e-4


def test_the_committed_model_is_what_the_script_trains_on_the_dev_split() -> None:
    pytest.importorskip("sklearn", reason="scikit-learn is in the test extra")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import train_learned
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    posts = train_learned.training_set(_dev())
    assert 0 < len(_dev()) - len(posts) < 20  # verses and formulas both splits hold
    vec, models = train_learned.train(posts)
    doc = train_learned.to_json(vec, models, "tests/eval/dev.jsonl")
    committed = json.loads(MODEL.read_text(encoding="utf-8"))
    assert committed["trained_on"] == "tests/eval/dev.jsonl"
    assert committed["kinds"] == doc["kinds"]
    assert committed["threshold"] == doc["threshold"]
    assert set(committed["weights"]) == set(doc["weights"])
    for a, b in zip(committed["bias"], doc["bias"], strict=True):
        assert abs(a - b) < 2e-3
    drift = max(
        abs(a - b)
        for g, ws in doc["weights"].items()
        for a, b in zip(ws, committed["weights"][g], strict=True)
    )
    assert drift < 2e-3
    # And what scikit-learn computes from its own features is what matching computes.
    model = _model()
    sample = posts[::7]
    x = train_learned.matrix(vec, sample, fit=False)
    for i, m in enumerate(models):
        sk = m.predict_proba(x)[:, 1]
        for post, p in zip(sample, sk, strict=True):
            toks = normalize(post["text"]).text.split(" ")
            assert abs(model.probabilities(toks)[i] - p) < 5e-3, post["id"]


def test_the_script_refuses_the_test_split(tmp_path: Path) -> None:
    pytest.importorskip("sklearn", reason="scikit-learn is in the test extra")
    import subprocess

    # Renamed and mixed into dev posts, it is still the test split.
    renamed = tmp_path / "more_dev.jsonl"
    held_out = (ROOT / "tests" / "eval" / "test.jsonl").read_text(encoding="utf-8")
    renamed.write_text(DEV.read_text(encoding="utf-8") + held_out.splitlines()[5] + "\n")
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "train_learned.py"),
            "--eval",
            str(renamed),
            "--out",
            str(tmp_path / "m.json"),
        ],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert proc.returncode == 2
    assert "test split" in proc.stderr
    assert not (tmp_path / "m.json").exists()


def test_a_retrained_model_is_a_new_rule_version(tmp_path: Path) -> None:
    # Which is what makes `monitor rematch` apply it to stored posts.
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    before = load_rules(rules).version
    doc = json.loads((rules / "learned.json").read_text(encoding="utf-8"))
    doc["threshold"] = 0.8
    (rules / "learned.json").write_text(json.dumps(doc), encoding="utf-8")
    assert load_rules(rules).version != before
    (rules / "learned.json").unlink()
    plain = load_rules(rules)
    assert plain.learned is None
    assert plain.version != before


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(kinds=["threat", "bogus", "readiness", "allegiance"]), "'bogus'"),
        (lambda d: d.update(threshold=0.2), "threshold"),
        (lambda d: d.update(bias=[0.0]), "bias"),
        (lambda d: d.update(format=9), "format"),
        (lambda d: d["weights"].update({" سن": [1, 2]}), "weights[' سن']"),
        (lambda d: d["weights"].update({" سن": [99, 0, 0, 0]}), "within"),
        (lambda d: d["weights"].update({" سن": ["x", 0, 0, 0]}), "4 numbers"),
        (lambda d: d["weights"].update({" سن": [10**400, 0, 0, 0]}), "4 numbers"),
        (lambda d: d["weights"].update({"": [0, 0, 0, 0]}), "no n-gram"),
        (lambda d: d.update(kinds=["threat", "target", "readiness", "allegiance"]), "target"),
        (lambda d: d.update(kinds=["threat", "threat", "readiness", "allegiance"]), "once"),
        (lambda d: d.update(bias=[1e308, 0, 0, 0]), "bias"),
        (lambda d: d.update(format=True), "format"),
        (lambda d: d.update(weights={}), "weights"),
        (lambda d: d.update(trained_on=7), "trained_on"),
    ],
)
def test_a_malformed_model_names_the_file_and_field(
    tmp_path: Path, edit: Any, message: str
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    doc = json.loads((rules / "learned.json").read_text(encoding="utf-8"))
    edit(doc)
    (rules / "learned.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_rules(rules)
    assert "learned.json" in str(err.value)
    assert message in str(err.value)


@pytest.mark.parametrize(
    "data", [b"{not json", b'{"format": ' + b"9" * 5000 + b"}", b"[" * 100_000, b"\xff\xfe"]
)
def test_a_model_that_is_not_json_is_refused(tmp_path: Path, data: bytes) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    (rules / "learned.json").write_bytes(data)
    with pytest.raises(ConfigError, match=r"learned\.json.*not a JSON model"):
        load_rules(rules)


def test_a_model_path_that_is_no_file_is_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    (rules / "learned.json").unlink()
    (rules / "learned.json").mkdir()
    with pytest.raises(ConfigError, match=r"learned\.json.*not a file"):
        load_rules(rules)


def test_hostile_streams_cannot_grow_its_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(learned_mod, "_CACHE_WORDS", 500)
    model = _model()
    for i in range(40):
        toks = [f"كلمة{i}x{j}" for j in range(100)]
        model.probabilities(toks)
        assert len(model._packed) <= 500
    # A post longer than a Telegram message is read up to MAX_WORDS words, and a "word" of
    # thousands of letters weighs nothing, is not remembered, and costs no n-gram list.
    long_word = "سنرد" * 5000
    probs = model.probabilities([long_word] * (learned_mod.MAX_WORDS + 500))
    assert probs == model.probabilities([])
    assert long_word not in model._packed


def test_a_blob_of_threat_letters_does_not_flag(matcher: Matcher) -> None:
    # Summed over its n-grams, one 1 000-letter token outweighed any sentence (p = 1.0).
    text = "الله " + "ستدفعون" * 150 + " اكبر"
    assert not [s for s in matcher.match(text).signals if s.rule.endswith(":learned")]


def test_threads_sharing_the_model_get_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    import random
    import threading

    monkeypatch.setattr(learned_mod, "_CACHE_WORDS", 200)
    model = _model()
    rng = random.Random(5)
    posts = [
        normalize(p["text"]).text.split(" ")
        + ["".join(rng.choice("ابتثجحخدذرزسش") for _ in range(6)) for _ in range(30)]
        for p in _dev()[:150]
    ]
    want = [model.probabilities(t) for t in posts]
    errors: list[BaseException] = []
    got: dict[int, list[tuple[float, ...]]] = {}

    def work(k: int) -> None:
        try:
            got[k] = [model.probabilities(t) for t in posts]
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(got[k] == want for k in range(6))


def test_it_defers_to_the_rules_everyday_senses_and_says_so(matcher: Matcher) -> None:
    # A TV promo is a threat to the model; the rules know "episode" is not one (their
    # excludes), and the analyst is told why the model's opinion was set aside.
    result = matcher.match("الحلقة القادمة أقوى، انتظرونا")
    assert not result.flagged and result.signals == []
    assert any("threat:learned set aside" in line for line in result.explanation)
    assert not matcher.match("Leave the stadium early or you will miss the bus").flagged


def test_a_fragment_and_an_image_are_left_to_the_rules(matcher: Matcher) -> None:
    assert not [s for s in matcher.match("إشارة القائد").signals if s.rule.endswith(":learned")]
    read = matcher.match("بيان", ocr=THREAT)
    assert not [s for s in read.signals if s.rule.endswith(":learned")]


def test_a_long_text_is_read_in_windows(matcher: Matcher) -> None:
    # No report word ("sources said") in it: the model defers to those (deference.py).
    digest = (
        "عقد مجلس المحافظة اجتماعا لمناقشة الخطة الاستثمارية للعام المقبل وتوزيع المشاريع. "
        "انطلاق الزيارة الأربعينية وسط إجراءات خدمية مكثفة على طريق كربلاء. "
    ) * 20
    assert len(digest.split()) > 300
    assert matcher.match(digest).signals == []
    text = digest + THREAT + " " + digest[:400]
    result = matcher.match(text)
    (sig,) = [s for s in result.signals if s.rule == "threat:learned"]
    assert text[sig.start : sig.end] == sig.matched
    assert sig.start >= len(digest) and "ستدفعون" in sig.matched
