"""Picks and loads the runtime that runs a model: ONNX Runtime on the CPU, open_clip on torch otherwise."""

from __future__ import annotations

import os
import sys
from importlib.util import find_spec

from viewfinder.errors import ViewfinderError
from viewfinder.models.embedder import Embedder
from viewfinder.models.registry import ModelSpec
from viewfinder.settings import RUNTIMES


def load_embedder(spec: ModelSpec, device: str = "auto", runtime: str = "auto", auto_int8: bool = False) -> Embedder:
    """Loads the model a spec names on `device` (auto, cpu or cuda) with a runtime from RUNTIMES.

    `auto` is torch when the device is cuda, else ONNX Runtime when it is installed and the model exports
    (the export is cached, so later loads need no torch), else torch. With `auto_int8` (indexing) auto's ONNX
    Runtime is the dynamic-int8 one (BENCHMARKS.md: its fidelity to fp32, and why).
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
            if runtime == "auto" and auto_int8:
                return OnnxEmbedder(spec, device, int8=True, int8_optional=True)
            return OnnxEmbedder(spec, device, int8=chosen == "onnx-int8")
        except ExportUnsupportedError:
            if runtime != "auto":
                raise
    from viewfinder.models.torch_runtime import OpenClipEmbedder

    return OpenClipEmbedder(spec, device)


# Where a GPU's kernel driver shows itself on Linux (NVIDIA's, and AMD's for ROCm builds of torch). Without one
# torch cannot see a GPU, so there is no need to import it (about a second and several hundred MB) to ask.
GPU_DRIVER_PATHS = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/kfd")


def cuda_available() -> bool:
    """Whether torch is installed and sees a CUDA GPU."""
    if find_spec("torch") is None:
        return False
    if sys.platform == "linux" and not any(os.path.exists(path) for path in GPU_DRIVER_PATHS):
        return False
    import torch

    return torch.cuda.is_available()
