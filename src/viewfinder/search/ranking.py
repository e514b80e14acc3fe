"""Optional metadata rerank: nudges semantic results towards recent or high-resolution images.

A candidate's score is

    score = similarity + w_recency · recency + w_resolution · resolution

where, for each image,
- recency    = 0.5 ** (age_days / RECENCY_HALF_LIFE_DAYS), age measured back from the newest candidate
  (capture time from EXIF, else the file's modification time), so 1 for the newest and 0.5 a year older;
- resolution = min(1, sqrt(width · height / FULL_RESOLUTION_PIXELS)), growing with the image's edge length
  up to 1 at 12 megapixels.

Both weights are 0..1 and off by default. CLIP cosines of relevant images differ by a few hundredths, so
weights of 0.01–0.05 nudge the order and 1 lets metadata dominate. The search over-fetches candidates
(max(4·k, 100), at most the query's limit) so that images just outside the semantic top k can move in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from viewfinder.errors import BadQueryError
from viewfinder.store.catalog_rows import ImageRecord

if TYPE_CHECKING:
    from viewfinder.search.results import Hit

RECENCY_HALF_LIFE_DAYS = 365.0
FULL_RESOLUTION_PIXELS = 12_000_000
OVERFETCH_FACTOR = 4
MIN_CANDIDATES = 100
MAX_RERANK_WEIGHT = 1.0


@dataclass(frozen=True)
class Rerank:
    """How much recency and resolution add to a result's score (0 turns each off)."""

    recency: float = 0.0
    resolution: float = 0.0

    def __post_init__(self) -> None:
        for name in ("recency", "resolution"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= MAX_RERANK_WEIGHT):
                raise BadQueryError(f"The {name} rerank weight must be between 0 and {MAX_RERANK_WEIGHT:g}.")

    @property
    def is_off(self) -> bool:
        return self.recency == 0.0 and self.resolution == 0.0


def rerank_hits(hits: Sequence[Hit], weights: Rerank) -> list[Hit]:
    """The hits ordered by score (ties keep their semantic order), ranked again from 1."""
    times = [_timestamp(hit.image) for hit in hits]
    newest = max(times, default=0.0)
    scores = [
        hit.similarity
        + weights.recency * recency(newest - when)
        + weights.resolution * resolution(hit.image.width, hit.image.height)
        for hit, when in zip(hits, times, strict=True)
    ]
    order = sorted(range(len(hits)), key=lambda i: -scores[i])
    return [replace(hits[i], rank=rank) for rank, i in enumerate(order, 1)]


def recency(age_seconds: float) -> float:
    """1 for the newest candidate, halving every RECENCY_HALF_LIFE_DAYS."""
    return 0.5 ** (max(0.0, age_seconds) / 86_400 / RECENCY_HALF_LIFE_DAYS)


def resolution(width: int, height: int) -> float:
    """Edge length relative to a 12-megapixel image, capped at 1."""
    return min(1.0, math.sqrt(max(0, width * height) / FULL_RESOLUTION_PIXELS))


def _timestamp(image: ImageRecord) -> float:
    """When the picture was taken (EXIF), else when its file last changed, in seconds since the epoch."""
    if image.taken_at:
        try:
            return datetime.fromisoformat(image.taken_at).timestamp()
        except ValueError:
            pass
    return image.mtime_ns / 1e9


def candidates(k: int, limit: int) -> int:
    """How many semantic results a rerank of the top k looks at: images just outside the top k can move in."""
    return min(limit, max(OVERFETCH_FACTOR * k, MIN_CANDIDATES))
