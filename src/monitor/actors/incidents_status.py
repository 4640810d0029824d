"""Whether an incident is corroborated (#16): two of its sources from different channels and
claimants, neither a copy of the other (one echo cluster) nor forwarded from the other's channel.

Channel content is hostile input: thousands of sock-puppet copies of one claim make one incident
of thousands of sources, none independent of another, so comparing pairs was quadratic in them
and ran again for every claim that joined. Whether two sources are independent depends only on
their profile (channel, claimant, cluster, forwarded-from), so the database groups the sources
by profile and, per profile, the sources it is *not* independent of are counted by
inclusion-exclusion over its five "same ..." relations: linear in the profiles, no pairs.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.store.models import Channel, EchoMember, IncidentSource, Post

# A profile's attributes, as another source's are compared with them (see _blocked):
# channel, claimant, echo cluster, the channel's handle, the lower-cased forwarded-from handle.
_CH, _CL, _K, _H, _F = range(5)
_SUBSETS = [t for n in range(1, 6) for t in combinations(range(5), n)]

Profile = tuple[int, str | None, int | None, str, str]


def profiles(session: Session, incident_id: int) -> Counter[Profile]:
    """The incident's sources counted by profile."""
    handles = dict(
        session.execute(
            select(Channel.id, Channel.handle).where(
                Channel.id.in_(
                    select(IncidentSource.channel_id)
                    .where(IncidentSource.incident_id == incident_id)
                    .distinct()
                )
            )
        ).all()
    )
    rows = session.execute(
        select(
            IncidentSource.channel_id,
            IncidentSource.claimant,
            EchoMember.cluster_id,
            Post.fwd_channel,
            func.count(),
        )
        .join(Post, Post.id == IncidentSource.post_id)
        .outerjoin(EchoMember, EchoMember.post_id == IncidentSource.post_id)
        .where(IncidentSource.incident_id == incident_id)
        .group_by(
            IncidentSource.channel_id,
            IncidentSource.claimant,
            EchoMember.cluster_id,
            Post.fwd_channel,
        )
    )
    out: Counter[Profile] = Counter()
    for channel_id, claimant, cluster, fwd, n in rows:
        # Lower-cased here, not in SQL: SQLite's lower() folds ASCII only.
        out[(channel_id, claimant, cluster, handles[channel_id], (fwd or "").lower())] += n
    return out


def independent(session: Session, incident_id: int) -> bool:
    """Whether two sources of the incident are independent (the module's docstring)."""
    return any_independent(profiles(session, incident_id))


def any_independent(counts: Counter[Profile]) -> bool:
    """Whether two of the sources counted by profile are independent."""
    if len({p[_CH] for p in counts}) < 2:
        return False
    total = sum(counts.values())
    # Only the relations some source has: a relation no source has relates no two sources,
    # so every intersection through it is empty (a flood of copies has two, not five).
    live = [_CH]
    if any(p[_CL] for p in counts):
        live.append(_CL)
    if any(p[_K] is not None for p in counts):
        live.append(_K)
    if {p[_F] for p in counts} & {p[_H] for p in counts}:
        live += [_H, _F]
    subsets = [t for t in _SUBSETS if set(t) <= set(live)]
    # For every subset of attributes, the sources by their values of it.
    by: dict[tuple[int, ...], Counter[tuple[object, ...]]] = {t: Counter() for t in subsets}
    for p, n in counts.items():
        for t, counter in by.items():
            counter[tuple(p[i] for i in t)] += n
    return any(total - _blocked(p, by) > 0 for p in counts)


def _blocked(p: Profile, by: dict[tuple[int, ...], Counter[tuple[object, ...]]]) -> int:
    """How many sources are not independent of one of profile ``p``: of its channel, of its
    claimant (a group's own channel and its media outlet are one voice), of its cluster, of
    the channel it forwarded from, or forwarding from its channel. Inclusion-exclusion over
    these relations; each constrains another attribute of the other source, so an
    intersection is one lookup."""
    # The value the other source's attribute must have, per relation; None: no such relation
    # (no claimant, no cluster), so no source is related through it.
    wanted: list[object] = [p[_CH], p[_CL] or None, p[_K], p[_F], p[_H]]
    n = 0
    for t in by:
        if any(wanted[i] is None for i in t):
            continue
        sign = 1 if len(t) % 2 else -1
        n += sign * by[t][tuple(wanted[i] for i in t)]
    return n
