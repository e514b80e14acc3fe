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

from viewfinder.models.hf_text import TorchHfTokenizer
from viewfinder.models.hf_tokenizer import TOKENIZER_FILE
from viewfinder.models.onnx_format import META_FILE, ExportUnsupportedError
from viewfinder.models.onnx_image_graph import IMAGE_GRAPH, write_image_graph
from viewfinder.models.onnx_text_graph import TEXT_GRAPH, write_text_graph
from viewfinder.models.registry import ModelSpec
from viewfinder.models.tokenizer import VOCAB_FILE
from viewfinder.models.torch_runtime import create_model, preprocess_spec_of

OPSET = 18
# Above this many bytes of weights (xlm-roberta-large's text tower alone is 2.2 GB in fp32) the towers are
# saved with external data: a protobuf file cannot pass 2 GB, and the graph adds to the weights.
EXTERNAL_DATA_BYTES = 1 << 30
# What the fused text graph is checked on against torch when it is written: a short text, and one that fills
# the context.
CHECK_TEXTS = ["a photo", "two dogs on a beach at sunset " * 12]


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


def export_model(spec: ModelSpec, out: Path, external_data_bytes: int | None = None) -> None:
    """Writes image.onnx, text.onnx, the tokenizer's files and export.json for a model into `out`.

    A model whose weights pass `external_data_bytes` (default EXTERNAL_DATA_BYTES) keeps each tower's weights
    in a `.onnx.data` file beside its graph: protobuf cannot hold a file over 2 GB.
    """
    if external_data_bytes is None:
        external_data_bytes = EXTERNAL_DATA_BYTES
    model, tokenizer = create_model(spec, "cpu")
    # Seconds for small models, a minute or two for large ones; said so that a first run does not look stuck.
    print(f"viewfinder: exporting {spec.name} to ONNX once (cached in {out.parent})", file=sys.stderr, flush=True)
    hf_tokens = isinstance(tokenizer, TorchHfTokenizer)
    if not hf_tokens and (type(tokenizer) is not SimpleTokenizer or tokenizer.reduction_fn is not None):
        raise ExportUnsupportedError(f"{spec.name} uses a tokenizer the ONNX runtime does not implement.")
    # An HF tower masks its padding (open_clip's mask is tokens != pad id), so any length gives the same vectors.
    trimmed = hf_tokens or can_trim(model)
    preprocess = preprocess_spec_of(model)
    side = preprocess.image_size
    external = parameter_bytes(model) > external_data_bytes
    with torch.no_grad():
        dim = int(model.encode_text(tokenizer(["a photo"])).shape[-1])
        image_path = out / "image.onnx"
        # A CLIP vision transformer is written as a fused graph (onnx_image_graph): 123 nodes for ViT-B/32, one
        # transpose where torch's export has 97, and its last block on the class token alone. It is checked
        # against torch on random pixels; other image towers are exported by torch.
        pixels = torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(0))
        image_fused = write_image_graph(model, pixels, image_path, external)
        if not image_fused:
            export_tower(ImageTower(model), torch.zeros(2, 3, side, side), image_path, "pixels", {0: "batch"}, external)
        # A CLIP text tower is written as a fused graph (onnx_text_graph): 399 nodes for ViT-B/32 in ONNX
        # Runtime's optimised form, torch's export 603, without its transposes, reshapes and slices.
        # It is checked against torch over the whole context (padding included), where trimming is exact.
        fused = (
            trimmed
            and not hf_tokens
            and write_text_graph(model, tokenizer.sot_token_id, tokenizer(CHECK_TEXTS), out / "text.onnx", external)
        )
        if not fused:
            text_tower = TrimmedTextTower(model) if trimmed and not hf_tokens else TextTower(model)
            text_axes = {0: "batch", 1: "tokens"} if trimmed else {0: "batch"}
            example = tokenizer(["a photo", "two dogs"])[:, :8]
            export_tower(text_tower, example, out / "text.onnx", "tokens", text_axes, external)
    if hf_tokens:
        shutil.copyfile(tokenizer.path, out / TOKENIZER_FILE)
        tokenizer_meta = {"tokenizer": "hf", "pad_id": tokenizer.pad_id}
    else:
        shutil.copyfile(Path(open_clip.__file__).parent / VOCAB_FILE, out / VOCAB_FILE)
        tokenizer_meta = {"tokenizer": "clip-bpe"}
    meta = {
        "model": spec.name,
        "identity": spec.identity(),
        "dim": dim,
        "context_length": int(tokenizer.context_length),
        "trimmed_text": trimmed,
        "text_graph": TEXT_GRAPH if fused else "torch",
        "image_graph": IMAGE_GRAPH if image_fused else "torch",
        **tokenizer_meta,
        "external_data": external,
        "preprocess": {**vars(preprocess), "mean": list(preprocess.mean), "std": list(preprocess.std)},
        "opset": OPSET,
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2))


def parameter_bytes(model: torch.nn.Module) -> int:
    return sum(tensor.numel() * tensor.element_size() for tensor in model.state_dict().values())


def export_tower(
    module: torch.nn.Module, example: torch.Tensor, path: Path, name: str, axes: dict[int, str], external: bool
) -> None:
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
    program.save(str(path), external_data=True if external else None)  # None: past 2 GB in any case
