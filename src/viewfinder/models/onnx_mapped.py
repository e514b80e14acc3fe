"""A tower's ONNX file in its mapped form: the graph in one file, the weights in another beside it, which ONNX
Runtime maps from the page cache instead of parsing them out of the graph's protobuf and copying them.

Loading a tower that holds its weights costs ~0.3 s of CPU for the int8 text tower of ViT-B/32 and ~0.4 s for
fp32's, in every new process; in the mapped form 0.06 s and 0.11 s, at the same query speed (BENCHMARKS.md,
"Cold start from a 100k snapshot"). That matters where a process starts per request burst (a Lambda cold
start), so the Lambda image carries this form, made by `map_text_tower` before the image is built: making it
(onnx_format.make_mapped) needs the onnx package, which the image leaves out. A server's text tower is loaded
from it too, made when the server loads it: its one- and two-thread sessions (text_threads) then share one copy
of the weights instead of holding one each.

A tower file is never rewritten in place (an export folder is named after its model and format, an int8 file
after its method), so the mapped form made from it stays its copy, and is used whenever it is there
(onnx_format.mapped_file).
"""

from __future__ import annotations

from pathlib import Path

from viewfinder.models.onnx_format import make_mapped


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
