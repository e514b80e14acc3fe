"""Exports an open_clip model's image and text towers to ONNX files (needs torch; run once per model)."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import warnings
from pathlib import Path

import open_clip
import torch
import torch.nn.functional as F
from open_clip.tokenizer import SimpleTokenizer
from open_clip.transformer import text_global_pool

from viewfinder.models.onnx_format import META_FILE, ExportUnsupportedError
from viewfinder.models.registry import ModelSpec
from viewfinder.models.tokenizer import VOCAB_FILE
from viewfinder.models.torch_runtime import create_model, preprocess_spec_of

OPSET = 18


class ImageTower(torch.nn.Module):
    """encode_image with the L2 normalisation in the graph."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.model.encode_image(pixels), dim=-1)


class TextTower(torch.nn.Module):
    """encode_text over the full context, normalised: for text towers that cannot be trimmed."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.model.encode_text(tokens), dim=-1)


class TrimmedTextTower(torch.nn.Module):
    """CLIP.encode_text over any sequence length up to the context, with the positional embedding and the
    causal mask cut to it. Each position attends only to earlier ones and the output is read at the end
    token, so the tokens after it, padding included, never change the result."""

    def __init__(self, model: open_clip.model.CLIP) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        model = self.model
        length = tokens.shape[1]
        x = model.token_embedding(tokens) + model.positional_embedding[:length]
        x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
        x = text_global_pool(model.ln_final(x), tokens, "argmax")
        projection = model.text_projection
        x = projection(x) if isinstance(projection, torch.nn.Linear) else x @ projection
        return F.normalize(x, dim=-1)


def can_trim(model: torch.nn.Module) -> bool:
    """Whether the text tower is causal and pooled at the end token, which makes trimming exact."""
    return isinstance(model, open_clip.model.CLIP) and model.text_pool_type == "argmax" and model.attn_mask is not None


def export_model(spec: ModelSpec, out: Path) -> None:
    """Writes image.onnx, text.onnx, the vocabulary and export.json for a model into `out`."""
    model, tokenizer = create_model(spec, "cpu")
    # Seconds for small models, a minute or two for large ones; said so that a first run does not look stuck.
    print(f"viewfinder: exporting {spec.name} to ONNX once (cached in {out.parent})", file=sys.stderr, flush=True)
    if type(tokenizer) is not SimpleTokenizer or tokenizer.reduction_fn is not None:
        raise ExportUnsupportedError(f"{spec.name} uses a tokenizer the ONNX runtime does not implement.")
    trimmed = can_trim(model)
    preprocess = preprocess_spec_of(model)
    side = preprocess.image_size
    with torch.no_grad():
        dim = int(model.encode_text(tokenizer(["a photo"])).shape[-1])
        _export(ImageTower(model), torch.zeros(2, 3, side, side), out / "image.onnx", "pixels", {0: "batch"})
        text_tower = TrimmedTextTower(model) if trimmed else TextTower(model)
        text_axes = {0: "batch", 1: "tokens"} if trimmed else {0: "batch"}
        _export(text_tower, tokenizer(["a photo", "two dogs"])[:, :8], out / "text.onnx", "tokens", text_axes)
    shutil.copyfile(Path(open_clip.__file__).parent / VOCAB_FILE, out / VOCAB_FILE)
    meta = {
        "model": spec.name,
        "identity": spec.identity(),
        "dim": dim,
        "context_length": int(tokenizer.context_length),
        "trimmed_text": trimmed,
        "preprocess": {**vars(preprocess), "mean": list(preprocess.mean), "std": list(preprocess.std)},
        "opset": OPSET,
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2))


def _export(module: torch.nn.Module, example: torch.Tensor, path: Path, name: str, axes: dict[int, str]) -> None:
    dims = {axis: torch.export.Dim.DYNAMIC for axis in axes}
    # The exporter's optimiser logs harmless notes ("Skipping constant folding ...") a user cannot act on.
    logging.getLogger("onnxscript").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module.eval(),
            (example,),
            input_names=[name],
            output_names=["vector"],
            dynamic_shapes={name: dims},
            opset_version=OPSET,
            dynamo=True,
            verbose=False,
        )
    program.save(str(path))
