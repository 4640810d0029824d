"""Finding the batch entry that holds a post's first version (#17)."""

from __future__ import annotations

import pytest

from monitor.evidence import batches
from monitor.evidence.batches import BadBatch, covering_batch, line_of, parse_batch
from monitor.evidence.canonical import batch_lines, payload_sha256
from monitor.evidence.chain import Item, append
from tests.conftest import Database

SHA = "ab" * 32


def _batch(handle: str, posts: list[int]) -> Item:
    lines = batch_lines([(f"{handle}/{p * 10}/version/{p}", SHA) for p in posts])
    return Item(
        "batch",
        f"{handle}/{posts[0] * 10}/batch/{posts[0]}",
        payload_sha256(lines),
        posts[0],
        lines,
    )


def test_each_post_is_found_in_its_own_batch_even_when_batches_interleave(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL can number two concurrent batches' posts in turns: 1 and 5 in one, 2–4 in
    # the other; another channel's batch in between.
    with db.sessions.begin() as s:
        append(s, [_batch("chan_a", [1, 5])])
        append(s, [_batch("chan_b", [3])])
        append(s, [_batch("chan_a", [2, 4])])
    for near in (64, 1):  # 1: the first candidates miss, the search goes on past them
        monkeypatch.setattr(batches, "NEAR", near)
        with db.sessions() as s:
            found = {p: covering_batch(s, "chan_a", p * 10, p).subject for p in (1, 2, 4, 5)}
            assert covering_batch(s, "chan_a", 30, 3) is None  # chan_b's post
            assert covering_batch(s, "chan_b", 30, 3) is not None
        assert found == {
            1: "chan_a/10/batch/1",
            5: "chan_a/10/batch/1",
            2: "chan_a/20/batch/2",
            4: "chan_a/20/batch/2",
        }


def test_a_line_is_matched_whole_not_as_the_end_of_another_subject() -> None:
    text = batch_lines([("xchan/1/version/1", SHA), ("chan/1/version/1", "cd" * 32)])
    assert line_of(text, "chan/1/version/1") == "cd" * 32
    assert line_of(text, "chan/1/version/11") is None
    assert parse_batch(text)[1] == ("chan/1/version/1", "cd" * 32)


@pytest.mark.parametrize(
    "bad",
    ["chan/1/version/1 " + SHA, "chan/1/media/1 " + SHA + "\n", "chan/1/version/1 XYZ\n", "\n"],
)
def test_a_malformed_record_is_refused(bad: str) -> None:
    with pytest.raises(BadBatch):
        parse_batch(bad)
