"""Relevance: how likely each result is to match its query, rated 0-100, with 50 at the query's own cut.

A fixed cosine threshold fails across queries: a concept that fills a third of a library and one that appears
once sit at different cosines, negatives and mixes shift every score, and raw cosines mean nothing across
models (CLIP's clear matches sit near 0.3, a test model's near 0.4, image-to-image cosines near 0.9). So the
cut adapts to each query's own scores, with a prior per model and collection measured once per index.

Per index (`calibrate`, kept in `calibration.json`), on a sample of up to SAMPLE_SIZE images:
- the collection's *centre*, the mean of the sampled vectors: a query's cosine with it (unnormalised) is the
  mean of its cosines over the collection, its *typical* score; and KEPT_SAMPLE of the vectors, over which a
  query's *median* score is taken;
- for text queries, from a bank of typical searches for the model (`models.prompts.calibration_prompts`):
  `typical`, the median bank prompt's typical score, and `match`, the median of each prompt's best score in
  the sample (most prompts of a bank find something in a collection; their best is a match);
- for image queries, the same from the sample itself: each image's best other image is its `match`.

Per query, from its typical score t and its ranked hits (at least RATED of them):
1. Has the collection anything for it? Its best hit must stand out from its own median score by LIFT of the
   model's range (match - typical); the median, as a concept that fills much of the collection (circles in
   a library of shapes, people in a family's photos) lifts the mean towards its own matches, and the median
   not while it holds under half of it. For a query of a single term, it must also reach LEVEL of the way
   to the model's match level (a mix of terms, or a term less another, scores lower than a term alone: its
   right answers match part of it). Words the model does not know score alike against every image (no lift); a
   concept that is absent brings only partial matches, short of the match level. Such a query rates every
   hit below 50.
2. Which hits? Each hit's *position* x = (s - t) / (a - t) runs from the query's typical score (0) to its
   anchor a (1): its ANCHOR_RANK-th best hit for text (the query's clear matches, robust to a lone outlier),
   an identical picture (cosine 1) for image queries. The cut is at x = CUT_FROM, or higher at the widest
   drop between consecutive hits above x = BREAK_ABOVE when it spans at least BREAK_GAP: the natural break
   between the matches and the partial ones ("a red circle" and the red squares below it). For a single term
   the hits below a break must fall short of LEVEL of the way to the model's match level (those that reach it
   are matches too), and the end of the rated hits is no drop.
3. The rating is 50 at the cut, 100 at the anchor (or the best hit, when above it) and falls linearly to 0 at
   the typical score; an identical picture rates 100.

A search keeps the results rated at least `min_relevance` (default 50: the query's own cut) and returns the
rest of its top k as weaker ones. A model with random weights (test:tiny, random:...) has no notion of
relevance: its default is 0, every result shown. The constants were chosen on the training renderer's
pictures and are measured on held-out renderers by `scripts/bench_relevance.py` (BENCHMARKS.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np

from viewfinder.search.results import Hit
from viewfinder.store.indexdir import IndexDir

SAMPLE_SIZE = 2000
KEPT_SAMPLE = 256  # vectors kept with the calibration, which a query's median score is taken over
RATED = 50  # hits a query's cut is found among, whatever its k
ANCHOR_RANK = 5
LIFT, LEVEL = 0.4, 0.9
CUT_FROM, BREAK_ABOVE, BREAK_GAP = 0.55, 0.65, 0.10
DEFAULT_MIN_RELEVANCE = 50.0
STRONG = 80.0  # a relevance at least this is a "strong" match; from 50 up a "possible" one
CACHE_FILE = "calibration.json"


@dataclass(frozen=True)
class Prior:
    """What a model's queries of one kind score on this collection: typically, and at their best match."""

    typical: float
    match: float

    @property
    def span(self) -> float:
        return max(self.match - self.typical, 1e-6)


@dataclass(frozen=True)
class Typical:
    """What a query typically scores on the collection: the mean of its cosines, from which its hits'
    positions are measured, and their median, from which its best hit's lift is (a concept that fills much of
    the collection pulls the mean towards its own matches, not the median while under half of it)."""

    mean: float
    median: float


@dataclass(frozen=True)
class Calibration:
    """One index's priors and centre; `images` is the collection size they were measured at, `sample` up to
    KEPT_SAMPLE of its vectors (float16, base64)."""

    identity: str
    bank: str
    images: int
    text: Prior
    image: Prior
    centre: tuple[float, ...]
    sample: str

    def is_current(self, identity: str, bank: str, images: int) -> bool:
        grown = images > 2 * self.images or 2 * images < self.images
        return self.identity == identity and self.bank == bank and not grown

    @cached_property
    def _centre(self) -> np.ndarray:
        return np.asarray(self.centre, dtype=np.float32)  # made once, not on every query

    @cached_property
    def _sample(self) -> np.ndarray:
        packed = np.frombuffer(base64.b64decode(self.sample), dtype=np.float16)
        return packed.reshape(-1, len(self.centre)).astype(np.float32)

    def typical(self, query_vector: np.ndarray) -> Typical:
        """The query's mean cosine over the collection, and its median over the kept sample."""
        return Typical(float(np.dot(self._centre, query_vector)), float(np.median(self._sample @ query_vector)))


def default_min_relevance(random_weights: bool) -> float:
    """50, or 0 for a model with random weights, whose scores carry no meaning to rate."""
    return 0.0 if random_weights else DEFAULT_MIN_RELEVANCE


def match_word(relevance: float) -> str:
    """The relevance in a word, as the page's large view says it."""
    return "strong" if relevance >= STRONG else "possible" if relevance >= DEFAULT_MIN_RELEVANCE else "weak"


def ratings(
    similarities: Sequence[float], typical: Typical, prior: Prior, identical_anchor: bool, one_term: bool = True
) -> list[float]:
    """The relevance of each of a query's hits (their cosines, any order) for a query of typical scores
    `typical`; `identical_anchor` for image queries, whose anchor is an identical picture. The prior's match
    level is that of a single-term query: a query of several terms is only held to its lift."""
    scores = np.asarray(similarities, dtype=np.float64)
    if scores.size == 0:
        return []
    width, top, strength, cut = _frame(scores, typical, prior, identical_anchor, one_term)
    positions = (scores - typical.mean) / width
    if strength < 1.0:
        below = np.clip(positions / max(top, 1.0), 0.0, 1.0) * 50.0 * max(strength, 0.0)
        return [min(float(r), 49.9) for r in below]
    upper = max(top, 1.0)
    above = 50.0 + 50.0 * np.clip((positions - cut) / max(upper - cut, 1e-6), 0.0, 1.0)
    below = 50.0 * np.clip(positions / cut, 0.0, 1.0)
    return [float(r) for r in np.where(positions >= cut, above, np.minimum(below, 49.9))]


def match_threshold(similarities: Sequence[float], typical: Typical, prior: Prior, identical_anchor: bool) -> float:
    """The cosine from which a single term's hits are matches (rated 50 or more), from its own ranked hits;
    infinity where the collection has nothing for it."""
    scores = np.asarray(similarities, dtype=np.float64)
    if scores.size == 0:
        return math.inf
    width, _, strength, cut = _frame(scores, typical, prior, identical_anchor, one_term=True)
    return typical.mean + cut * width if strength >= 1.0 else math.inf


def _frame(
    scores: np.ndarray, typical: Typical, prior: Prior, identical_anchor: bool, one_term: bool
) -> tuple[float, float, float, float]:
    """A query's scale (anchor less mean score), its best hit's position, its strength (below 1: nothing
    matches) and its cut's position."""
    ranked = np.sort(scores)[::-1]
    best = float(ranked[0])
    origin = typical.mean
    anchor = 1.0 if identical_anchor else float(ranked[min(ANCHOR_RANK, ranked.size) - 1])
    width = max(anchor - origin, 1e-6)
    # How far the best hit falls short of what a match of this model looks like (1 or more: not short).
    strength = (best - typical.median) / (LIFT * prior.span)
    if one_term:
        strength = min(strength, (best - prior.typical) / (LEVEL * prior.span))
    # A hit still at the model's match level is a match: a drop above such hits is not the break between the
    # matches and the partial ones (a mix of terms is held to no level: it scores lower than its terms).
    level = (prior.typical + LEVEL * prior.span - origin) / width if one_term else math.inf
    return width, (best - origin) / width, strength, _cut(np.sort((scores - origin) / width)[::-1], level)


def _cut(positions: np.ndarray, level: float) -> float:
    """The cut among descending positions: CUT_FROM, or the widest drop of at least BREAK_GAP below a hit
    above BREAK_ABOVE (halfway down it) to hits under the match `level`."""
    candidates = positions[positions >= CUT_FROM]
    if candidates.size == 0:
        return CUT_FROM
    # Below the last candidate: the next hit, or, where every rated hit is a candidate, nothing known (the
    # pool ends there, not the scores), so no drop is taken there.
    below = np.append(candidates[1:], positions[candidates.size] if candidates.size < positions.size else np.inf)
    drops = np.where((candidates >= BREAK_ABOVE) & (below < level), candidates - below, -1.0)
    widest = int(np.argmax(drops))
    if drops[widest] < BREAK_GAP:
        return CUT_FROM
    return float(max(CUT_FROM, candidates[widest] - drops[widest] / 2))


def rate(hits: Sequence[Hit], typical: Typical, prior: Prior, identical_anchor: bool, one_term: bool) -> list[Hit]:
    """The hits (a query's ranked pool, at least RATED where the collection has them) with their relevance."""
    scores = ratings([hit.similarity for hit in hits], typical, prior, identical_anchor, one_term)
    rounded = [round(r, 1) for r in scores]
    return [hit.rated(r, match_word(r)) for hit, r in zip(hits, rounded, strict=True)]


def calibrate(
    index_dir: IndexDir,
    identity: str,
    prompts: Sequence[str],
    images: int,
    sample: Callable[[int], np.ndarray],
    encode_texts: Callable[[list[str]], np.ndarray],
) -> Calibration:
    """The index's calibration: read from its directory while current, else measured on `sample(SAMPLE_SIZE)`
    (unit vectors of the collection) and the prompts' vectors, and stored there."""
    bank = hashlib.sha256("\n".join(prompts).encode()).hexdigest()[:16]
    stored = _parse(index_dir.read_note(CACHE_FILE))
    if stored is not None and stored.is_current(identity, bank, images):
        return stored
    vectors = sample(SAMPLE_SIZE)
    centre = vectors.mean(axis=0)
    texts = encode_texts(list(prompts))
    text = Prior(float(np.median(texts @ centre)), float(np.median((texts @ vectors.T).max(axis=1))))
    pairs = vectors @ vectors.T
    np.fill_diagonal(pairs, -np.inf)
    # A single image has no other: its image queries get the text prior.
    image = Prior(float(np.median(vectors @ centre)), float(np.median(pairs.max(axis=1)))) if len(vectors) > 1 else text
    kept = vectors[np.random.default_rng(0).choice(len(vectors), min(KEPT_SAMPLE, len(vectors)), replace=False)]
    calibration = Calibration(
        identity,
        bank,
        images,
        _rounded(text),
        _rounded(image),
        tuple(round(float(v), 6) for v in centre),
        packed_sample(kept),
    )
    index_dir.write_note(CACHE_FILE, json.dumps(asdict(calibration)))
    return calibration


def packed_sample(vectors: np.ndarray) -> str:
    """Vectors as a calibration keeps them: float16 (the median of a few hundred cosines needs no more), in
    base64 for its JSON file."""
    return base64.b64encode(np.ascontiguousarray(vectors, dtype=np.float16).tobytes()).decode("ascii")


def _rounded(prior: Prior) -> Prior:
    return Prior(round(prior.typical, 6), round(prior.match, 6))


def _parse(text: str | None) -> Calibration | None:
    if text is None:
        return None
    try:
        data = json.loads(text)
        calibration = Calibration(
            **{
                **data,
                "text": Prior(**data["text"]),
                "image": Prior(**data["image"]),
                "centre": tuple(float(v) for v in data["centre"]),
            }
        )
        if calibration._sample.size == 0:
            return None
        return calibration
    except (ValueError, TypeError, KeyError):
        return None  # from another version (before the kept sample, say) or damaged: measured again
