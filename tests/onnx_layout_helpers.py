"""Writes a model in the hub's ONNX layout the way Immich's exporter publishes its CLIP models, from the project's
own test model: towers exported with torch for a batch of one, inputs named `image` and `text` (int32, the whole
context), the tokenizer saved by transformers' CLIP tokenizer, open_clip's configs as JSON. Needs torch and
transformers (the development install); the layout it writes loads without either."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

from viewfinder.models.registry import MODEL_CONFIG_DIR, ModelSpec
from viewfinder.models.tokenizer import ClipTokenizer, open_clip_vocab


def write_hub_layout(spec: ModelSpec, folder: Path) -> Path:
    import open_clip
    import torch

    from viewfinder.models.torch_runtime import create_model

    model, _ = create_model(spec, "cpu")
    (folder / "visual").mkdir(parents=True)
    (folder / "textual").mkdir()
    shutil.copyfile(MODEL_CONFIG_DIR / f"{spec.arch}.json", folder / "config.json")
    preprocess = open_clip.get_model_preprocess_cfg(model)
    (folder / "visual" / "preprocess_cfg.json").write_text(json.dumps(preprocess))
    side = preprocess["size"] if isinstance(preprocess["size"], int) else preprocess["size"][0]
    context = model.context_length

    # As Immich's exporter: the legacy exporter keeps the weights as constants, and has no fused attention.
    model.requires_grad_(False)
    torch.backends.mha.set_fastpath_enabled(False)

    class Image(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            return self.model.encode_image(image, normalize=True)

    class Text(Image):
        def forward(self, text: torch.Tensor) -> torch.Tensor:
            return self.model.encode_text(text.long(), normalize=True)

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        for tower, example, name, path in (
            (Image(), torch.zeros(1, 3, side, side), "image", folder / "visual" / "model.onnx"),
            (Text(), torch.ones(1, context, dtype=torch.int32), "text", folder / "textual" / "model.onnx"),
        ):
            torch.onnx.export(
                tower.eval(), (example,), str(path), input_names=[name], output_names=["embedding"], dynamo=False
            )
    write_clip_tokenizer(folder / "textual", context)
    return folder


def write_clip_tokenizer(folder: Path, context_length: int) -> None:
    """CLIP's tokenizer files as transformers saves them (tokenizer.json and its config), built from open_clip's
    vocabulary: the same pieces and ids, with the Hugging Face names of the start and end tokens."""
    from transformers import CLIPTokenizer

    clip = ClipTokenizer(open_clip_vocab())
    names = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}
    vocab = {names.get(piece, piece): number for number, piece in enumerate(clip.encoder)}
    # The ranks are keyed as the merges file writes them, "first second".
    merges = [tuple(merge.split(" ")) for merge, _ in sorted(clip.ranks.items(), key=lambda item: item[1])]
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=context_length)
    tokenizer.save_pretrained(str(folder))


def write_hub_cache(cache: Path, repo: str, layout: Path) -> None:
    """Puts a layout into a Hugging Face cache as a download of `repo` would leave it."""
    entry = cache / f"models--{repo.replace('/', '--')}"
    commit = "0" * 40
    (entry / "refs").mkdir(parents=True)
    (entry / "refs" / "main").write_text(commit)
    shutil.copytree(layout, entry / "snapshots" / commit)
