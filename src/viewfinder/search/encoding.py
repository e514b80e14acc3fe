"""Query terms to vectors: the index's model for images (and texts), a query model for texts when one is set,
and a cache of text vectors kept across index generations while the model stays the same."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np

from viewfinder.errors import BadQueryError, IndexMismatchError, UnknownImageError
from viewfinder.images.decode import DecodeError, decode_bytes, decode_image
from viewfinder.models.embedder import Embedder, TextEncoder
from viewfinder.models.factory import load_embedder
from viewfinder.models.query_registry import check_aligned, resolve_query_model
from viewfinder.models.registry import ModelSpec, resolve_model
from viewfinder.search.lru import LRUCache
from viewfinder.search.query import Term

TEXT_CACHE_SIZE = 1024

log = logging.getLogger(__name__)


class TermEncoder:
    """Encodes a query's terms with the models of one index; safe to share between threads.

    Models load on first use (searches by indexed image id never need one); `check_model` is called with the
    index model's spec before it loads, so an index made with another model is refused first.
    """

    def __init__(
        self,
        model: str,
        identity: str,
        dim: int,
        device: str = "auto",
        runtime: str = "auto",
        query_model: str | None = None,
        check_model: Callable[[ModelSpec], object] | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.model = model
        self.identity = identity  # the manifest's: changes whenever the model's vectors would
        self.dim = dim
        self.device = device
        self.runtime = runtime
        self.query_model = query_model
        self.query_spec = resolve_query_model(query_model) if query_model else None
        if self.query_spec is not None:
            check_aligned(self.query_spec, model, dim)
        self._check_model = check_model
        self._embedder = embedder
        self._query_encoder: TextEncoder | None = None
        self._lock = threading.Lock()
        self._text_cache: LRUCache[np.ndarray] = LRUCache(TEXT_CACHE_SIZE)

    @cached_property
    def random_weights(self) -> bool:
        """Whether the scores come from random weights (no notion of relevance to rate); resolved once."""
        random_query = self.query_spec is not None and self.query_spec.is_random
        return random_query or resolve_model(self.model).is_random

    @property
    def embedder(self) -> Embedder:
        """The index's model, loaded on first use."""
        with self._lock:
            if self._embedder is None:
                spec = resolve_model(self.model)
                if self._check_model is not None:
                    self._check_model(spec)
                self._embedder = load_embedder(spec, self.device, self.runtime)
            return self._embedder

    @property
    def text_encoder(self) -> TextEncoder:
        """What encodes text terms: the query model when one is set, else the index's model."""
        if self.query_spec is None:
            return self.embedder
        with self._lock:
            if self._query_encoder is None:
                from viewfinder.models.query_runtime import load_query_encoder

                self._query_encoder = load_query_encoder(self.query_spec, self.device, self.runtime)
            return self._query_encoder

    @property
    def text_identity(self) -> str:
        """Changes whenever text queries' vectors would (the query model's identity joins the index's)."""
        return self.identity + (f"|{self.query_spec.identity()}" if self.query_spec is not None else "")

    def for_index(self, model: str, identity: str, dim: int, check_model: Callable[[ModelSpec], object]) -> TermEncoder:
        """An encoder for another generation of the index: it shares this one's loaded models and text cache
        while the index's model is the same (a rebuilt index may have another). A query model aligned with
        the model an upgrade replaced no longer applies: it is dropped, and said so once."""
        query_model = self.query_model
        if self.query_spec is not None:
            try:
                check_aligned(self.query_spec, model, dim)
            except IndexMismatchError as error:
                log.warning("%s Text is now encoded with %s.", error, model)
                query_model = None
        fresh = TermEncoder(model, identity, dim, self.device, self.runtime, query_model, check_model)
        if query_model is not None:
            fresh._query_encoder = self._query_encoder
        if identity == self.identity:
            fresh._embedder = self._embedder
            fresh._text_cache = self._text_cache
        return fresh

    def warm(self, needs_text: bool, needs_image: bool) -> None:
        """Loads what the terms need before a query is timed: loading is start-up work, not a query's."""
        if needs_text:
            self.text_encoder.load_text_tower()
        if needs_image:
            _ = self.embedder

    def vectors(self, terms: Sequence[Term], vector_of_image: Callable[[int], np.ndarray | None]) -> np.ndarray:
        """One unit vector per term; `vector_of_image` gives an indexed image's stored vector by id."""
        self._encode_new_texts([term.text for term in terms if term.text is not None])
        return np.stack([self._term_vector(term, vector_of_image) for term in terms])

    def text_vectors(self, texts: list[str]) -> np.ndarray:
        return self.text_encoder.encode_texts(texts)

    def _term_vector(self, term: Term, vector_of_image: Callable[[int], np.ndarray | None]) -> np.ndarray:
        if term.text is not None:
            return self._text_vector(term.text)
        if term.image_id is not None:
            vector = vector_of_image(parse_image_id(term.image_id))
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


def parse_image_id(image_id: str | int) -> int:
    """Image ids are the catalog's integer ids, written as decimal strings."""
    text = str(image_id).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise UnknownImageError(f"No indexed image has id {image_id!r}.")
    return int(text)
