"""The model interfaces: `TextEncoder` turns query texts into unit vectors; `Embedder`, an index's model, also
turns decoded pixels into vectors in the same space.

Search holds a `TextEncoder` whichever encodes its text terms: the index's model, or a query model trained
into its space (query_registry). Each runtime (open_clip on torch, ONNX Runtime) implements them in its own
module and `factory` picks one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from viewfinder.images.preprocess import PreprocessSpec
from viewfinder.models.registry import ModelSpec

if TYPE_CHECKING:
    from viewfinder.models.query_registry import QuerySpec


class TextEncoder(ABC):
    """Texts to L2-normalised float32 vectors of `dim` values."""

    spec: ModelSpec | QuerySpec
    dim: int
    device: str
    runtime: str  # torch, onnx or onnx-int8 (settings.RUNTIMES other than auto)

    @abstractmethod
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embeds texts; returns (N, dim) float32, one unit row per text."""

    def identity(self) -> str:
        """A string that differs whenever the vectors this model makes would differ."""
        return self.spec.identity()

    def load_text_tower(self) -> None:  # noqa: B027 (a hook: runtimes that load it at construction need none)
        """Loads what `encode_texts` needs now, so that the first query does not wait for it."""


class Embedder(TextEncoder):
    """A CLIP-style model: images and texts to unit vectors in one space."""

    spec: ModelSpec
    preprocess: PreprocessSpec

    @abstractmethod
    def encode_images(self, pixels: np.ndarray) -> np.ndarray:
        """Embeds a batch of uint8 (N, S, S, 3) images prepared by `decode`; returns (N, dim) float32."""

    def load_image_tower(self) -> None:
        """Loads what `encode_images` needs now (indexing does it while the first images decode)."""


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
