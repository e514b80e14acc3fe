"""Relevance: a query's cosine similarity rated 0-100 against the model's own score distribution.

Raw cosines mean little on their own: CLIP's clear matches sit near 0.3 and its unrelated pairs near 0.15,
while another model's scale is altogether different. So each index is calibrated once, for its model and
collection:

- the *text reference* is every cosine between a bank of typical searches for the model
  (`models.prompts.calibration_prompts`) and a sample of up to SAMPLE_SIZE images of the collection. Any one
  prompt describes only a few of the images, so these are mostly unrelated pairs, with the matching ones in the
  upper tail;
- the *image reference* is every cosine between two different images of that sample (for image queries,
  whose cosines run much higher than a text's).

A cosine s is then rated with a logistic through two quantiles of the reference, q90 and q99:

    relevance = 100 / (1 + exp(-(s - q99) / t)),   t = (q99 - q90) / ln 9

so a score that only 1% of reference pairs reach rates 50%, one that 10% reach rates 10%, a typical unrelated
pair rates near 0, and scores beyond the top 1% climb towards 100. A query whose positive weight is mostly
on image terms is rated against the image reference, any other against the text reference. The numbers are
stored in `calibration.json` in the index directory, and made again when the model, the bank or the
collection's size (by more than a factor of two) changes.

A search keeps the results rated at least `min_relevance` (default 50: at least as high as the top 1% of
reference pairs). A model with random weights (test:tiny, random:...) has no notion of relevance, so its
default is 0: every result, rated all the same.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from viewfinder.search.results import Hit
from viewfinder.store.indexdir import IndexDir

SAMPLE_SIZE = 2000
LOW_QUANTILE, MID_QUANTILE = 0.90, 0.99
DEFAULT_MIN_RELEVANCE = 50.0
STRONG = 80.0  # a relevance at least this is a "strong" match; from the cut (50) up a "possible" one
CACHE_FILE = "calibration.json"


@dataclass(frozen=True)
class Scale:
    """The logistic through a reference distribution's q90 (10%) and q99 (50%)."""

    q90: float
    q99: float

    def rate(self, similarity: float) -> float:
        width = max(self.q99 - self.q90, 1e-6) / math.log(9)
        return 100.0 / (1.0 + math.exp(-min(60.0, max(-60.0, (similarity - self.q99) / width))))

    @classmethod
    def of(cls, scores: np.ndarray) -> Scale:
        low, mid = np.quantile(scores, [LOW_QUANTILE, MID_QUANTILE])
        return cls(round(float(low), 6), round(float(mid), 6))


@dataclass(frozen=True)
class Calibration:
    """One index's references; `images` is the collection size they were measured at."""

    identity: str
    bank: str
    images: int
    text: Scale
    image: Scale

    def is_current(self, identity: str, bank: str, images: int) -> bool:
        grown = images > 2 * self.images or 2 * images < self.images
        return self.identity == identity and self.bank == bank and not grown

    def scale(self, image_weighted: bool) -> Scale:
        return self.image if image_weighted else self.text


def default_min_relevance(random_weights: bool) -> float:
    """50, or 0 for a model with random weights, whose scores carry no meaning to rate."""
    return 0.0 if random_weights else DEFAULT_MIN_RELEVANCE


def match_word(relevance: float) -> str:
    """The relevance in a word, as the page's large view says it."""
    return "strong" if relevance >= STRONG else "possible" if relevance >= DEFAULT_MIN_RELEVANCE else "weak"


def rate(hits: Sequence[Hit], scale: Scale, min_relevance: float) -> tuple[list[Hit], list[Hit]]:
    """Each hit with its relevance, split into those at or above `min_relevance` and the weaker rest (ranks
    kept, best first)."""
    rated = [replace(hit, relevance=(r := round(scale.rate(hit.similarity), 1)), match=match_word(r)) for hit in hits]
    passed = [hit.relevance is not None and hit.relevance >= min_relevance for hit in rated]
    kept = [hit for hit, ok in zip(rated, passed, strict=True) if ok]
    return kept, [hit for hit, ok in zip(rated, passed, strict=True) if not ok]


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
    texts = encode_texts(list(prompts))
    pairs = vectors @ vectors.T
    distinct = pairs[~np.eye(len(vectors), dtype=bool)]
    text = Scale.of((texts @ vectors.T).ravel())
    # A single image has no pair: its image queries are rated like text ones.
    image = Scale.of(distinct) if distinct.size else text
    calibration = Calibration(identity, bank, images, text, image)
    index_dir.write_note(CACHE_FILE, json.dumps(asdict(calibration), indent=2))
    return calibration


def _parse(text: str | None) -> Calibration | None:
    if text is None:
        return None
    try:
        data = json.loads(text)
        return Calibration(**{**data, "text": Scale(**data["text"]), "image": Scale(**data["image"])})
    except (ValueError, TypeError, KeyError):
        return None  # from another version: measured again
