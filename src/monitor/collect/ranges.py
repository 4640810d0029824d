"""Message id ranges as ``[low, high]`` pairs (inclusive), kept sorted and merged."""

from __future__ import annotations

Ranges = list[list[int]]


def merge(ranges: Ranges) -> Ranges:
    out: Ranges = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return out


def subtract(ranges: Ranges, covered: Ranges) -> Ranges:
    out: Ranges = []
    for lo, hi in ranges:
        pieces = [[lo, hi]]
        for clo, chi in covered:
            pieces = [
                part
                for plo, phi in pieces
                for part in ([plo, min(phi, clo - 1)], [max(plo, chi + 1), phi])
                if part[0] <= part[1]
            ]
        out.extend(pieces)
    return merge(out)
