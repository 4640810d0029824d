"""Echo clusters (#15): a post that is a near copy of an earlier one joins its cluster.

A pipeline hook, after the matcher and inside the batch's transaction: the post's content
words (network/shingles.py) give 42 band keys, stored in ``echo_bands``; the posts sharing a
key are its candidates; each is verified on the words themselves, and the most similar one
at or above THRESHOLD brings the post into its cluster (or founds one with it). Two
statements of one template — another target, another day or count — share most words, so
they must also agree on the sites the matcher found and on their numbers, days and months.

The cluster's first publisher and each echo's lag are read from its members' dates
(store/export.py, the console), so a post back-filled later that is earlier than the rest
simply becomes the first.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, TextClause, delete, func, insert, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.network.shingles import BANDS, MIN_WORDS, anchors, band_keys, jaccard, words
from monitor.store.ingest import Changed
from monitor.store.layers import ocr_layers
from monitor.store.models import (
    Channel,
    EchoBand,
    EchoCluster,
    EchoMember,
    EchoQuote,
    Match,
    Post,
    SignalRow,
)

log = logging.getLogger(__name__)

_BANDS = cast(Table, EchoBand.__table__)
_QUOTES = cast(Table, EchoQuote.__table__)
# Measured on bench/echo.py's dev statements: echoes with a fifth of their words changed and
# a prefix or hashtags sit at 0.4-0.8 (short English ones lowest), distinct statements below
# 0.3; statements of one template above it are told apart by their sites and numbers.
THRESHOLD = 0.4
# A quote (#15): at least this share of a statement of at least QUOTED_WORDS content words,
# inside a post of another channel at least 1.6 times as long, with QUOTED_WORDS of its own.
QUOTE_SHARE = 0.8
QUOTE_LONGER = 1.6
QUOTED_WORDS = 8
# Posts read per band key, newest first: a text posted ten thousand times must not make each
# new copy read every earlier one (its nearest copies are enough to join their cluster).
PER_KEY = 20
# A joining post must keep this much in common with the cluster's first post, not only with
# its nearest member: shifting windows of words must not chain unrelated statements (#15).
FOUNDER_MIN = 0.25
# The most key-sharing candidates verified; a template a channel has posted a thousand times
# must not make each new post read a thousand others.
MAX_CANDIDATES = 100


class EchoHook:
    def __call__(self, session: Session, channel: Channel, changed: list[Changed]) -> None:
        ids = [c.post_id for c in changed if c.status in ("new", "edited", "layer")]
        if not ids:
            return
        texts = _texts(session, ids)
        fresh = {c.post_id for c in changed if c.status == "new"}
        for post_id in ids:
            _place_once(session, post_id, texts.get(post_id, ""), fresh=post_id in fresh)


def _place_once(session: Session, post_id: int, text: str, *, fresh: bool) -> None:
    """place() in a savepoint: another worker founding or dissolving the same cluster at the
    same moment (PostgreSQL) fails this post's placing, not the batch. Tried again once, when
    the other worker's rows are visible; then the post stays unclustered, logged."""
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                place(session, post_id, text, fresh=fresh)
            return
        except IntegrityError as exc:
            if attempt == 2:
                log.warning("post %d not placed in an echo cluster: %s", post_id, exc.orig)


def _texts(session: Session, ids: Sequence[int]) -> dict[int, str]:
    rows = session.execute(select(Post.id, Post.text).where(Post.id.in_(ids))).all()
    images = ocr_layers(session, ids)
    # The image's text counts as the post's (#13): a statement posted as a picture by one
    # channel and as text by another is one statement.
    return {pid: f"{text}\n{images.get(pid, '')}" for pid, text in rows}


def _targets(session: Session, ids: Sequence[int]) -> dict[int, frozenset[str]]:
    rows = session.execute(
        select(Match.post_id, SignalRow.rule)
        .join(SignalRow, SignalRow.match_id == Match.id)
        .where(Match.post_id.in_(ids), SignalRow.kind == "target")
    ).all()
    out: dict[int, set[str]] = defaultdict(set)
    for pid, rule in rows:
        out[pid].add(rule)
    return {pid: frozenset(r) for pid, r in out.items()}


def _candidates_sql(prefix: str = "") -> TextClause:
    # Written out once: built with select() and union_all() per post, the 42 subqueries cost
    # five times the rest of the placing in Python alone (bench/echo.py).
    per_key = " UNION ALL ".join(
        f"SELECT post_id FROM (SELECT post_id FROM echo_bands WHERE key = :k{i} "
        f"AND post_id <> :pid ORDER BY post_id DESC LIMIT :per_key) AS b{i}"
        for i in range(BANDS)
    )
    return text(
        f"{prefix}SELECT post_id FROM ({per_key}) AS hits "
        "GROUP BY post_id ORDER BY count(*) DESC, post_id DESC LIMIT :most"
    )


_CANDIDATES = _candidates_sql()
# On PostgreSQL the keys are stored by the same statement that reads the candidates (its
# SELECT sees the snapshot before the INSERT): one round trip a post instead of two, and one
# array instead of 42 rows — 1.1 ms against 0.75 + 1.2 ms measured (bench/echo.py).
_INDEX_PG = _candidates_sql(
    "WITH stored AS (INSERT INTO echo_bands (post_id, key) "
    "SELECT :pid, unnest(CAST(:keys AS BIGINT[]))) "
)


def _candidates(session: Session, post_id: int, keys: list[int]) -> list[int]:
    """Store the post's band keys and return the posts sharing most keys with it, at most
    PER_KEY read per key (one statement, so the cost does not grow with how often a text was
    posted before)."""
    params: dict[str, object] = {f"k{i}": k for i, k in enumerate(keys)}
    params |= {"pid": post_id, "per_key": PER_KEY, "most": MAX_CANDIDATES}
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(_INDEX_PG, params | {"keys": keys})
        return [int(r[0]) for r in rows]
    found = [int(r[0]) for r in session.execute(_CANDIDATES, params)]
    # The table's own insert with a list of rows: SQLAlchemy batches it into few statements
    # (0.36 ms a post of 42 rows on SQLite, against 2.5 ms for one INSERT … VALUES).
    session.execute(insert(_BANDS), [{"post_id": post_id, "key": k} for k in keys])
    return found


def _members(session: Session, post_id: int, cluster_id: int | None) -> list[int]:
    """The cluster's members to agree with, its first post first."""
    if cluster_id is None:
        return [post_id]
    return list(
        session.scalars(
            select(EchoMember.post_id)
            .join(Post, Post.id == EchoMember.post_id)
            .where(EchoMember.cluster_id == cluster_id)
            .order_by(Post.date, Post.id)
            .limit(MAX_CANDIDATES)
        )
    )


def _agrees(
    session: Session,
    post_id: int,
    ws: frozenset[str],
    members: list[int],
    known: dict[int, frozenset[str]],
) -> bool:
    """``known``: the words of posts already read (the candidates), filled with the members'."""
    unread = [m for m in members if m not in known]
    if unread:
        known.update((m, words(t)) for m, t in _texts(session, unread).items())
    targets = _targets(session, [post_id, *members])
    mine, my_anchors = targets.get(post_id, frozenset()), anchors(ws)
    if jaccard(ws, known.get(members[0], frozenset())) < FOUNDER_MIN:
        return False
    return all(
        _compatible(mine, targets.get(m, frozenset()))
        and _compatible(my_anchors, anchors(known.get(m, frozenset())))
        for m in members
    )


def _compatible(a: frozenset[str], b: frozenset[str]) -> bool:
    """Two statements when each names a site (or number, day) the other does not: the
    template's slot was filled differently. An echo may leave details out (one set holds
    the other), not change them."""
    return a <= b or b <= a


def place(session: Session, post_id: int, text: str, *, fresh: bool = False) -> int | None:
    """Index ``post_id`` and put it in the cluster of its nearest earlier copy, if any; the
    cluster id, or None. Run again on an edit: the post leaves its cluster and is placed anew.
    ``fresh``: the post was just stored, so it has no bands or cluster to leave."""
    if not fresh:
        _leave(session, post_id)
        session.execute(delete(EchoBand).where(EchoBand.post_id == post_id))
        session.execute(
            delete(EchoQuote).where(
                or_(EchoQuote.post_id == post_id, EchoQuote.quoted_id == post_id)
            )
        )
    ws = words(text)
    if len(ws) < MIN_WORDS:
        return None
    candidates = _candidates(session, post_id, band_keys(ws))
    if not candidates:
        session.flush()
        return None
    texts = _texts(session, candidates)
    others = {c: words(texts.get(c, "")) for c in candidates}
    # A statement inside a longer commentary is quoted, not echoed, however similar the two.
    quoting = {c: o for c, o in others.items() if _inside(ws, o) or _inside(o, ws)}
    _quotes(session, post_id, ws, quoting)
    scored = sorted(
        ((jaccard(ws, o), c) for c, o in others.items() if c not in quoting),
        key=lambda x: (-x[0], -x[1]),
    )
    scored = [(sim, c) for sim, c in scored if sim >= THRESHOLD]
    if not scored:
        session.flush()
        return None
    clusters = dict(
        session.execute(
            select(EchoMember.post_id, EchoMember.cluster_id).where(
                EchoMember.post_id.in_([c for _, c in scored])
            )
        ).all()
    )
    best, best_sim = None, 0.0
    refused: set[int] = set()
    for sim, cand in scored:
        cluster = clusters.get(cand)
        if cluster is not None and cluster in refused:
            continue  # one check a cluster, however many of its members are candidates
        # The post must agree with every member of the cluster it would join, not only the
        # nearest: an echo that dropped the statement's number must not let another
        # statement of the template in through it.
        if _agrees(session, post_id, ws, _members(session, cand, cluster), others):
            best, best_sim = cand, sim
            break
        if cluster is not None:
            refused.add(cluster)
    if best is None:
        session.flush()
        return None
    cluster_id = clusters.get(best)
    if cluster_id is None:
        founded = EchoCluster()
        session.add(founded)
        session.flush()
        cluster_id = founded.id
        session.add(EchoMember(post_id=best, cluster_id=cluster_id, similarity=1.0))
    session.add(EchoMember(post_id=post_id, cluster_id=cluster_id, similarity=round(best_sim, 4)))
    session.flush()
    return cluster_id


def _inside(quoted: frozenset[str], post: frozenset[str]) -> bool:
    """Most of ``quoted`` is in ``post``, which says much of its own besides: more than an
    echo's prefix and hashtags."""
    shared = len(quoted & post)
    return (
        len(quoted) >= QUOTED_WORDS
        and shared >= QUOTE_SHARE * len(quoted)
        and len(post) >= QUOTE_LONGER * len(quoted)
        and len(post) - shared >= QUOTED_WORDS
    )


def _quotes(
    session: Session, post_id: int, ws: frozenset[str], others: dict[int, frozenset[str]]
) -> None:
    """Record which of ``others`` this post quotes, or which quote it: the quoted statement's
    words mostly inside the longer, later post of another channel."""
    if not others:
        return
    facts = {
        pid: (channel_id, date)
        for pid, channel_id, date in session.execute(
            select(Post.id, Post.channel_id, Post.date).where(Post.id.in_([post_id, *others]))
        )
    }
    mine = facts[post_id]
    rows = []
    for cand, other in others.items():
        if facts[cand][0] == mine[0]:  # a channel repeating its own words is no quote
            continue
        if _inside(other, ws) and mine[1] >= facts[cand][1]:
            rows.append({"post_id": post_id, "quoted_id": cand, "containment": _share(other, ws)})
        elif _inside(ws, other) and facts[cand][1] >= mine[1]:
            rows.append({"post_id": cand, "quoted_id": post_id, "containment": _share(ws, other)})
    if rows:
        session.execute(insert(_QUOTES), rows)


def _share(quoted: frozenset[str], post: frozenset[str]) -> float:
    return round(len(quoted & post) / len(quoted), 4)


def _leave(session: Session, post_id: int) -> None:
    cluster_id = session.scalar(select(EchoMember.cluster_id).where(EchoMember.post_id == post_id))
    if cluster_id is None:
        return
    session.execute(delete(EchoMember).where(EchoMember.post_id == post_id))
    left = session.scalar(
        select(func.count()).select_from(EchoMember).where(EchoMember.cluster_id == cluster_id)
    )
    if (left or 0) < 2:
        # A cluster of one is no echo.
        session.execute(delete(EchoMember).where(EchoMember.cluster_id == cluster_id))
        session.execute(delete(EchoCluster).where(EchoCluster.id == cluster_id))
