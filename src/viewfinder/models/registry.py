"""Resolves `--model` strings to a loadable model description, in one place.

Accepted forms:
- `ARCH:TAG`            an open_clip architecture with a pretrained tag (`ViT-B-32:openai`)
- `ARCH:/path/file`     an open_clip architecture with a local weights file
- `hf-hub:org/name`     an open_clip model on the Hugging Face hub (config and weights), or one in the hub's
                        ONNX layout (`hf-hub:immich-app/ViT-B-32__openai`)
- `/path/to/dir`        a local directory holding `open_clip_config.json` and weights (a hub snapshot), or a
                        CLIP model in the hub's ONNX layout (`visual/model.onnx`, `textual/model.onnx`, ...;
                        models/onnx_layout.py), which runs on ONNX Runtime without torch
- `/path/to/file.bin`   a local weights file for the default architecture (ViT-B-32)
- `test:tiny`           the project's deterministic, randomly initialised tiny model (plumbing tests)
- `test:shapes`         the project's tiny model trained on synthetic shapes in varied renderings, captioned in
                        en/fr/de/es (the demo and the semantic tests; docs/model-card-shapes.md)
- `test:shapes-multilingual`  another name of `test:shapes` (it was a second model until it became the demo's)
- `random:ARCH`         any architecture with deterministic random weights (benchmarks)
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from viewfinder.errors import ModelUnavailableError, ViewfinderError

DEFAULT_MODEL = "ViT-B-32:openai"
DEFAULT_ARCH = "ViT-B-32"
PACKAGE_DIR = Path(__file__).parent
MODEL_CONFIG_DIR = PACKAGE_DIR / "model_configs"
# The file and architecture keep the multilingual names they had as a second model, so indexes built with
# `test:shapes-multilingual` keep their identity (the architecture is part of it).
SHAPES_WEIGHTS = PACKAGE_DIR / "weights" / "shapes-multilingual.safetensors"
SHAPES_ARCH = "viewfinder-shapes-multilingual"
SHAPES_NAMES = ("test:shapes", "test:shapes-multilingual")
RANDOM_SEED = 0
ONNX_DIR = "onnx-dir:"  # the schema of a local folder in the hub's ONNX layout

# Queries a user can try in one click (the web UI's chips): what each model understands.
PHOTO_EXAMPLES = (
    "sunset over the sea",
    "a dog playing in the snow",
    "city street at night",
    "birthday cake with candles",
    "red flowers",
)
SHAPES_EXAMPLES = ("a red circle", "two green squares", "a blue star", "a yellow triangle", "a purple ring")


@dataclass(frozen=True)
class ModelSpec:
    """What to load for a `--model` string, and how to recognise the same model later."""

    name: str  # canonical user-facing name, stored in the index manifest
    arch: str  # open_clip model name, possibly with an `hf-hub:`, `local-dir:` or `onnx-dir:` schema
    pretrained: str | None = None  # open_clip pretrained tag or weights file; None means random init
    weights_file: Path | None = None  # local weights whose checksum identifies the model

    @property
    def is_random(self) -> bool:
        return self.pretrained is None and not self.arch.startswith(("hf-hub:", "local-dir:", ONNX_DIR))

    @property
    def layout(self) -> Path | None:
        """The folder of a model in the hub's ONNX layout, which only ONNX Runtime runs; None for others."""
        return Path(self.arch.removeprefix(ONNX_DIR)) if self.arch.startswith(ONNX_DIR) else None

    def identity(self) -> str:
        """A string that differs whenever the vectors this model makes would differ."""
        if self.weights_file is not None:
            return f"{self.arch}@sha256:{file_sha256(self.weights_file)}"
        return self.name


def example_queries(model_name: str) -> list[str]:
    """Queries that show what the model an index was built with understands."""
    return list(SHAPES_EXAMPLES if model_name.startswith("test:shapes") else PHOTO_EXAMPLES)


def resolve_model(text: str) -> ModelSpec:
    """Turns a `--model` string into a ModelSpec; raises ViewfinderError for malformed names."""
    text = text.strip()
    if not text:
        raise ViewfinderError("The model name is empty; pass e.g. --model ViT-B-32:openai.")
    if text == "test:tiny":
        return ModelSpec(name=text, arch="viewfinder-tiny")
    if text in SHAPES_NAMES:
        weights = SHAPES_WEIGHTS
        return ModelSpec(name="test:shapes", arch=SHAPES_ARCH, pretrained=str(weights), weights_file=weights)
    if text.startswith("test:"):
        raise ViewfinderError(
            f"Unknown test model {text!r}; the built-in ones are test:tiny, test:shapes and test:shapes-multilingual."
        )
    if text.startswith("random:"):
        return ModelSpec(name=text, arch=text.removeprefix("random:"))
    if text.startswith("hf-hub:"):
        return ModelSpec(name=text, arch=text)
    schema = next((schema for schema in ("local-dir:", ONNX_DIR) if text.startswith(schema)), None)
    if schema is not None:  # the name an index stores for a model folder
        text = text.removeprefix(schema)
        if not Path(text).is_dir():
            raise ModelUnavailableError(
                f"The model folder {text} is gone; put it back, or pass --model to use another."
            )
    path = Path(text).expanduser()
    if path.is_dir() and (path / "visual" / "model.onnx").is_file():
        return ModelSpec(name=f"{ONNX_DIR}{path.resolve()}", arch=f"{ONNX_DIR}{path.resolve()}")
    if path.is_dir():
        if not (path / "open_clip_config.json").is_file():
            raise ModelUnavailableError(
                f"{path} has no open_clip_config.json; point --model at a downloaded open_clip model folder."
            )
        return ModelSpec(name=f"local-dir:{path.resolve()}", arch=f"local-dir:{path.resolve()}")
    if path.is_file():
        return _file_spec(DEFAULT_ARCH, path)
    arch, sep, tag = text.partition(":")
    if not sep or not tag:
        raise ViewfinderError(
            f"Model {text!r} names no weights; use ARCH:TAG (e.g. {DEFAULT_MODEL}), hf-hub:org/name or a path."
        )
    if "/" in tag or os.sep in tag or Path(tag).expanduser().exists():
        weights = Path(tag).expanduser()
        if not weights.is_file():
            raise ModelUnavailableError(f"Weights file {weights} does not exist; check the path in --model.")
        return _file_spec(arch, weights)
    return ModelSpec(name=text, arch=arch, pretrained=tag)


def _file_spec(arch: str, weights: Path) -> ModelSpec:
    weights = weights.resolve()
    return ModelSpec(name=f"{arch}:{weights}", arch=arch, pretrained=str(weights), weights_file=weights)


_checksums: dict[Path, str] = {}


def file_sha256(path: Path) -> str:
    """Checksum of a weights file, cached per process (large files take a second to hash)."""
    if path not in _checksums:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _checksums[path] = digest.hexdigest()
    return _checksums[path]
