"""Full-text search over every stored post, folded by the matcher's normaliser on both sides.

The index never sees raw text: it holds ``normalize(text).text``, and queries are folded the
same way, so a quote typed with or without harakat, hamza or tatweel finds the same posts.
A query word also finds its forms with the proclitics و ف ب ل ك and ال (#14: "مقاومة" found 2
of the 5 posts holding it): the word is stripped to its stem and every written form of the
stem is looked up, an OR of index terms, so the search stays an index lookup.
SQLite uses an FTS5 table (``post_fts``, rowid = post id); PostgreSQL a tsvector table
(``post_search``) with a GIN index. Both are created by migration 0002.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import Connection, TextClause, text
from sqlalchemy.orm import Session

from monitor.match.morphology import proclitic_forms, strip_proclitics
from monitor.match.normalize import normalize
from monitor.store.ingest import Changed
from monitor.store.layers import ocr_layers
from monitor.store.models import Channel

MAX_QUERY_TERMS = 16


def fold(value: str) -> str:
    return normalize(value).text


def query_terms(query: str) -> list[str]:
    """The folded words of a query; punctuation and marks vanish in the fold."""
    return fold(query).split()[:MAX_QUERY_TERMS]


def term_forms(term: str) -> tuple[str, ...]:
    """The folded words a query term finds: every proclitic form of its stem (#14)."""
    return proclitic_forms(strip_proclitics(term))


# A token of the folded text as the indexes cut it: FTS5's unicode61 and PostgreSQL's parser
# both split on what is not a letter or digit, and the fold has already made punctuation spaces.
_TOKEN = re.compile(r"\w+")


def hit_spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Where the words a search found are in ``text``, as [start, end) of the original text.

    The same fold and the same forms as the lookup, so what is marked is what was matched; the
    folded positions go back through the normaliser's offset map, which carries the harakat
    and tatweel of a word along with it."""
    if not terms or not text:
        return []
    wanted = {form for term in terms for form in term_forms(term)}
    folded = normalize(text)
    return [folded.to_original(*m.span()) for m in _TOKEN.finditer(folded.text) if m[0] in wanted]


def write_index(conn: Connection, rows: Sequence[tuple[int, str]], *, fresh: bool = False) -> None:
    """(Re)index posts given as (post id, original text); ``fresh`` skips removing old rows."""
    if not rows:
        return
    params = [{"id": pid, "body": fold(body)} for pid, body in rows]
    if conn.dialect.name == "sqlite":
        if not fresh:
            conn.execute(text("DELETE FROM post_fts WHERE rowid = :id"), params)
        conn.execute(text("INSERT INTO post_fts(rowid, body) VALUES (:id, :body)"), params)
    else:
        conn.execute(
            text(
                "INSERT INTO post_search(post_id, tsv) VALUES (:id, to_tsvector('simple', :body)) "
                "ON CONFLICT (post_id) DO UPDATE SET tsv = EXCLUDED.tsv"
            ),
            params,
        )


def index_hook(session: Session, channel: Channel, changed: list[Changed]) -> None:
    """Pipeline hook: new and edited posts are searchable in the same transaction that stores
    them; a deleted post keeps its last text, so it stays findable."""
    rows = [(c.post_id, c.record.text) for c in changed if c.status != "deleted"]
    # The text read from a post's image is found by search too (#13).
    ocr = ocr_layers(session, [pid for pid, _ in rows])
    rows = [(pid, f"{body}\n\n{ocr[pid]}" if pid in ocr else body) for pid, body in rows]
    write_index(session.connection(), rows)


def match_clause(dialect: str, terms: list[str]) -> TextClause:
    """``posts.id IN (…posts whose folded text holds every term, in any of its forms…)``."""
    if dialect == "sqlite":
        # Each form quoted as an FTS5 string, so no query syntax leaks through.
        expr = " AND ".join(
            "(" + " OR ".join('"' + f.replace('"', '""') + '"' for f in term_forms(t)) + ")"
            for t in terms
        )
        return text(
            "posts.id IN (SELECT rowid FROM post_fts WHERE post_fts MATCH :fts_query)"
        ).bindparams(fts_query=expr)
    # Each form a quoted tsquery lexeme (quote and backslash escaped), so none of to_tsquery's
    # operators leak through; the lexemes go through the same 'simple' parser as the index.
    expr = " & ".join("(" + " | ".join(_lexeme(f) for f in term_forms(t)) + ")" for t in terms)
    return text(
        "posts.id IN (SELECT post_id FROM post_search "
        "WHERE tsv @@ to_tsquery('simple', :fts_query))"
    ).bindparams(fts_query=expr)


def _lexeme(form: str) -> str:
    return "'" + form.replace("\\", "\\\\").replace("'", "''") + "'"


# Tables migration 0002 creates outside the ORM metadata (FTS5 adds its shadow tables
# post_fts_data, _idx, _content, _docsize, _config): schema comparisons must skip them.
SEARCH_TABLES = ("post_fts", "post_search")


def is_search_table(name: str | None) -> bool:
    return bool(name) and str(name).startswith(SEARCH_TABLES)
