"""Loads a query model (query_registry) on a runtime: ONNX Runtime from a cached export, or torch."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from viewfinder.errors import ViewfinderError
from viewfinder.models.embedder import TextEncoder
from viewfinder.models.factory import choose_runtime
from viewfinder.models.hf_tokenizer import TOKENIZER_FILE, HfTokenizer
from viewfinder.models.onnx_format import META_FILE
from viewfinder.models.onnx_runtime import ensure_export, require_onnxruntime
from viewfinder.models.query_registry import QuerySpec


class OnnxQueryEncoder(TextEncoder):
    """A query model's exported text tower on ONNX Runtime (CPU, fp32): needs onnxruntime and tokenizers only."""

    runtime = "onnx"
    device = "cpu"

    def __init__(self, spec: QuerySpec) -> None:
        self.spec = spec
        require_onnxruntime()
        self.folder = ensure_export(spec)
        self._meta = json.loads((self.folder / META_FILE).read_text())
        self.dim = int(self._meta["dim"])
        self._text: tuple[Any, HfTokenizer] | None = None  # the session (onnxruntime is untyped), its tokenizer
        self._lock = threading.Lock()

    def load_text_tower(self) -> None:
        self._text_tower()

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        session, tokenizer = self._text_tower()
        return session.run(None, {"tokens": tokenizer(texts, trim=True)})[0]

    def _text_tower(self) -> tuple[Any, HfTokenizer]:
        """The text tower's session and tokenizer, loaded on first use."""
        import onnxruntime as ort

        with self._lock:
            if self._text is None:
                meta = self._meta
                tokenizer = HfTokenizer(self.folder / TOKENIZER_FILE, meta["context_length"], meta["pad_id"])
                options = ort.SessionOptions()
                options.intra_op_num_threads = 1  # one short sequence per query (onnx_runtime says why)
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                path = str(self.folder / "text.onnx")
                session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
                self._text = (session, tokenizer)
            return self._text


def load_query_encoder(spec: QuerySpec, device: str = "auto", runtime: str = "auto") -> TextEncoder:
    """The query model where `factory.choose_runtime` says (auto: ONNX Runtime on the CPU when installed)."""
    choice = choose_runtime(device, runtime)
    if choice.runtime != "torch":  # int8 is not offered: ORT's quantiser rejects the exported XLM-R graph
        if choice.device == "cuda":
            raise ViewfinderError("The ONNX runtime runs on the CPU; use --runtime torch to embed on a GPU.")
        return OnnxQueryEncoder(spec)
    from viewfinder.models.query_model import TorchQueryEncoder

    return TorchQueryEncoder(spec, choice.device)
