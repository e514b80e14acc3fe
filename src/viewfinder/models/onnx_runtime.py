"""The ONNX Runtime runtime: open_clip's towers exported once per model, then run without torch.

The export (which needs torch and open_clip, once) writes `image.onnx`, `text.onnx`, the tokenizer's
vocabulary and `export.json` into a cache folder named after the model's identity. Loading reads only
those files with onnxruntime and numpy, so a server with a cached export starts without importing torch.
`int8` variants are made from the fp32 files by dynamic quantisation, on first use.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from viewfinder.errors import ModelUnavailableError, ViewfinderError
from viewfinder.images.decode import PreprocessSpec, to_model_input
from viewfinder.models.embedder import Embedder
from viewfinder.models.onnx_format import META_FILE, cache_root, export_dir
from viewfinder.models.registry import ModelSpec
from viewfinder.models.tokenizer import VOCAB_FILE, ClipTokenizer


def ensure_export(spec: ModelSpec) -> Path:
    """The model's export folder, exporting it first when it is not cached (this needs torch)."""
    folder = export_dir(spec)
    if (folder / META_FILE).is_file():
        return folder
    try:
        from viewfinder.models.onnx_export import export_model
    except ImportError as error:
        raise ModelUnavailableError(
            f"No ONNX export of {spec.name} is cached in {cache_root()} and the exporter cannot run ({error}); "
            "install viewfinder[torch,onnx] once to make it."
        ) from error
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the final folder and renamed into place, so a reader never sees half an export.
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
    try:
        export_model(spec, staging)
        try:
            staging.rename(folder)
        except OSError:
            if not (folder / META_FILE).is_file():  # not another process winning the same race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def quantized_file(folder: Path, name: str) -> Path:
    """The dynamic-int8 version of an exported tower, made on first use from the fp32 file."""
    target = folder / f"{name}.int8.onnx"
    if not target.is_file():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        staging = folder / f".{name}.int8.{os.getpid()}.onnx"
        # Unsigned weights: AVX2 without VNNI multiplies u8 by s8 with 16-bit saturation, which costs signed
        # weights fidelity (cosine ≈ 0.99 against fp32); u8 x u8 keeps it at ≈ 0.9999. Per-channel scales
        # keep CLIP's widely ranging projection columns accurate.
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)  # its advice to pre-process the model is for static quantisation
        try:
            quantize_dynamic(
                folder / f"{name}.onnx",
                staging,
                weight_type=QuantType.QUInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul", "Gemm"],
            )
        finally:
            logging.disable(previous)
        os.replace(staging, target)
    return target


class OnnxEmbedder(Embedder):
    """open_clip's towers on ONNX Runtime (CPU), fp32 or dynamic int8; the image tower loads on first use."""

    def __init__(self, spec: ModelSpec, device: str = "cpu", int8: bool = False) -> None:
        if device == "cuda":
            raise ViewfinderError("The ONNX runtime runs on the CPU; use --runtime torch to embed on a GPU.")
        self.spec = spec
        self.device = "cpu"
        self.int8 = int8
        self.runtime = "onnx-int8" if int8 else "onnx"
        self.folder = ensure_export(spec)
        meta = json.loads((self.folder / META_FILE).read_text())
        self.dim = int(meta["dim"])
        pre = meta["preprocess"]
        self.preprocess = PreprocessSpec(**{**pre, "mean": tuple(pre["mean"]), "std": tuple(pre["std"])})
        self.trimmed_text = bool(meta["trimmed_text"])
        self.tokenizer = ClipTokenizer(self.folder / VOCAB_FILE, int(meta["context_length"]))
        self._text = self._session("text")
        self._image = None
        self._lock = threading.Lock()

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        tokens = self.tokenizer(texts, trim=self.trimmed_text)
        return self._text.run(None, {"tokens": tokens})[0]

    def encode_images(self, pixels: np.ndarray) -> np.ndarray:
        with self._lock:
            if self._image is None:
                self._image = self._session("image")
        return self._image.run(None, {"pixels": to_model_input(pixels, self.preprocess)})[0]

    def _session(self, name: str):
        import onnxruntime as ort

        path = quantized_file(self.folder, name) if self.int8 else self.folder / f"{name}.onnx"
        options = ort.SessionOptions()
        # A text query is one short sequence: on one thread it never waits for a second thread that another
        # process has taken the core from (2-thread runs were 2-3x slower on a busy two-core machine).
        # Image batches use every core.
        options.intra_op_num_threads = 1 if name == "text" else 0  # 0: one thread per core
        # Idle pool threads would otherwise spin after each batch, taking the cores the decode threads need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
