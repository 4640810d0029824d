"""Channel kinds: who speaks on a channel (#12; interface.md "Channel kinds").

Below every stage, like ``records``: the store keeps the kind, the CLI, the console and
``channels.yaml`` validate it, and the scorer decides with it, without importing one another.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["CHANNEL_KINDS", "DEFAULT_CHANNEL_KIND", "ChannelKind", "channel_kind"]

ChannelKind = Literal["group", "leader", "media", "news"]

# group: a group's own channel; leader: a leader's own; media: an affiliated outlet;
# news: anyone reporting on others (signals.md "Frames and voice").
CHANNEL_KINDS: tuple[ChannelKind, ...] = ("group", "leader", "media", "news")

# A channel of unknown kind is scored as a group's own: what flags today keeps flagging, and
# only an operator's deliberate `news` turns a channel's cues and claims down (#12).
DEFAULT_CHANNEL_KIND: ChannelKind = "group"


def channel_kind(value: object) -> ChannelKind | None:
    """``value`` as a channel kind, or None when it is not one."""
    for kind in CHANNEL_KINDS:
        if value == kind:
            return kind
    return None
