"""Picks and loads the runtime that runs a model: ONNX Runtime on the CPU, open_clip on torch otherwise."""

from __future__ import annotations

from importlib.util import find_spec

from viewfinder.errors import ViewfinderError
from viewfinder.models.embedder import RUNTIMES, Embedder
from viewfinder.models.registry import ModelSpec


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
        from viewfinder.models.onnx_format import ExportUnsupportedError
        from viewfinder.models.onnx_runtime import OnnxEmbedder

        try:
            return OnnxEmbedder(spec, device, int8=chosen == "onnx-int8")
        except ExportUnsupportedError:
            if runtime != "auto":
                raise
    from viewfinder.models.torch_runtime import OpenClipEmbedder

    return OpenClipEmbedder(spec, device)


def cuda_available() -> bool:
    """Whether torch is installed and sees a CUDA GPU."""
    if find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()
