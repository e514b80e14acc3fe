"""The embedding interface: turns decoded pixels and query texts into unit vectors in one space.

`Embedder` is the small interface the pipeline, the search engine and the service use; each runtime
(open_clip on torch, ONNX Runtime) implements it in its own module and `factory.load_embedder` picks one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from viewfinder.images.decode import PreprocessSpec
from viewfinder.models.registry import ModelSpec


class Embedder(ABC):
    """A CLIP-style model: images and texts to L2-normalised float32 vectors of `dim` values."""

    spec: ModelSpec
    dim: int
    preprocess: PreprocessSpec
    device: str
    runtime: str  # one of RUNTIMES other than auto

    @abstractmethod
    def encode_images(self, pixels: np.ndarray) -> np.ndarray:
        """Embeds a batch of uint8 (N, S, S, 3) images prepared by `decode`; returns (N, dim) float32."""

    @abstractmethod
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embeds texts; returns (N, dim) float32, one unit row per text."""

    def load_text_tower(self) -> None:  # noqa: B027 (a hook: runtimes that load both towers at once need none)
        """Loads what `encode_texts` needs now, so that the first query does not wait for it."""

    def load_image_tower(self) -> None:  # noqa: B027 (the same hook for `encode_images`)
        """Loads what `encode_images` needs now (indexing does it while the first images decode)."""


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
