"""The embedding stage: turns decoded pixels and query texts into unit vectors in one space.

`Embedder` is the small interface the pipeline, the search engine and the service use; each runtime
(open_clip on torch, ONNX Runtime) implements it in its own module and `load_embedder` picks one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from importlib.util import find_spec

import numpy as np

from viewfinder.decode import PreprocessSpec
from viewfinder.errors import ViewfinderError
from viewfinder.models import ModelSpec


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


RUNTIMES = ("auto", "torch", "onnx", "onnx-int8")


def load_embedder(spec: ModelSpec, device: str = "auto", runtime: str = "auto") -> Embedder:
    """Loads the model a spec names on `device` (auto, cpu or cuda) with a runtime from RUNTIMES.

    `auto` is torch when the device is cuda, else ONNX Runtime when it is installed and the model exports
    (the export is cached, so later loads need no torch), else torch.
    """
    if runtime not in RUNTIMES:
        raise ViewfinderError(f"Unknown runtime {runtime!r}; use one of {', '.join(RUNTIMES)}.")
    chosen = runtime
    if runtime == "auto":
        chosen = "onnx" if device != "cuda" and find_spec("onnxruntime") is not None else "torch"
    if chosen != "torch":
        from viewfinder.embed_onnx import ExportUnsupportedError, OnnxEmbedder

        try:
            return OnnxEmbedder(spec, device, int8=chosen == "onnx-int8")
        except ExportUnsupportedError:
            if runtime != "auto":
                raise
    from viewfinder.embed_torch import OpenClipEmbedder

    return OpenClipEmbedder(spec, device)


def cuda_available() -> bool:
    """Whether torch is installed and sees a CUDA GPU."""
    if find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
