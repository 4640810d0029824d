"""Reading Telegram Desktop channel exports: fields, bad records, bad files, memory."""

from __future__ import annotations

import hashlib
import io
import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.collect.export import (
    ExportChannel,
    ExportFormatError,
    Rejected,
    open_export,
    read_export,
)
from monitor.collect.export_message import message_to_record
from monitor.collect.records import ForwardInfo, MediaInfo, PostRecord
from monitor.errors import ConfigError, RecordError

SAMPLE = Path(__file__).resolve().parents[1] / "config" / "sample"


def read_all(data: bytes | dict[str, Any], **kwargs: Any) -> list[PostRecord | Rejected]:
    raw = json.dumps(data, ensure_ascii=False).encode() if isinstance(data, dict) else data
    return list(read_export(io.BytesIO(raw), **kwargs))


def export(*messages: object) -> dict[str, Any]:
    return {"name": "Test", "type": "public_channel", "id": 42, "messages": list(messages)}


def message(mid: object = 1, **fields: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"id": mid, "type": "message", "date_unixtime": "1698800000", "text": "x"}
    msg.update(fields)
    return msg


@pytest.fixture(scope="module")
def sample() -> dict[int, PostRecord]:
    channels: list[ExportChannel] = []
    with open_export(SAMPLE) as fp:
        items = list(read_export(fp, on_channel=channels.append, media_root=SAMPLE))
    assert channels == [
        ExportChannel(
            name="Sarayat al-Fajr al-Mawood | سرايا الفجر الموعود",
            type="public_channel",
            id=1900000001,
        )
    ]
    assert not [i for i in items if isinstance(i, Rejected)]
    records = {r.message_id: r for r in items if isinstance(r, PostRecord)}
    assert len(records) == len(items)
    return records


# --------------------------------------------------------------------------- the sample


def test_sample_yields_every_post_and_skips_service_messages(sample: dict[int, PostRecord]) -> None:
    raw = json.loads((SAMPLE / "result.json").read_text("utf-8"))["messages"]
    posts = [m["id"] for m in raw if m["type"] == "message"]
    services = [m["id"] for m in raw if m["type"] == "service"]
    assert list(sample) == posts
    assert services and not set(services) & set(sample)


def test_sample_records_are_utc_export_records(sample: dict[int, PostRecord]) -> None:
    for record in sample.values():
        assert record.source == "export"
        assert record.date.utcoffset() == timedelta(0)
        assert record.edited_at is None or record.edited_at.utcoffset() == timedelta(0)
        assert record.views is None and record.forwards is None


def test_unixtime_wins_over_local_date(sample: dict[int, PostRecord]) -> None:
    # The export says 07:02 Baghdad time; the real instant is 04:02 UTC.
    assert sample[3301].date == datetime(2023, 10, 30, 4, 2, 11, tzinfo=UTC)


def test_local_date_without_unixtime_is_read_as_utc(sample: dict[int, PostRecord]) -> None:
    assert sample[3344].date == datetime(2023, 11, 3, 11, 27, 54, tzinfo=UTC)
    assert sample[3344].text.startswith("رسالتنا للاحتلال الأمريكي")


def test_sample_entity_text_and_edit(sample: dict[int, PostRecord]) -> None:
    post = sample[3307]
    assert post.text == (
        "﴿ نَصْرٌ مِّنَ اللَّهِ وَفَتْحٌ قَرِيبٌ ﴾ 🔥✌️\n#المقاومة_الإسلامية_في_العراق #طوفان_الأقصى"
    )
    assert post.edited_at == datetime(2023, 10, 30, 17, 51, 10, tzinfo=UTC)


def test_sample_link_text_keeps_visible_words_not_href(sample: dict[int, PostRecord]) -> None:
    text = sample[3334].text
    assert text.startswith("بالفيديو | لحظة استهداف قاعدة حرير التي")
    assert text.endswith("\nالمصدر")
    assert "https://" not in text


def test_sample_forwards_and_replies(sample: dict[int, PostRecord]) -> None:
    assert sample[3320].forwarded_from == ForwardInfo(
        channel="1900000011", message_id=None, name="قيس الخزعلي"
    )
    assert sample[3320].text.startswith("﴿ وَلَا تَهِنُوا وَلَا تَحْزَنُوا")
    assert sample[3322].text == (
        "قررت المقاومة الإسلامية في العراق تحرير العراق عسكرياً، وقد حُسم الأمر، والقادم أعظم"
    )
    assert sample[3323].reply_to == 3322
    assert sample[3332].reply_to == 3330
    assert sample[3301].forwarded_from is None and sample[3301].reply_to is None


def test_sample_media(sample: dict[int, PostRecord]) -> None:
    assert sample[3306].text == ""
    assert sample[3306].media == MediaInfo(type="photo", mime="image/jpeg", size=96412)
    assert sample[3334].media == MediaInfo(
        type="video", mime="video/mp4", size=5242880, duration=27.0
    )
    assert sample[3314].media == MediaInfo(
        type="voice", mime="audio/ogg", size=1843200, duration=412.0
    )
    assert sample[3342].media is not None and sample[3342].media.type == "audio"
    assert sample[3338].media is not None and sample[3338].media.type == "sticker"
    assert sample[3301].media is None


def test_sample_document_hash_only_when_file_is_in_the_export(
    sample: dict[int, PostRecord],
) -> None:
    content = (SAMPLE / "files" / "bayan_2023-11-02.txt").read_bytes()
    assert sample[3335].media == MediaInfo(
        type="document",
        mime="text/plain",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    # Media left out of the export ("File not included") get no hash.
    assert sample[3334].media is not None and sample[3334].media.sha256 is None
    # Without a media root nothing is hashed.
    with open_export(SAMPLE / "result.json") as fp:
        doc = next(r for r in read_export(fp) if isinstance(r, PostRecord) and r.message_id == 3335)
    assert doc.media is not None and doc.media.sha256 is None


def test_expected_file_names_real_posts(sample: dict[int, PostRecord]) -> None:
    expected = json.loads((SAMPLE / "expected.json").read_text("utf-8"))
    assert {int(k) for k in expected} <= set(sample)
    assert {e["flagged"] for e in expected.values()} == {True, False}


# --------------------------------------------------------------------------- one message


def test_entity_list_text_is_concatenated() -> None:
    msg = message(
        text=[
            "قال ",
            {"type": "bold", "text": "القائد"},
            ": ",
            {"type": "text_link", "text": "البيان", "href": "https://example.org/x"},
            " ",
            {"type": "hashtag", "text": "#القادم_أعظم"},
        ]
    )
    record = message_to_record(msg)
    assert record is not None
    assert record.text == "قال القائد: البيان #القادم_أعظم"


def test_text_entities_fill_in_when_text_is_absent() -> None:
    msg = message(text_entities=[{"type": "plain", "text": "a"}, {"type": "bold", "text": "b"}])
    del msg["text"]
    record = message_to_record(msg)
    assert record is not None and record.text == "ab"


def test_text_wins_when_text_entities_disagree() -> None:
    record = message_to_record(
        message(text="edited", text_entities=[{"type": "plain", "text": "x"}])
    )
    assert record is not None and record.text == "edited"


@given(st.lists(st.one_of(st.text(), st.builds(lambda t: {"type": "bold", "text": t}, st.text()))))
def test_any_mix_of_strings_and_entities_concatenates_in_order(pieces: list[Any]) -> None:
    record = message_to_record(message(text=pieces))
    assert record is not None
    assert record.text == "".join(p if isinstance(p, str) else p["text"] for p in pieces)


def test_service_message_is_skipped() -> None:
    assert message_to_record({"id": 5, "type": "service", "action": "pin_message"}) is None
    assert read_all(export({"id": 5, "type": "service", "text": ""}, message(6))) == [
        message_to_record(message(6))
    ]


def test_iso_date_with_offset_is_converted_to_utc() -> None:
    msg = message(date="2023-11-01T04:00:00+03:00")
    del msg["date_unixtime"]
    record = message_to_record(msg)
    assert record is not None and record.date == datetime(2023, 11, 1, 1, 0, tzinfo=UTC)


def test_forward_from_a_user_keeps_the_peer_id() -> None:
    record = message_to_record(message(forwarded_from="Someone", forwarded_from_id="user777"))
    assert record is not None
    assert record.forwarded_from == ForwardInfo(channel="user777", message_id=None, name="Someone")


def test_file_without_media_type_is_a_document() -> None:
    record = message_to_record(message(file="files/a.pdf", mime_type="application/pdf"))
    assert record is not None
    assert record.media == MediaInfo(type="document", mime="application/pdf")


def test_media_path_outside_the_export_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "secret").write_bytes(b"s")
    root = tmp_path / "export"
    root.mkdir()
    record = message_to_record(message(file="../secret"), media_root=root)
    assert record is not None and record.media is not None and record.media.sha256 is None


@pytest.mark.parametrize(
    ("msg", "reason"),
    [
        (message(mid=None), "positive integer"),
        (message(mid="12"), "positive integer"),
        (message(mid=True), "positive integer"),
        (message(mid=1.5), "positive integer"),
        (message(date_unixtime="soon"), "date_unixtime"),
        (message(date_unixtime=10**20), "date_unixtime"),
        ({"id": 3, "type": "message", "text": ""}, "no 'date_unixtime' or 'date'"),
        ({"id": 3, "date": "1 Nov", "text": ""}, "'date' is not an ISO 8601 date"),
        (message(edited_unixtime="x"), "edited_unixtime"),
        (message(text=42), "'text' must be a string or list"),
        (message(text=["a", {"type": "bold"}]), "'text' item 1"),
        (message(text_entities="x"), "'text_entities' must be a list"),
        (message(reply_to_message_id="9"), "reply_to_message_id"),
        (message(forwarded_from=7), "forwarded_from"),
        (message(file="v.mp4", duration_seconds="long"), "duration_seconds"),
        (message(photo="p.jpg", photo_file_size=-1), "photo_file_size"),
        (message(type="poll_result"), "unknown message type"),
    ],
)
def test_malformed_message_raises_record_error(msg: dict[str, Any], reason: str) -> None:
    with pytest.raises(RecordError, match=reason) as info:
        message_to_record(msg)
    if isinstance(msg.get("id"), int) and not isinstance(msg["id"], bool):
        assert info.value.record_id == msg["id"]


def test_message_must_be_an_object() -> None:
    with pytest.raises(RecordError, match="not a JSON object"):
        message_to_record(["not", "a", "message"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the stream


def test_bad_messages_are_reported_and_the_rest_still_read() -> None:
    with open_export(SAMPLE / "bad_result.json") as fp:
        items = list(read_export(fp))
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert [(r.message_id, r.index) for r in rejected] == [("4102x", 1), (4104, 3), (4106, 5)]
    assert "date_unixtime" in rejected[1].reason and "'text'" in rejected[2].reason
    assert [i.message_id for i in items if isinstance(i, PostRecord)] == [4101, 4103, 4107]


def test_non_object_message_is_rejected_with_its_position() -> None:
    items = read_all(export(message(1), "junk", message(2)))
    bad = items[1]
    assert isinstance(bad, Rejected) and (bad.message_id, bad.index) == (None, 1)
    assert "not a JSON object" in bad.reason
    assert [i.message_id for i in items if isinstance(i, PostRecord)] == [1, 2]


def test_channel_header_is_announced_before_the_first_record() -> None:
    seen: list[object] = []
    for item in read_export(
        io.BytesIO(json.dumps(export(message(1), message(2))).encode()), on_channel=seen.append
    ):
        seen.append(item)
    assert seen[0] == ExportChannel(name="Test", type="public_channel", id=42)
    assert len(seen) == 3


def test_empty_channel_still_announces_its_header() -> None:
    seen: list[ExportChannel] = []
    assert read_all(export(), on_channel=seen.append) == []
    assert seen == [ExportChannel(name="Test", type="public_channel", id=42)]


def test_json_broken_part_way_keeps_what_was_read_and_says_where() -> None:
    good = json.dumps(export(message(1), message(2)))
    broken = good[: good.rindex("]")] + ', {"id": 3, "text": "x" "oops"}]}'
    got: list[PostRecord | Rejected] = []
    with pytest.raises(ExportFormatError) as info:
        got.extend(read_export(io.BytesIO(broken.encode())))
    assert got == [message_to_record(message(1)), message_to_record(message(2))]
    assert isinstance(info.value, ConfigError) and info.value.exit_code == 2
    assert info.value.messages_read == 2
    assert "broken JSON" in str(info.value) and "byte" in str(info.value)


def test_truncated_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(export(message(1)))[:-10], "utf-8")
    with pytest.raises(ExportFormatError, match=r"result\.json") as info, open_export(path) as fp:
        list(read_export(fp))
    assert info.value.file == str(path)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "empty or not JSON"),
        (b"this is not json", "empty or not JSON"),
        (b'[{"id": 1}]', "top level is not a JSON object"),
        (b'{"id": 1, "text": "a JSONL post?"}', "no 'messages' list"),
        (b'{"name": "x", "messages": {"id": 1}}', "'messages' is not a list"),
        (b'{"about": "x", "chats": {"list": []}}', "whole-account export"),
    ],
)
def test_not_a_channel_export_is_a_config_error(content: bytes, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        read_all(content)


def test_byte_order_mark_is_tolerated() -> None:
    items = read_all(b"\xef\xbb\xbf" + json.dumps(export(message(1))).encode())
    assert items == [message_to_record(message(1))]


# --------------------------------------------------------------------------- opening files


def test_open_export_accepts_the_folder_or_the_file() -> None:
    for path in (SAMPLE, SAMPLE / "result.json"):
        with open_export(path) as fp:
            assert sum(1 for _ in read_export(fp)) == 46


def test_missing_export_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.json"), open_export(tmp_path / "nope.json"):
        pass
    with pytest.raises(ConfigError, match=r"result\.json") as info, open_export(tmp_path):
        pass
    assert info.value.file == str(tmp_path / "result.json")


# --------------------------------------------------------------------------- streaming


def test_large_export_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    # Long statements rather than hundreds of thousands of short posts: what must stay bounded is
    # memory against file size, and tracemalloc makes every allocation slow.
    count = 40_000
    body = "بيان المقاومة الإسلامية في العراق: نعلن جاهزيتنا والقادم أعظم. " * 5
    path = tmp_path / "result.json"
    start = int(datetime(2023, 10, 1, tzinfo=UTC).timestamp())
    line = (
        ' {{"id": {i}, "type": "message", "date": "2023-10-01T00:00:00", '
        '"date_unixtime": "{t}", "from": "Big", "from_id": "channel1", '
        '"text": ["{body}{i} ", {{"type": "bold", "text": "#القادم_أعظم"}}], '
        '"text_entities": [{{"type": "plain", "text": "{body}{i} "}}, '
        '{{"type": "hashtag", "text": "#القادم_أعظم"}}]}}'
    )
    with path.open("w", encoding="utf-8") as fh:
        fh.write('{"name": "Big", "type": "public_channel", "id": 1, "messages": [\n')
        fh.write(",\n".join(line.format(i=i, t=start + i, body=body) for i in range(1, count + 1)))
        fh.write("\n]}\n")
    size = path.stat().st_size
    assert size > 50_000_000

    tracemalloc.start()
    try:
        seen = 0
        last: PostRecord | None = None
        with open_export(path) as fp:
            for item in read_export(fp):
                assert isinstance(item, PostRecord)
                seen += 1
                last = item
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == count and last is not None and last.message_id == count
    assert last.text == f"{body}{count} #القادم_أعظم"
    assert peak < 1_000_000, f"peak {peak} bytes while reading a {size}-byte export"
