"""The queue query: filters, sort orders and keyset cursors, shared by the page and the export.

Pages are keyset-paginated (never OFFSET), each sort order walking an index:
``severity`` walks ix_matches_flagged_severity (flagged, severity_rank, score, post_id) — within
one severity the highest score first (#14: 100 above 85), then the most recently collected —,
``newest`` walks ix_posts_date_id.

The review filter defaults to "unreviewed" on the flagged queue (#14: what is left to do);
``state=all`` shows every state. A search (all posts) and the export default to every state.
``group=-`` keeps the posts of channels in no group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from monitor.match.rules import KINDS
from monitor.match.severity import SEVERITIES as ALL_SEVERITIES
from monitor.store.models import REVIEW_DECISIONS, Channel, Group, Match, Post, Review, SignalRow
from monitor.store.search import match_clause, query_terms
from monitor.web.cursors import decode_cursor, encode_cursor, parse_cursor
from monitor.web.latest import fixed_limit, latest_assignee, latest_decision
from monitor.web.params import parse_day, parse_id

SEVERITIES = ALL_SEVERITIES[1:]  # what a flag can be: "none" never reaches the queue
SEVERITY_RANK = {name: rank for rank, name in enumerate(ALL_SEVERITIES)}
DECISIONS = REVIEW_DECISIONS
STATES = ("unreviewed", *DECISIONS)
ALL_STATES = "all"  # the review filter's "any state": sent explicitly, no value is the default
NO_GROUP = "-"  # group=-: the posts of channels in no group (the overview's "(no group)", #14)
SORTS = ("severity", "newest", "recent")
PAGE = 50
EXCERPT = 400  # characters of a post shown in its queue row


@dataclass(frozen=True)
class QueueQuery:
    q: str = ""
    severity: str = ""  # the minimum severity shown
    kind: str = ""
    group: int | str | None = None  # a group's id, or NO_GROUP
    channel: int | None = None
    state: str = ""  # "" every state; "unreviewed" or a decision
    since: date | None = None
    until: date | None = None  # inclusive
    sort: str = "severity"
    scope: str = ""  # "flagged" or "all"; a search covers all posts unless told otherwise
    mine: bool = False
    after: str = ""

    @classmethod
    def parse(cls, p: Mapping[str, str], *, queue_default: bool = False) -> QueueQuery:
        """Lenient with choices (an unknown severity or sort is dropped rather than failing
        the page); strict with numbers and dates, which are answered 400 naming the parameter
        when they are not usable (#11: they reached the database and failed there).

        ``queue_default``: the page's reading, where no review state on the flagged queue
        means "unreviewed" (#14); the export's (False) keeps every state."""

        def pick(name: str, allowed: tuple[str, ...], default: str = "") -> str:
            value = p.get(name, "")
            return value if value in allowed else default

        qq = cls(
            q=p.get("q", "").strip()[:500],
            severity=pick("severity", SEVERITIES),
            kind=pick("kind", KINDS),
            group=NO_GROUP
            if p.get("group", "").strip() == NO_GROUP
            else parse_id("group", p.get("group")),
            channel=parse_id("channel", p.get("channel")),
            state=pick("state", STATES),
            since=parse_day("since", p.get("since")),
            until=parse_day("until", p.get("until")),
            sort=pick("sort", SORTS, "severity"),
            scope=pick("scope", ("flagged", "all")),
            mine=p.get("mine") == "1",
            after=parse_cursor(p.get("after", "")),
        )
        if queue_default and p.get("state", "") not in (*STATES, ALL_STATES):
            return replace(qq, state=qq.default_state)
        return qq

    @property
    def default_state(self) -> str:
        """What the page shows with no review state asked for: the flagged queue is what is
        left to review; a search or all posts cover every state."""
        return "" if self.all_posts else "unreviewed"

    def counted(self) -> QueueQuery:
        """The filter the severity counts are of: every severity, every page, one order."""
        return replace(self, severity="", after="", sort="severity")

    @property
    def all_posts(self) -> bool:
        return self.scope == "all" or (self.scope == "" and bool(query_terms(self.q)))

    @property
    def sorts(self) -> tuple[str, ...]:
        """The orders this listing can apply, its default first. The sort control offers these
        and shows the one applied (#14: a search showed "highest severity" and was ordered by
        collection). Unflagged posts have no severity, so all-post listings are never by it."""
        if not self.all_posts:
            return ("severity", "newest")
        return ("recent", "newest") if query_terms(self.q) else ("newest",)

    @property
    def effective_sort(self) -> str:
        """severity | newest (post date) | recent (post id: most recently collected).

        A search defaults to post id: the full-text hits come back as a set of ids, and walking
        them in id order stops after one page instead of sorting every hit by date (50 ms → 2 ms
        on 1 M); "newest" is still applied when asked for."""
        return self.sort if self.sort in self.sorts else self.sorts[0]

    def params(self, *, explicit_state: bool = False, **changes: Any) -> dict[str, str]:
        """Non-default values as query parameters, for links and forms. The review state is
        written whenever the page would read another one without it (every state is
        ``state=all``); ``explicit_state`` always writes it (the export's own default is
        every state)."""
        out: dict[str, str] = {}
        changed = replace(self, **changes)
        for f in fields(changed):
            value = getattr(changed, f.name)
            if f.name == "state":
                if value == "" and changed.default_state:
                    out["state"] = ALL_STATES
                elif value and (explicit_state or value != changed.default_state):
                    out["state"] = value
                continue
            if value in ("", None, False) or (f.name == "sort" and value == "severity"):
                continue
            out[f.name] = "1" if value is True else str(value)
        return out


def build(
    session: Session, qq: QueueQuery, me_id: int | None, *columns: Any, limit: int | None = None
) -> Select[Any]:
    """SELECT columns over the filtered queue, ordered, with the cursor applied.

    The statement of a given filter is built once and kept (the first pages of the queue and
    of the common filters are most of the traffic): building one and deriving its cache key
    cost more than running it, 1.3 ms of a 3 ms page (#5 benchmark). Statements are immutable;
    the values in them are the filter's own."""
    return _built(session.get_bind().dialect.name, qq, me_id if qq.mine else None, columns, limit)


@lru_cache(maxsize=512)
def _built(
    dialect: str, qq: QueueQuery, me_id: int | None, columns: tuple[Any, ...], limit: int | None
) -> Select[Any]:
    stmt = filtered(dialect, qq, me_id, columns)
    return _order(stmt, qq).limit(None if limit is None else fixed_limit(limit))


def filtered(
    dialect: str, qq: QueueQuery, me_id: int | None, columns: tuple[Any, ...]
) -> Select[Any]:
    """SELECT columns over the rows the filter holds, unordered."""
    stmt = select(*columns)
    if qq.all_posts:
        stmt = stmt.select_from(Post).outerjoin(Match, Match.post_id == Post.id)
    elif dialect == "sqlite" and qq.effective_sort == "newest":
        # SQLite's planner ignores the LIMIT: left alone it sorts all 100 k flags by date
        # (250 ms on 1 M posts). The unary + hides posts.id as a lookup key, so the posts'
        # date index drives the join and stops once a page is full. An inner join would also
        # have the planner build a Bloom filter over every match first (10 ms a page); the
        # outer join (the WHERE drops its unmatched rows, so the result is the same) does not
        # (0.2 ms).
        stmt = stmt.select_from(Post).outerjoin(Match, Match.post_id == literal_column("+posts.id"))
        stmt = stmt.where(Match.flagged.is_(True))
    else:
        stmt = stmt.select_from(Match).join(Post, Post.id == Match.post_id)
        stmt = stmt.where(Match.flagged.is_(True))
    stmt = stmt.join(Channel, Channel.id == Post.channel_id).outerjoin(
        Group, Group.id == Channel.group_id
    )
    if qq.severity:
        stmt = stmt.where(Match.severity_rank >= SEVERITY_RANK[qq.severity])
    if qq.kind:
        stmt = stmt.where(exists().where(SignalRow.match_id == Match.id, SignalRow.kind == qq.kind))
    if qq.group == NO_GROUP:
        stmt = stmt.where(Channel.group_id.is_(None))
    elif qq.group is not None:
        stmt = stmt.where(
            Post.channel_id.in_(select(Channel.id).where(Channel.group_id == qq.group))
        )
    if qq.channel is not None:
        stmt = stmt.where(Post.channel_id == qq.channel)
    if qq.since is not None:
        stmt = stmt.where(Post.date >= datetime.combine(qq.since, time(), UTC))
    if qq.until is not None:
        stmt = stmt.where(Post.date < datetime.combine(qq.until + timedelta(days=1), time(), UTC))
    if qq.state == "unreviewed":
        stmt = stmt.where(
            ~exists().where(Review.post_id == Post.id, Review.decision.in_(DECISIONS))
        )
    elif qq.state:
        reviewed: Any = Post.id
        if dialect == "sqlite" and not qq.all_posts:
            # Left to itself SQLite drives the page from the list of reviewed posts and sorts
            # them all (10-15 ms with 1.7 k, growing as analysts work); the unary + keeps the
            # queue's sort index in charge, the list a cheap filter on it (2 ms).
            reviewed = literal_column("+matches.post_id")
        stmt = stmt.where(
            reviewed.in_(select(Review.post_id).where(Review.decision == qq.state)),
            latest_decision() == qq.state,
        )
    if qq.mine and me_id is not None:
        stmt = stmt.where(latest_assignee() == me_id)
    terms = query_terms(qq.q)
    if terms:
        stmt = stmt.where(match_clause(dialect, terms))
    return stmt


def _order(stmt: Select[Any], qq: QueueQuery) -> Select[Any]:
    cursor = decode_cursor(qq.effective_sort, qq.after)
    if qq.effective_sort == "severity":
        if cursor is not None:
            rank, score, pid = cursor
            stmt = stmt.where(
                tuple_(Match.severity_rank, Match.score, Match.post_id) < tuple_(rank, score, pid)
            )
        return stmt.order_by(Match.severity_rank.desc(), Match.score.desc(), Match.post_id.desc())
    if qq.effective_sort == "recent":
        if cursor is not None:
            stmt = stmt.where(Post.id < cursor[1])
        return stmt.order_by(Post.id.desc())
    if cursor is not None:
        when, pid = cursor
        # The plain range term lets the date index seek to the cursor; the OR breaks ties.
        stmt = stmt.where(
            Post.date <= when, or_(Post.date < when, and_(Post.date == when, Post.id < pid))
        )
    return stmt.order_by(Post.date.desc(), Post.id.desc())


@dataclass(slots=True)
class QueueRow:
    """One row of a queue page, in the order of ``_page_columns()``. Attributes rather than a
    dict: Jinja tries the attribute first, and a failed attribute lookup on every cell made up
    a third of the page's render time."""

    id: int
    date: datetime
    message_id: int
    excerpt: str | None
    deleted_at: datetime | None
    edited_at: datetime | None
    handle: str
    title: str | None
    group: str | None
    match_id: int | None
    severity: str
    severity_rank: int | None
    score: float | None
    flagged: bool | None
    state: str
    channel_kind: str = "group"  # the analyst sees who spoke (#12)
    kinds: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.severity = self.severity or "none"
        self.state = self.state or "unreviewed"


def page_rows(session: Session, qq: QueueQuery, me_id: int | None) -> tuple[list[QueueRow], str]:
    """One page of the queue, and the cursor of the next page ("" at the end).

    Run on the session's connection, without the ORM: the rows are plain columns, and the
    ORM's result handling cost more than the query (#5 benchmark)."""
    conn = session.connection()
    stmt = build(session, qq, me_id, *_page_columns(), limit=PAGE + 1)
    rows = [QueueRow(*r) for r in conn.execute(stmt)]
    nxt = ""
    if len(rows) > PAGE:
        rows = rows[:PAGE]
        last = rows[-1]
        nxt = encode_cursor(qq.effective_sort, last.severity_rank, last.date, last.id, last.score)
    by_match = {r.match_id: r for r in rows if r.match_id is not None}
    if by_match:
        kinds: dict[int, set[str]] = {}
        refs: dict[int, set[str]] = {}
        for mid, kind, ref in conn.execute(_signals_of(), {"ids": list(by_match)}):
            kinds.setdefault(mid, set()).add(kind)
            if ref:
                refs.setdefault(mid, set()).add(ref)
        for mid, row in by_match.items():
            row.kinds = sorted(kinds.get(mid, ()))
            row.refs = sorted(refs.get(mid, ()))
    return rows, nxt


@cache
def _page_columns() -> tuple[Any, ...]:
    columns = (
        Post.id,
        Post.date,
        Post.message_id,
        # One character past the excerpt tells the row that the text goes on (rows.py).
        func.substr(Post.text, 1, EXCERPT + 1).label("excerpt"),
        Post.deleted_at,
        Post.edited_at,
        Channel.handle,
        Channel.title,
        Group.name.label("group"),
        Match.id.label("match_id"),
        Match.severity,
        Match.severity_rank,
        Match.score,
        Match.flagged,
        latest_decision().label("state"),
        Channel.kind.label("channel_kind"),
    )
    assert len(columns) == len(fields(QueueRow)) - 2  # kinds and refs come after
    return columns


@cache
def _signals_of() -> Any:
    return select(SignalRow.match_id, SignalRow.kind, SignalRow.ref).where(
        SignalRow.match_id.in_(bindparam("ids", expanding=True))
    )
