"""CLIP models published in ONNX form, in the layout Immich publishes on the Hugging Face hub (for instance
`immich-app/ViT-B-32__openai`), which runs without torch:

    config.json                 open_clip's model config: embed_dim, text_cfg.context_length
    visual/model.onnx           the image tower, normalised vectors out
    visual/preprocess_cfg.json  open_clip's preprocessing: size, mean, std, interpolation, resize_mode
    textual/model.onnx          the text tower, normalised vectors out
    textual/tokenizer.json      its tokenizer (Hugging Face tokenizers), padded with tokenizer_config.json's
    textual/tokenizer_config.json   pad_token to the context length

Such a folder becomes an export like the ones Viewfinder makes: an export.json in the cache that points at the
towers where they are, so nothing is copied. The towers' input names, types and batch size are read from the
graphs (the hub's take a batch of one).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from viewfinder.errors import ModelUnavailableError, ViewfinderError
from viewfinder.images.preprocess import PreprocessSpec
from viewfinder.models.hf_tokenizer import TOKENIZER_FILE, import_tokenizers
from viewfinder.models.hub import HUB_HOST, hub_cache_dir, hub_reachable
from viewfinder.models.onnx_format import META_FILE
from viewfinder.models.registry import ModelSpec

IMAGE_TOWER = "visual/model.onnx"
TEXT_TOWER = "textual/model.onnx"
REQUIRED = ("config.json", IMAGE_TOWER, "visual/preprocess_cfg.json", TEXT_TOWER, f"textual/{TOKENIZER_FILE}")
# What to download of a repository: the ONNX towers (and their external data) and the small files beside them,
# not the other runtimes' files (ARM NN, RKNN) such repositories also hold.
DOWNLOAD = [
    "config.json",
    "visual/model.onnx*",
    "visual/*.json",
    "textual/model.onnx*",
    "textual/*.json",
    "textual/*.txt",
]
# Where the models open_clip names ARCH:TAG are published in this layout, as MIRROR/ARCH__TAG.
MIRROR = "immich-app"


def is_layout(folder: Path) -> bool:
    return all((folder / name).is_file() for name in REQUIRED)


def mirror_of(spec: ModelSpec) -> str | None:
    """The hub repository that publishes an open_clip `ARCH:TAG` model in this layout, or None."""
    if spec.pretrained is None or spec.weights_file is not None or ":" in spec.arch:
        return None
    return f"{MIRROR}/{spec.arch}__{spec.pretrained}"


def hub_layout(repo: str) -> Path | None:
    """The local folder of a hub repository in this layout, downloaded when it is not in the Hugging Face cache;
    None when the repository does not have the layout. Raises ModelUnavailableError when it is not cached and
    the hub cannot be reached."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        cached = Path(snapshot_download(repo, allow_patterns=DOWNLOAD, local_files_only=True))
    except LocalEntryNotFoundError:
        cached = None
    if cached is not None and is_layout(cached):
        return cached
    if not hub_reachable():
        raise ModelUnavailableError(
            f"{repo} is not cached and {HUB_HOST} cannot be reached: from https://{HUB_HOST}/{repo}, download "
            f"{', '.join(REQUIRED)} into a folder and pass --model /path/to/folder (or put the repository in the "
            f"Hugging Face cache, {hub_cache_dir()})."
        )
    try:
        folder = Path(snapshot_download(repo, allow_patterns=DOWNLOAD))
    except Exception as error:  # the hub client's many errors (no such repository, gated, network) end here
        raise ModelUnavailableError(f"Cannot download {repo} from {HUB_HOST}: {error}".splitlines()[0]) from error
    return folder if is_layout(folder) else None


def write_export(spec: ModelSpec, layout: Path, out: Path) -> None:
    """Writes the export.json that makes `layout` an export of `spec`, its towers read where they are."""
    config = _json(layout / "config.json")
    preprocess = _json(layout / "visual" / "preprocess_cfg.json")
    textual = layout / "textual"
    tokenizer_config = _json(textual / "tokenizer_config.json") if (textual / "tokenizer_config.json").is_file() else {}
    tokenizer = import_tokenizers().Tokenizer.from_file(str(textual / TOKENIZER_FILE))
    pad_id = tokenizer.token_to_id(str(tokenizer_config.get("pad_token", "<pad>")))
    try:
        meta = {
            "model": spec.name,
            "identity": spec.identity(),
            "dim": int(config["embed_dim"]),
            "context_length": int(config["text_cfg"].get("context_length", 77)),
            "trimmed_text": False,  # the hub's text towers take the whole context
            "tokenizer": "hf",
            "pad_id": 0 if pad_id is None else pad_id,
            "preprocess": vars(PreprocessSpec.from_open_clip(preprocess)),
            "files": {
                "image": str((layout / IMAGE_TOWER).resolve()),
                "text": str((layout / TEXT_TOWER).resolve()),
                "tokenizer": str((textual / TOKENIZER_FILE).resolve()),
            },
        }
    except (KeyError, TypeError, ValueError) as error:
        raise ViewfinderError(
            f"{layout} is not a CLIP model in the hub's ONNX layout: {error!r} in its config."
        ) from error
    (out / META_FILE).write_text(json.dumps(meta, indent=2))


def _json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ViewfinderError(f"Cannot read {path}: {error}") from error
    if not isinstance(value, dict):
        raise ViewfinderError(f"{path} does not hold a JSON object.")
    return value
