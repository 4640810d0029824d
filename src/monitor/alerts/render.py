"""Alert text from the Jinja2 templates in CONFIG_DIR/alerts/ (operators may edit them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError

from monitor.errors import ConfigError
from monitor.match.quran import verse_text

MARK_OPEN, MARK_CLOSE = "«", "»"


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    keys: list[str]


def mark_spans(text: str, spans: list[list[Any]]) -> str:
    """The post text with each matched span in «guillemets» and its [kind rule] after it."""
    out, pos = [], 0
    for start, end, kind, rule, _ref in sorted(spans, key=lambda s: (s[0], -s[1])):
        if start < pos:  # overlapping spans: the first one marked wins
            continue
        out += [text[pos:start], MARK_OPEN, text[start:end], MARK_CLOSE, f" [{kind} {rule}]"]
        pos = end
    out.append(text[pos:])
    return "".join(out)


class Renderer:
    def __init__(self, config_dir: Path) -> None:
        folder = config_dir / "alerts"
        if not (folder / "title.txt.j2").is_file() or not (folder / "body.txt.j2").is_file():
            raise ConfigError(
                "alert templates title.txt.j2 and body.txt.j2 are missing", file=folder
            )
        env = Environment(
            loader=FileSystemLoader(folder),
            undefined=StrictUndefined,
            autoescape=False,  # plain text for mail, chat and webhooks, never HTML
            keep_trailing_newline=False,
        )
        try:
            self.title = env.get_template("title.txt.j2")
            self.body = env.get_template("body.txt.j2")
        except TemplateError as exc:
            raise ConfigError(
                f"template error: {exc}",
                file=getattr(exc, "filename", folder),
                line=getattr(exc, "lineno", None),
            ) from None

    def render(self, kind: str, rows: list[tuple[str, dict[str, Any]]]) -> Message:
        """``rows``: (dedup key, payload) of the outbox rows going out together."""
        alerts = []
        for key, payload in rows:
            a = dict(payload)
            a.setdefault("change", None)
            a.setdefault("echo", None)  # rows queued before #15 carry no cluster
            a["key"] = key
            a["marked"] = mark_spans(payload.get("text", ""), payload.get("spans", []))
            ocr = payload.get("ocr_text")
            a["ocr_marked"] = mark_spans(ocr, payload.get("ocr_spans", [])) if ocr else None
            a["verses"] = {ref: verse_text(ref) for ref in payload.get("refs", [])}
            alerts.append(a)
        rank = ["critical", "high", "medium", "low", "none"]
        alerts.sort(key=lambda a: rank.index(a.get("severity", "none")))
        ctx = {"alerts": alerts, "first": alerts[0], "kind": kind, "count": len(alerts)}
        try:
            title = self.title.render(ctx).strip()
            body = self.body.render(ctx).strip() + "\n"
        except TemplateError as exc:
            raise ConfigError(f"template error: {exc}", file="alerts/") from None
        return Message(title=" ".join(title.split()), body=body, keys=[k for k, _ in rows])
