"""The one `auto` rule for devices and runtimes, and the one text interface search holds."""

from __future__ import annotations

import pytest

from viewfinder.errors import ViewfinderError
from viewfinder.models import factory
from viewfinder.models.embedder import TextEncoder
from viewfinder.models.factory import RuntimeChoice, choose_runtime


@pytest.mark.parametrize(
    ("device", "runtime", "indexing", "gpu", "expected"),
    [
        # On a CPU both towers are int8: indexing's image tower, and search's text tower.
        ("cpu", "auto", False, True, RuntimeChoice("cpu", "onnx-int8", chosen=True)),
        ("cpu", "auto", True, True, RuntimeChoice("cpu", "onnx-int8", chosen=True)),
        ("cuda", "auto", False, True, RuntimeChoice("cuda", "torch", chosen=True)),
        # A query needs no GPU: search and serve stay on ONNX unless --device cuda is given.
        ("auto", "auto", False, True, RuntimeChoice("auto", "onnx-int8", chosen=True)),
        # Indexing takes the GPU it finds, and the int8 image tower without one.
        ("auto", "auto", True, True, RuntimeChoice("cuda", "torch", chosen=True)),
        ("auto", "auto", True, False, RuntimeChoice("cpu", "onnx-int8", chosen=True)),
        # A runtime named is kept as it is, with the device as given.
        ("auto", "onnx", True, True, RuntimeChoice("auto", "onnx", chosen=False)),
        ("cpu", "torch", True, False, RuntimeChoice("cpu", "torch", chosen=False)),
    ],
)
def test_auto_chooses_by_device_and_purpose(monkeypatch, device, runtime, indexing, gpu, expected):
    monkeypatch.setattr(factory, "cuda_available", lambda: gpu)
    assert choose_runtime(device, runtime, indexing) == expected


def test_without_onnxruntime_auto_is_torch(monkeypatch):
    monkeypatch.setattr(factory, "find_spec", lambda name: None)
    assert choose_runtime("cpu", "auto", indexing=True) == RuntimeChoice("cpu", "torch", chosen=True)


@pytest.mark.parametrize(("device", "runtime", "named"), [("cpu", "tensorrt", "runtime"), ("tpu", "auto", "device")])
def test_an_unknown_runtime_or_device_is_a_clear_error(device, runtime, named):
    with pytest.raises(ViewfinderError, match=f"Unknown {named}"):
        choose_runtime(device, runtime)


def test_index_models_are_text_encoders_known_by_their_spec(tiny_embedder):
    assert isinstance(tiny_embedder, TextEncoder)
    assert tiny_embedder.identity() == tiny_embedder.spec.identity()
    vectors = tiny_embedder.encode_texts(["a red square", "a blue circle"])
    assert vectors.shape == (2, tiny_embedder.dim)
