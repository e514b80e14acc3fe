"""The mapped form of an ONNX tower (onnx_mapped): made beside the tower file, then loaded in its place with its
weights mapped from their own file, giving the same vectors."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest

from viewfinder.errors import ViewfinderError
from viewfinder.models.factory import load_embedder
from viewfinder.models.onnx_format import make_mapped, mapped_file
from viewfinder.models.onnx_mapped import map_text_tower
from viewfinder.models.onnx_quantize import int8_method
from viewfinder.models.registry import resolve_model

TEXTS = ["a photo of a dog", "a red bicycle leaning against a brick wall in the rain", "x"]


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A model cache of this test's own: the mapped forms made here reach no other test."""
    monkeypatch.setenv("VIEWFINDER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def mapped_by_this_process(path: Path) -> bool:
    """Whether `path` is mapped into this process's memory (Linux)."""
    return any(line.rstrip().endswith(str(path)) for line in Path("/proc/self/maps").read_text().splitlines())


@pytest.mark.parametrize(("runtime", "stem"), [("auto", int8_method("text")[0]), ("onnx", "text")])
def test_the_text_tower_loads_from_its_mapped_form_with_the_same_vectors(cache, runtime, stem):
    spec = resolve_model("test:tiny")
    whole = load_embedder(spec, "cpu", runtime).encode_texts(TEXTS)

    graph = map_text_tower("test:tiny", runtime)

    assert graph.name == f"{stem}.mapped.onnx"
    weights = graph.with_name(f"{stem}.mapped.weights")
    source = graph.with_name(f"{stem}.onnx")
    assert mapped_file(source) == graph
    assert graph.stat().st_size < weights.stat().st_size  # the weights left the graph's file
    assert stat.S_IMODE(weights.stat().st_mode) == stat.S_IMODE(source.stat().st_mode)  # readable as the tower is
    embedder = load_embedder(spec, "cpu", runtime)
    embedder.load_text_tower()
    assert mapped_by_this_process(weights)
    np.testing.assert_array_equal(embedder.encode_texts(TEXTS), whole)


def test_a_tower_without_a_mapped_form_loads_from_its_own_file(cache):
    embedder = load_embedder(resolve_model("test:tiny"), "cpu", "onnx")
    source = embedder.tower_file("text")
    assert mapped_file(source) == source
    embedder.load_text_tower()
    assert not list(source.parent.glob("*.mapped.*"))


def test_making_it_again_replaces_it_and_leaves_no_staging_file(cache):
    source = load_embedder(resolve_model("test:tiny"), "cpu", "onnx").tower_file("text")
    first = make_mapped(source)
    weights = first.with_name("text.mapped.weights")
    size = weights.stat().st_size
    assert make_mapped(source) == first
    assert weights.stat().st_size == size  # rewritten, not appended to
    assert sorted(path.name for path in source.parent.glob("*mapped*")) == ["text.mapped.onnx", "text.mapped.weights"]


def test_a_model_torch_runs_has_no_mapped_form(cache):
    with pytest.raises(ViewfinderError, match="only ONNX towers"):
        map_text_tower("test:tiny", "torch")


def test_a_read_only_cache_without_the_int8_tower_answers_in_fp32_where_int8_is_optional(cache, monkeypatch):
    """As in a Lambda image whose model cache was made without map_text_tower: the int8 file cannot be written."""
    from viewfinder.models import onnx_runtime

    def read_only(folder, name, source):
        raise PermissionError(30, "Read-only file system", str(folder / f"{name}.int8.onnx"))

    monkeypatch.setattr(onnx_runtime, "quantized_file", read_only)
    spec = resolve_model("test:tiny")
    fallback = load_embedder(spec, "cpu", "auto")
    assert fallback.encode_texts(TEXTS).shape == (len(TEXTS), fallback.dim) and fallback.runtime == "onnx"
    with pytest.raises(PermissionError):
        load_embedder(spec, "cpu", "onnx-int8").encode_texts(TEXTS)  # asked for int8 by name: not hidden
