"""The same statement image on other channels (#13): perceptual hashes within a distance.

A 64-bit hash split into eight 8-bit chunks: two hashes at most ``NEAR`` (7) bits apart share
at least one whole chunk (pigeonhole), so the database narrows the candidates by chunk
equality and Python counts the bits of the few that remain.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from monitor.media.images import hash_distance
from monitor.store.models import Channel, MediaFile, Post

# Re-encoded or re-compressed copies of one statement stay within a few bits; a different
# statement on the same letterhead differs in far more (tests/media/test_images.py).
NEAR = 7
_CHUNKS = 8


@dataclass(frozen=True, slots=True)
class SimilarImage:
    media: MediaFile
    post: Post
    channel: Channel
    distance: int


def same_image(session: Session, media: MediaFile, *, limit: int = 50) -> list[SimilarImage]:
    """Posts of other channels whose image is the same or nearly the same, earliest first."""
    if not media.phash or len(media.phash) != 16:
        return []
    width = 16 // _CHUNKS
    chunks = [
        func.substr(MediaFile.phash, i * width + 1, width)
        == media.phash[i * width : (i + 1) * width]
        for i in range(_CHUNKS)
    ]
    own = session.get_one(Post, media.post_id)
    rows = session.execute(
        select(MediaFile, Post, Channel)
        .join(Post, Post.id == MediaFile.post_id)
        .join(Channel, Channel.id == Post.channel_id)
        .where(MediaFile.id != media.id, Post.channel_id != own.channel_id, or_(*chunks))
        .order_by(Post.date, Post.id)
    ).all()
    out = []
    for other, post, channel in rows:
        if not other.phash or len(other.phash) != 16:
            continue
        distance = hash_distance(media.phash, other.phash)
        if distance <= NEAR:
            out.append(SimilarImage(other, post, channel, distance))
            if len(out) >= limit:
                break
    return out
