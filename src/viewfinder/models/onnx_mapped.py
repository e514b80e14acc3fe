"""A tower's ONNX file in its mapped form: the graph in one file, the weights in another beside it, which ONNX
Runtime maps from the page cache instead of parsing them out of the graph's protobuf and copying them.

Loading a tower that holds its weights costs ~0.3 s of CPU for the int8 text tower of ViT-B/32 and ~0.4 s for
fp32's, in every new process; in the mapped form 0.06 s and 0.11 s, at the same query speed (BENCHMARKS.md,
"Cold start from a 100k snapshot"). That matters where a process starts per request burst (a Lambda cold
start), so the Lambda image carries this form, made by `map_text_tower` before the image is built: making it
needs the onnx package, which the image leaves out.

A tower file is never rewritten in place (an export folder is named after its model and format, an int8 file
after its method), so the mapped form made from it stays its copy, and is used whenever it is there
(onnx_format.mapped_file).
"""

from __future__ import annotations

import os
from pathlib import Path

from viewfinder.models.onnx_format import MAPPED, WEIGHTS


def make_mapped(source: Path) -> Path:
    """Writes the mapped form of the tower file `source` beside it (its graph, then its weights file); returns
    the graph's path. The graph is renamed into place last: a reader never takes a half-written one."""
    import onnx

    mapped = source.with_name(source.stem + MAPPED)
    weights = source.with_name(source.stem + WEIGHTS)
    staging = source.with_name(f".{source.stem}.{os.getpid()}{MAPPED}")
    mapped.unlink(missing_ok=True)  # no reader pairs an old graph with the weights written below
    weights.unlink(missing_ok=True)  # onnx appends to an existing weights file
    try:
        onnx.save_model(
            onnx.load(str(source)), str(staging), save_as_external_data=True, location=weights.name, size_threshold=1024
        )
        os.chmod(weights, source.stat().st_mode & 0o777)  # onnx writes it for its owner alone
        os.replace(staging, mapped)
    except BaseException:
        staging.unlink(missing_ok=True)
        weights.unlink(missing_ok=True)
        raise
    return mapped


def map_text_tower(model: str, runtime: str = "auto") -> Path:
    """Makes what loading `model`'s text tower with `runtime` reads, in the model cache ($VIEWFINDER_CACHE): its
    export, its int8 file where the runtime quantises the text tower, and the mapped form of the file it loads;
    returns that. For a model cache that is read-only where it runs (deploy/aws-lambda)."""
    from viewfinder.errors import ViewfinderError
    from viewfinder.models.factory import load_embedder
    from viewfinder.models.onnx_runtime import OnnxEmbedder
    from viewfinder.models.registry import resolve_model

    embedder = load_embedder(resolve_model(model), "cpu", runtime)
    if not isinstance(embedder, OnnxEmbedder):
        raise ViewfinderError(f"Runtime {runtime} loads {model} with torch: only ONNX towers have a mapped form.")
    return make_mapped(embedder.tower_file("text"))
