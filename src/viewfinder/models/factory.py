"""Picks and loads the runtime that runs a model: the one rule for `--device auto` and `--runtime auto`, used by
indexing (local and Ray), search, the service and query models alike."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from importlib.util import find_spec

from viewfinder.errors import ViewfinderError
from viewfinder.models.embedder import Embedder
from viewfinder.models.registry import ModelSpec
from viewfinder.settings import DEVICES, RUNTIMES


@dataclass(frozen=True)
class RuntimeChoice:
    """Where and how a model runs. `device` may stay auto: torch then takes a GPU when it sees one."""

    device: str
    runtime: str  # torch, onnx or onnx-int8
    chosen: bool  # by auto: a model ONNX cannot export runs on torch, a tower int8 cannot quantise in fp32


def choose_runtime(device: str = "auto", runtime: str = "auto", indexing: bool = False) -> RuntimeChoice:
    """The runtime for `device` (auto, cpu or cuda) and `runtime` (one of RUNTIMES).

    `auto` is torch when the device is cuda or, for indexing, when device auto finds a GPU; otherwise ONNX
    Runtime when it is installed (a single query needs no GPU, and a server that never imports torch starts in
    seconds), else torch. ONNX's is int8 (onnx_quantize): the image tower for indexing, the text tower for
    queries at about half the time of fp32, each holding fp32's rankings (BENCHMARKS.md: fidelity and speed);
    a search's uploaded image stays fp32 (`load_embedder` says why). `--runtime onnx` keeps fp32.
    """
    if runtime not in RUNTIMES:
        raise ViewfinderError(f"Unknown runtime {runtime!r}; use one of {', '.join(RUNTIMES)}.")
    if device not in DEVICES:
        raise ViewfinderError(f"Unknown device {device!r}; use one of {', '.join(DEVICES)}.")
    if runtime != "auto":
        return RuntimeChoice(device, runtime, chosen=False)
    if indexing and device == "auto":
        device = "cuda" if cuda_available() else "cpu"
    if device == "cuda" or find_spec("onnxruntime") is None:
        return RuntimeChoice(device, "torch", chosen=True)
    return RuntimeChoice(device, "onnx-int8", chosen=True)


def load_embedder(spec: ModelSpec, device: str = "auto", runtime: str = "auto", indexing: bool = False) -> Embedder:
    """Loads the model a spec names as `choose_runtime` says; the ONNX export is cached, so later loads need
    no torch."""
    choice = choose_runtime(device, runtime, indexing)
    if spec.layout is not None and choice.runtime == "torch":
        if not choice.chosen:
            raise ViewfinderError(f"{spec.name} is published in ONNX form: it runs on --runtime onnx, not torch.")
        choice = RuntimeChoice("cpu", "onnx-int8", chosen=True)
    if choice.runtime != "torch":
        from viewfinder.models.onnx_format import ExportUnsupportedError
        from viewfinder.models.onnx_runtime import OnnxEmbedder

        try:
            int8 = choice.runtime == "onnx-int8"
            # auto quantises what holds fp32's rankings: for a search the text tower, not an uploaded image's.
            fp32_image = int8 and choice.chosen and not indexing
            return OnnxEmbedder(
                spec, choice.device, int8=int8, int8_optional=int8 and choice.chosen, fp32_image=fp32_image
            )
        except ExportUnsupportedError:
            if not choice.chosen:
                raise
    from viewfinder.models.torch_runtime import OpenClipEmbedder

    return OpenClipEmbedder(spec, choice.device)


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
