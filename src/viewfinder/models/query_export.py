"""The ONNX export of a query model: its text tower and tokenizer (needs torch; run once per model)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch

from viewfinder.models import onnx_export
from viewfinder.models.hf_tokenizer import TOKENIZER_FILE
from viewfinder.models.query_model import CONTEXT_LENGTH, load_module, load_tokenizer
from viewfinder.models.query_registry import QuerySpec


def export_query_model(spec: QuerySpec, out: Path, external_data_bytes: int | None = None) -> None:
    """Writes text.onnx (with external data when large), tokenizer.json and export.json into `out`."""
    threshold = onnx_export.EXTERNAL_DATA_BYTES if external_data_bytes is None else external_data_bytes
    module = load_module(spec)
    tokenizer = load_tokenizer(spec)
    print(f"viewfinder: exporting {spec.name} to ONNX once (cached in {out.parent})", file=sys.stderr, flush=True)
    external = onnx_export.parameter_bytes(module) > threshold
    example = torch.from_numpy(tokenizer(["a photo", "zwei Hunde im Schnee"], trim=True))
    with torch.no_grad():
        onnx_export.export_tower(module, example, out / "text.onnx", "tokens", {0: "batch", 1: "tokens"}, external)
    shutil.copyfile(tokenizer.path, out / TOKENIZER_FILE)
    meta = {
        "query_model": spec.name,
        "identity": spec.identity(),
        "dim": spec.arch.dim,
        "context_length": CONTEXT_LENGTH,
        "pad_id": tokenizer.pad_id,
        "external_data": external,
    }
    (out / "export.json").write_text(json.dumps(meta, indent=2))
