"""The ONNX export folder's format, shared by the exporter that writes it and the runtime that reads it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from viewfinder import settings
from viewfinder.errors import ViewfinderError
from viewfinder.models.query_registry import QuerySpec
from viewfinder.models.registry import ModelSpec

# 3: CLIP vision transformers are the fused graph of onnx_image_graph; 2: CLIP text towers are the fused graph of
# onnx_text_graph (1: torch's export). A new format is a new folder, made again where the exporter runs; where
# it cannot, the runtime reads the folder of the format before.
EXPORT_FORMAT = 3
META_FILE = "export.json"
# A tower file's mapped form (onnx_mapped): TOWER.mapped.onnx, its graph, and TOWER.mapped.weights beside it.
MAPPED, WEIGHTS = ".mapped.onnx", ".mapped.weights"
# Exports that ship inside the package (the test models', made by scripts/build_dist.sh), so that a plain
# install runs them without torch. Not kept in git.
BUNDLED_ROOT = Path(__file__).parent / "exports"


class ExportUnsupportedError(ViewfinderError):
    """The model has a part the ONNX runtime does not implement (another tokenizer)."""


def cache_home() -> Path:
    """Viewfinder's cache folder: $VIEWFINDER_CACHE, else ~/.cache/viewfinder."""
    return Path(settings.value("cache") or Path.home() / ".cache" / "viewfinder").expanduser()


def cache_root() -> Path:
    """Where exports live: the `onnx` folder of the cache."""
    return cache_home() / "onnx"


def export_dir(spec: ModelSpec | QuerySpec, export_format: int = EXPORT_FORMAT) -> Path:
    """The cache folder of one model's export; a new weights checksum (or format) is a new folder."""
    digest = hashlib.sha256(f"{spec.identity()}|format-{export_format}".encode()).hexdigest()[:20]
    return cache_root() / digest


def bundled_export(spec: ModelSpec | QuerySpec) -> Path | None:
    """The export of `spec` that ships inside the package, or None; found by the identity it was made from."""
    identity = spec.identity()
    for meta in sorted(BUNDLED_ROOT.glob(f"*/{META_FILE}")):
        if json.loads(meta.read_text()).get("identity") == identity:
            return meta.parent
    return None


def mapped_file(source: Path) -> Path:
    """The mapped form of the tower file `source` where one was made (onnx_mapped), else `source`."""
    mapped = source.with_name(source.stem + MAPPED)
    return mapped if mapped.is_file() else source


def make_mapped(source: Path) -> Path:
    """Writes the mapped form of the tower file `source` beside it (its graph and its weights file); returns the
    graph's path. Both are written in a staging folder of this process and renamed into place, the weights
    first: a reader never takes a half-written file, and servers starting at once on one model cache each
    write their own (the same bytes) instead of appending to one weights file."""
    import onnx

    mapped = source.with_name(source.stem + MAPPED)
    weights = source.with_name(source.stem + WEIGHTS)
    staging = source.with_name(f".{source.stem}.{os.getpid()}.mapping")
    shutil.rmtree(staging, ignore_errors=True)  # a crashed run's: onnx appends to an existing weights file
    staging.mkdir()
    try:
        graph = staging / mapped.name
        onnx.save_model(
            onnx.load(str(source)), str(graph), save_as_external_data=True, location=weights.name, size_threshold=1024
        )
        os.chmod(staging / weights.name, source.stat().st_mode & 0o777)  # onnx writes it for its owner alone
        os.replace(staging / weights.name, weights)
        os.replace(graph, mapped)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return mapped
