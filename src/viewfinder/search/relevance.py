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

import contextlib
import hashlib
import json
import math
import os
import threading
import weakref
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from viewfinder.errors import BadQueryError
from viewfinder.models.prompts import calibration_prompts
from viewfinder.models.registry import resolve_model
from viewfinder.search import ranking
from viewfinder.search.engine import Filters, Hit, SearchEngine, SearchResult
from viewfinder.search.query import Term

SAMPLE_SIZE = 2000
LOW_QUANTILE, MID_QUANTILE = 0.90, 0.99
DEFAULT_MIN_RELEVANCE = 50.0
CLOSEST = 3  # results shown, labelled as the closest, when none reaches the threshold
CACHE_FILE = "calibration.json"
_LOCK = threading.Lock()
_BY_ENGINE: weakref.WeakKeyDictionary[SearchEngine, Calibration] = weakref.WeakKeyDictionary()


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


@dataclass
class RatedResult:
    """A search's hits at or above `min_relevance`; when there are none, the `closest` few below it."""

    result: SearchResult
    min_relevance: float
    closest: list[Hit]


def check_min_relevance(value: float) -> float:
    """The threshold, or BadQueryError when it is not a percentage."""
    if not (math.isfinite(value) and 0.0 <= value <= 100.0):
        raise BadQueryError("min_relevance must be a percentage between 0 and 100.")
    return float(value)


def default_min_relevance(engine: SearchEngine) -> float:
    """50, or 0 for a model with random weights, whose scores carry no meaning to rate."""
    random_query = engine.query_spec is not None and engine.query_spec.is_random
    return 0.0 if random_query or resolve_model(engine.manifest.model).is_random else DEFAULT_MIN_RELEVANCE


def rate(
    engine: SearchEngine, terms: Sequence[Term], result: SearchResult, min_relevance: float | None = None
) -> RatedResult:
    """Adds each hit's relevance and keeps those at or above `min_relevance` (ranks are kept)."""
    if min_relevance is None:
        min_relevance = default_min_relevance(engine)
    check_min_relevance(min_relevance)
    if not result.hits:
        return RatedResult(result, min_relevance, [])
    calibration = calibration_of(engine)
    scale = calibration.image if _image_weighted(terms) else calibration.text
    rated = [replace(hit, relevance=round(scale.rate(hit.similarity), 1)) for hit in result.hits]
    kept = [hit for hit in rated if hit.relevance >= min_relevance]
    closest = [] if kept else rated[:CLOSEST]
    return RatedResult(replace(result, hits=kept), min_relevance, closest)


def search(
    engine: SearchEngine,
    terms: Sequence[Term],
    k: int = 50,
    filters: Filters | None = None,
    rerank: ranking.Rerank | None = None,
    min_relevance: float | None = None,
) -> RatedResult:
    """ranking.search, then `rate`: the one call behind the CLI's and the service's searches."""
    if min_relevance is not None:
        check_min_relevance(min_relevance)  # before the search's work
    return rate(engine, terms, ranking.search(engine, terms, k, filters, rerank), min_relevance)


def calibration_of(engine: SearchEngine) -> Calibration:
    """The index's calibration, read from its directory or measured (and stored there when writable).

    An engine sees one generation of its index, so the answer is kept with the engine for its later searches.
    """
    known = _BY_ENGINE.get(engine)
    if known is None:
        known = _BY_ENGINE[engine] = _load_or_measure(engine)
    return known


def _load_or_measure(engine: SearchEngine) -> Calibration:
    prompts = calibration_prompts(engine.manifest.model)
    bank = hashlib.sha256("\n".join(prompts).encode()).hexdigest()[:16]
    images = engine.catalog.count()
    path = Path(engine.index_dir.path) / CACHE_FILE
    with _LOCK:
        stored = _read(path)
        if stored is not None and stored.is_current(engine.text_identity, bank, images):
            return stored
        sample = _sample_vectors(engine)
        texts = engine.text_encoder.encode_texts(list(prompts))
        pairs = sample @ sample.T
        distinct = pairs[~np.eye(len(sample), dtype=bool)]
        text = Scale.of((texts @ sample.T).ravel())
        # A single image has no pair: its image queries are rated like text ones.
        image = Scale.of(distinct) if distinct.size else text
        calibration = Calibration(engine.text_identity, bank, images, text, image)
        _write(path, calibration)
        return calibration


def _sample_vectors(engine: SearchEngine) -> np.ndarray:
    ids = engine.catalog.ids_matching()
    chosen = np.random.default_rng(0).choice(ids, size=min(SAMPLE_SIZE, len(ids)), replace=False)
    vectors = [engine.catalog.vector_of(int(i), engine.manifest.dim) for i in sorted(chosen)]
    return np.stack([v for v in vectors if v is not None]).astype(np.float32)


def _image_weighted(terms: Sequence[Term]) -> bool:
    positive = [term for term in terms if term.weight > 0]
    image_weight = sum(term.weight for term in positive if term.text is None)
    return image_weight > sum(term.weight for term in positive if term.text is not None)


def _read(path: Path) -> Calibration | None:
    try:
        data = json.loads(path.read_text())
        return Calibration(**{**data, "text": Scale(**data["text"]), "image": Scale(**data["image"])})
    except (OSError, ValueError, TypeError, KeyError):
        return None  # absent or from another version: measured again


def _write(path: Path, calibration: Calibration) -> None:
    """Stores the calibration atomically; an index the searcher cannot write is simply measured again."""
    temporary = path.with_name(f".{CACHE_FILE}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(asdict(calibration), indent=2))
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
