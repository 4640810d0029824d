from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.match import normalize


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("يأيها الذين", "يا أيها الذين"),
        ("ياأيها الذين", "يا أيها الذين"),
        ("يَٰٓأَيُّهَا ٱلَّذِينَ", "يا أيها الذين"),
        ("الصَّلَاةُ", "الصلاة"),
        ("جاهـــــزون", "جاهزون"),
        ("أإآٱ", "اااا"),
        ("مستشفى", "مستشفي"),
        ("مدرسة", "مدرسه"),
        ("ی ک ھ ہ گ", "ي ك ه ه ك"),
        ("١٢٣ ۴۵۶", "123 456"),
        ("ﷲ", "الله"),
        ("\u200fالله\u200d", "الله"),
        ("WE ARE Ready", "we are ready"),
        ("ءامنوا", "آمنوا"),
        ("سؤال مسائل", "سوال مسايل"),
    ],
)
def test_equivalent_spellings_fold_together(a: str, b: str) -> None:
    assert normalize(a).text == normalize(b).text


def test_basmala_ligature_expands() -> None:
    assert normalize("﷽").text == "بسم الله الرحمن الرحيم"


def test_punctuation_emoji_hashtags_become_single_spaces() -> None:
    assert normalize("  🔥جاهزون!!  #نعلن_جاهزيتنا…  ").text == "جاهزون نعلن جاهزيتنا"


def test_span_maps_back_with_harakat_and_tatweel() -> None:
    original = "قال: وَأَنتُمُ الْأَعْلَــوْنَ!"
    n = normalize(original)
    i = n.text.index("الاعلون")
    start, end = n.to_original(i, i + len("الاعلون"))
    assert original[start:end] == "الْأَعْلَــوْنَ"


def test_span_over_ligature_covers_whole_ligature() -> None:
    original = "قال ﷲ تعالى"
    n = normalize(original)
    i = n.text.index("الله")
    start, end = n.to_original(i + 1, i + 3)
    assert original[start:end] == "ﷲ"


def test_span_over_joined_vocative() -> None:
    original = "يا   أيها الناس"
    n = normalize(original)
    assert n.text.startswith("يايها")
    assert n.to_original(0, len("يايها")) == (0, len("يا   أيها"))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None), max_size=200))
def test_never_raises_and_spans_are_valid(text: str) -> None:
    n = normalize(text)
    assert isinstance(n.text, str)
    for a in range(0, len(n.text) + 1, 7):
        for b in (a, a + 1, a + 5, len(n.text)):
            s, e = n.to_original(a, b)
            assert 0 <= s <= e <= len(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["قال", "وَأَنتُمُ", "ــ", "\u064e\u0651", "🔥", " ", "يا", "أيها", "ﷲ", "x"]),
        max_size=40,
    )
)
def test_each_folded_word_maps_to_original_text(parts: list[str]) -> None:
    text = "".join(parts)
    n = normalize(text)
    pos = 0
    for word in n.text.split(" "):
        if not word:
            continue
        s, e = n.to_original(pos, pos + len(word))
        assert normalize(text[s:e]).text.replace(" ", "") != "" or word == ""
        pos += len(word) + 1


def test_huge_and_odd_inputs() -> None:
    assert normalize("\ud800\udfff" * 10).text == ""
    big = "نعلن جاهزيتنا " * 8000  # ~110 KB
    assert len(normalize(big).text) > 100_000
    combining = "ا" + "\u064e" * 5000
    n = normalize(combining)
    assert n.text == "ا"
    assert n.to_original(0, 1) == (0, len(combining))
