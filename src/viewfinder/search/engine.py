"""The search engine over one index directory: the library behind the CLI's `search` and the HTTP service."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from viewfinder.errors import BadQueryError, UnknownImageError
from viewfinder.images.decode import DecodeError, decode_bytes, decode_image
from viewfinder.models.embedder import Embedder
from viewfinder.models.factory import load_embedder
from viewfinder.models.query_registry import QueryEncoder, check_aligned, resolve_query_model
from viewfinder.models.registry import resolve_model
from viewfinder.search import query as algebra
from viewfinder.search.lru import LRUCache
from viewfinder.search.query import Term
from viewfinder.sources import Presence
from viewfinder.store.catalog import Catalog, ImageRecord
from viewfinder.store.faiss_index import filter_path
from viewfinder.store.filters import Filters
from viewfinder.store.indexdir import IndexDir, Manifest

MAX_K = 1000
TEXT_CACHE_SIZE = 1024
# Extra results fetched beyond k, for those the catalog deleted since the vector index was loaded.
OVERFETCH_MIN = 16


@dataclass(frozen=True)
class Hit:
    rank: int
    image: ImageRecord
    similarity: float
    relevance: float | None = None  # 0-100, set by search.relevance; None where not rated


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]
    timings_ms: dict[str, float] = field(default_factory=dict)


class SearchEngine:
    """Opens an index read-only and answers queries; safe to share between threads."""

    def __init__(
        self,
        index_dir: IndexDir,
        device: str = "auto",
        embedder: Embedder | None = None,
        runtime: str = "auto",
        query_model: str | None = None,
    ) -> None:
        """`query_model`: a text encoder aligned to the index's model (query_registry) that encodes text terms."""
        self.index_dir = index_dir
        self.device = device
        self.runtime = runtime
        self.manifest: Manifest = index_dir.read_manifest()
        self.query_model = query_model
        self.query_spec = resolve_query_model(query_model) if query_model else None
        if self.query_spec is not None:
            check_aligned(self.query_spec, self.manifest.model, self.manifest.dim)
        self._query_encoder = None
        # Taken before the catalog opens: if the index is replaced in between, the next check sees a change.
        self.identity = index_dir.identity(self.manifest)
        self.catalog: Catalog = index_dir.open_catalog(readonly=True)
        self.vectors, self.vectors_rebuilt = index_dir.load_vectors(self.catalog, self.manifest.dim)
        self.generation = self.catalog.generation()
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self._text_cache: LRUCache[np.ndarray] = LRUCache(TEXT_CACHE_SIZE)

    @classmethod
    def open(
        cls, path: str | Path, device: str = "auto", runtime: str = "auto", query_model: str | None = None
    ) -> SearchEngine:
        return cls(IndexDir(Path(path)), device, runtime=runtime, query_model=query_model)

    @property
    def text_encoder(self) -> Embedder | QueryEncoder:
        """What encodes text terms: the query model when one is set, else the index's model."""
        if self.query_spec is None:
            return self.embedder
        with self._embedder_lock:
            if self._query_encoder is None:
                from viewfinder.models.query_runtime import load_query_encoder

                self._query_encoder = load_query_encoder(self.query_spec, self.device, self.runtime)
            return self._query_encoder

    @property
    def text_identity(self) -> str:
        """Changes whenever text queries' vectors would (the query model's identity joins the index's)."""
        suffix = f"|{self.query_spec.identity()}" if self.query_spec is not None else ""
        return self.manifest.identity + suffix

    @property
    def embedder(self) -> Embedder:
        """The model, loaded on first use (searches by indexed image id never need it)."""
        with self._embedder_lock:
            if self._embedder is None:
                spec = resolve_model(self.manifest.model)
                self.index_dir.check_model(spec)
                self._embedder = load_embedder(spec, self.device, self.runtime)
            return self._embedder

    def reopen(self) -> SearchEngine:
        """A new engine over the index's current files, sharing this one's loaded model and text cache.

        The model is shared only while the manifest names the same model: a rebuilt index may not.
        """
        fresh = SearchEngine(self.index_dir, self.device, runtime=self.runtime, query_model=self.query_model)
        fresh._query_encoder = self._query_encoder
        if fresh.manifest.identity == self.manifest.identity:
            fresh._embedder = self._embedder
            fresh._text_cache = self._text_cache
        return fresh

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> SearchEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def search(self, terms: Sequence[Term], k: int = 50, filters: Filters | None = None) -> SearchResult:
        """Ranks the index for a query; similarities are cosines with the combined query vector."""
        if not 1 <= k <= MAX_K:
            raise BadQueryError(f"k must be between 1 and {MAX_K}.")
        terms = algebra.validate(terms)
        if any(term.text is not None for term in terms):
            # Loading the model, and its text tower (a runtime may load towers on first use), is start-up
            # work, not part of a query's time.
            self.text_encoder.load_text_tower()
        if any(term.image_path is not None or term.image_bytes is not None for term in terms):
            _ = self.embedder  # an uploaded image needs the index's model
        started = time.perf_counter()
        self._encode_new_texts([term.text for term in terms if term.text is not None])
        term_vectors = np.stack([self._term_vector(term) for term in terms])
        query_vector = algebra.combine(term_vectors, terms)
        encoded = time.perf_counter()
        hits = self._ranked(query_vector, k, filters)
        searched = time.perf_counter()
        timings = {
            "encode": (encoded - started) * 1000,
            "search": (searched - encoded) * 1000,
            "total": (searched - started) * 1000,
        }
        return SearchResult(algebra.describe(terms), hits, {key: round(value, 3) for key, value in timings.items()})

    def catalog_state(self) -> tuple[object, ...]:
        """What an answer depends on: this index, the generation loaded and the catalog's generation now (rows
        read live from the catalog change while a writer works, before the engine is swapped)."""
        return self.identity, self.generation, self.catalog.generation()

    def _ranked(self, query_vector: np.ndarray, k: int, filters: Filters | None) -> list[Hit]:
        """The top k hits that the catalog still holds and the filters pass.

        While a writer works, the vector index still holds images the catalog has since deleted, and a
        post-filter drops results too, so the search over-fetches and fetches deeper (doubling, at most the
        whole index) until k hits are found or the index has no more.
        """
        selector = required = None
        if filters is not None and not filters.is_empty():
            allowed = self.catalog.ids_matching(filters)
            if len(allowed) == 0:
                return []
            if len(allowed) < self.catalog.count():  # else the filter passes everything: no filter at all
                path = filter_path(len(allowed), self.vectors.count)
                if getattr(self.vectors, "pushes_down_filters", False):
                    path = "pushed"  # the store evaluates the filters itself (Milvus)
                selector = allowed if path == "selector" else filters if path == "pushed" else None
                required = np.sort(allowed) if path == "post" else None
        total = self.vectors.count
        presence = Presence()  # each source asked once per query: an unplugged one costs no stat per row
        fetch = k + max(OVERFETCH_MIN, k // 4)
        if required is not None:
            fetch = math.ceil(fetch * total / len(required))
        while True:
            scores, ids = self.vectors.search(query_vector, fetch, selector)
            pairs = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
            if required is not None:
                pairs = [
                    pair for pair, keep in zip(pairs, _members([i for i, _ in pairs], required), strict=True) if keep
                ]
            records = self.catalog.images([i for i, _ in pairs])
            # A file deleted or moved since the last `viewfinder index` is no result: its path leads nowhere.
            kept = [(i, s) for i, s in pairs if i in records and presence.still_there(records[i].path, records[i].root)]
            kept = kept[:k]
            exhausted = fetch >= total or bool(np.any(ids[0] < 0))  # FAISS pads with -1 past the last match
            if len(kept) >= k or exhausted:
                return [Hit(rank, records[i], s) for rank, (i, s) in enumerate(kept, 1)]
            fetch = min(total, fetch * 2)

    def image(self, image_id: str) -> ImageRecord:
        """The catalog row of an indexed image; UnknownImageError when there is none."""
        record = self.catalog.images([parse_image_id(image_id)]).get(parse_image_id(image_id))
        if record is None:
            raise UnknownImageError(f"No indexed image has id {image_id!r}.")
        return record

    def _term_vector(self, term: Term) -> np.ndarray:
        if term.text is not None:
            return self._text_vector(term.text)
        if term.image_id is not None:
            vector = self.catalog.vector_of(parse_image_id(term.image_id), self.manifest.dim)
            if vector is None:
                raise UnknownImageError(f"No indexed image has id {term.image_id!r}.")
            return vector
        preprocess = self.embedder.preprocess
        try:
            if term.image_path is not None:
                decoded = decode_image(term.image_path, preprocess)
            else:
                decoded = decode_bytes(term.image_bytes or b"", preprocess)
        except DecodeError as error:
            raise BadQueryError(f"The query image cannot be used: {error}.") from error
        return self.embedder.encode_images(decoded.pixels[None])[0]

    def _encode_new_texts(self, texts: list[str]) -> None:
        """Embeds the texts not cached yet in one batch: a query of 16 long terms costs one model run, not 16."""
        new = [text for text in dict.fromkeys(texts) if self._text_cache.get(text) is None]
        if len(new) > 1:
            for text, vector in zip(new, self.text_encoder.encode_texts(new), strict=True):
                self._text_cache.put(text, vector)

    def _text_vector(self, text: str) -> np.ndarray:
        vector = self._text_cache.get(text)
        if vector is None:
            vector = self.text_encoder.encode_texts([text])[0]
            self._text_cache.put(text, vector)
        return vector


def _members(ids: Sequence[int], sorted_ids: np.ndarray) -> np.ndarray:
    """Whether each of `ids` is in `sorted_ids` (a binary search each: the allowed set can be large)."""
    found = np.asarray(ids, dtype=np.int64)
    positions = np.minimum(np.searchsorted(sorted_ids, found), len(sorted_ids) - 1)
    return sorted_ids[positions] == found


def parse_image_id(image_id: str) -> int:
    """Image ids are the catalog's integer ids, written as decimal strings."""
    text = str(image_id).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise UnknownImageError(f"No indexed image has id {image_id!r}.")
    return int(text)
