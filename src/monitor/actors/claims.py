"""The attack claims of posts (#16), as the incident hook groups them: for each post whose
current verdict has an ``attack_claim``, the site, weapon, claimant, time and layer of the
claim (actors/incidents.py says how they are chosen)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.actors.registry import Registry
from monitor.actors.weapons import weapon_class
from monitor.store.models import Channel, Group, Match, Mention, Post, SignalRow

_CHUNK = 1000  # bound the IN lists


def chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


@dataclass(frozen=True, slots=True)
class Claim:
    post_id: int
    channel_id: int
    claimed_at: datetime
    site: str | None  # registry site id
    weapon: str | None  # actors/weapons.py
    claimant: str | None  # a groups.name
    layer: str  # "text", or "ocr" when the claim was read from the image only


def _role_text(roles: dict[str, Any] | None, name: str) -> str | None:
    role = (roles or {}).get(name)
    return role.get("text") if isinstance(role, dict) else None


def claims_of(session: Session, post_ids: Sequence[int], registry: Registry) -> dict[int, Claim]:
    """post id -> its claim, for the posts whose current verdict has an attack claim."""
    signals: dict[int, list[tuple[str, int, dict[str, Any] | None]]] = defaultdict(list)
    mentions: dict[int, list[tuple[str, str, str | None, str, int]]] = defaultdict(list)
    posts: dict[int, tuple[int, datetime, str | None]] = {}
    for chunk in chunks(sorted(set(post_ids))):
        for pid, layer, start, roles in session.execute(
            select(Match.post_id, SignalRow.layer, SignalRow.start, SignalRow.roles)
            .join(SignalRow, SignalRow.match_id == Match.id)
            .where(Match.post_id.in_(chunk), SignalRow.kind == "attack_claim")
        ):
            signals[pid].append((layer, start, roles))
        claiming = [pid for pid in chunk if pid in signals]
        if not claiming:
            continue
        for pid, kind, ref, role, layer, start in session.execute(
            select(
                Mention.post_id,
                Mention.kind,
                Mention.ref,
                Mention.role,
                Mention.layer,
                Mention.start,
            ).where(Mention.post_id.in_(claiming), Mention.kind.in_(("site", "group")))
        ):
            mentions[pid].append((kind, ref, role, layer, start))
        for pid, cid, date, name in session.execute(
            select(Post.id, Post.channel_id, Post.date, Group.name)
            .join(Channel, Channel.id == Post.channel_id)
            .outerjoin(Group, Group.id == Channel.group_id)
            .where(Post.id.in_(claiming))
        ):
            posts[pid] = (cid, date, name)
    out = {}
    for pid, (cid, date, group) in posts.items():
        # The caption first: an image's claim counts, but the text is what the post says.
        found = sorted(signals[pid], key=lambda s: (s[0] != "text", s[1]))
        weapon = next((t for _, _, r in found if (t := _role_text(r, "weapon"))), None)
        named = sorted(mentions[pid], key=lambda m: (m[3] != "text", m[4]))
        sites = [m for m in named if m[0] == "site"]
        site = next((m for m in sites if m[2] == "target"), sites[0] if sites else None)
        if group is None:
            actor = next(
                (
                    registry.groups[m[1]]
                    for m in named
                    if m[0] == "group" and m[2] == "claimant" and m[1] in registry.groups
                ),
                None,
            )
            group = actor.name if actor else None
        out[pid] = Claim(
            post_id=pid,
            channel_id=cid,
            claimed_at=date,
            site=site[1] if site else None,
            weapon=weapon_class(weapon),
            claimant=group,
            layer=found[0][0],
        )
    return out
