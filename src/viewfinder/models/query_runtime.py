"""Loads a query model (query_registry) on a runtime: ONNX Runtime from a cached export, or torch."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from importlib.util import find_spec

import numpy as np

from viewfinder.errors import ViewfinderError
from viewfinder.models.hf_tokenizer import TOKENIZER_FILE, HfTokenizer
from viewfinder.models.onnx_format import META_FILE
from viewfinder.models.onnx_runtime import ensure_export
from viewfinder.models.query_registry import QuerySpec
from viewfinder.settings import RUNTIMES


class OnnxQueryEncoder:
    """A query model's exported text tower on ONNX Runtime (CPU, fp32): needs onnxruntime and tokenizers only."""

    runtime = "onnx"
    device = "cpu"

    def __init__(self, spec: QuerySpec) -> None:
        self.spec = spec
        self.folder = ensure_export(spec)
        self._meta = json.loads((self.folder / META_FILE).read_text())
        self.dim = int(self._meta["dim"])
        self._session = None
        self._tokenizer: HfTokenizer | None = None
        self._lock = threading.Lock()

    def load_text_tower(self) -> None:
        import onnxruntime as ort

        with self._lock:
            if self._session is None:
                meta = self._meta
                self._tokenizer = HfTokenizer(self.folder / TOKENIZER_FILE, meta["context_length"], meta["pad_id"])
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1  # one short sequence per query (onnx_runtime says why)
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                path = str(self.folder / "text.onnx")
                self._session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        self.load_text_tower()
        return self._session.run(None, {"tokens": self._tokenizer(texts, trim=True)})[0]


def load_query_encoder(spec: QuerySpec, device: str = "auto", runtime: str = "auto"):
    """The query model on `runtime`: auto is ONNX Runtime on the CPU when installed, else torch."""
    if runtime not in RUNTIMES:
        raise ViewfinderError(f"Unknown runtime {runtime!r}; use one of {', '.join(RUNTIMES)}.")
    if runtime == "auto":
        runtime = "onnx" if device != "cuda" and find_spec("onnxruntime") is not None else "torch"
    if runtime != "torch":  # int8 is not offered: ORT's quantiser rejects the exported XLM-R graph
        if device == "cuda":
            raise ViewfinderError("The ONNX runtime runs on the CPU; use --runtime torch to embed on a GPU.")
        return OnnxQueryEncoder(spec)
    from viewfinder.models.query_model import TorchQueryEncoder

    return TorchQueryEncoder(spec, device)
