"""The fused image graph (models/onnx_image_graph): open_clip's encode_image(normalize=True) for a batch, with
either activation; its int8 version; torch's export where it cannot be written."""

from __future__ import annotations

import copy
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from open_clip.transformer import LayerScale, QuickGELU

from viewfinder.models import onnx_image_graph
from viewfinder.models.onnx_export import export_model
from viewfinder.models.onnx_format import META_FILE
from viewfinder.models.onnx_image_graph import (
    IMAGE_GRAPH,
    ImageGraphUnsupportedError,
    build_image_graph,
    write_image_graph,
)
from viewfinder.models.onnx_quantize import dynamic_int8
from viewfinder.models.registry import resolve_model
from viewfinder.models.torch_runtime import create_model

SIDE = 64  # test:tiny's input size


@pytest.fixture(scope="module")
def tiny() -> torch.nn.Module:
    model, _ = create_model(resolve_model("test:tiny"), "cpu")
    return model.eval()


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((5, 3, SIDE, SIDE)).astype(np.float32)


def run_graph(graph: onnx.ModelProto, pixels: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"pixels": pixels})[0]


def torch_vectors(model: torch.nn.Module, pixels: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.encode_image(torch.from_numpy(pixels), normalize=True).numpy()


def test_the_fused_graph_gives_encode_image_for_a_batch_and_for_one_picture(tiny, pixels):
    graph = build_image_graph(tiny)
    expected = torch_vectors(tiny, pixels)
    assert np.allclose(run_graph(graph, pixels), expected, atol=1e-5)
    assert np.allclose(run_graph(graph, pixels[2:3]), expected[2:3], atol=1e-5)
    ops = [node.op_type for node in graph.graph.node]
    assert ops.count("MultiHeadAttention") == 2 and ops.count("SkipLayerNormalization") == 2 * 2  # 2 blocks
    assert ops.count("Transpose") == 1 and "Reshape" in ops and len(ops) < 40
    # The last block asks its attention for the class token's row alone.
    made_by = {output: node for node in graph.graph.node for output in node.output}
    last_attention = [node for node in graph.graph.node if node.op_type == "MultiHeadAttention"][-1]
    assert made_by[last_attention.input[0]].op_type == "Slice"


def test_quick_gelu(tiny, pixels):
    model = copy.deepcopy(tiny)
    for block in model.visual.transformer.resblocks:
        block.mlp.gelu = QuickGELU()
    graph = build_image_graph(model)
    assert "QuickGelu" in [node.op_type for node in graph.graph.node]
    assert np.allclose(run_graph(graph, pixels), torch_vectors(model, pixels), atol=1e-5)


def test_its_int8_version_quantises_every_product_and_stays_near_torch(tiny, pixels, tmp_path):
    onnx.save_model(build_image_graph(tiny), tmp_path / "image.onnx")
    dynamic_int8(tmp_path / "image.onnx", tmp_path / "image.int8.onnx")
    graph = onnx.load(str(tmp_path / "image.int8.onnx"))
    assert [node.op_type for node in graph.graph.node].count("MatMul") == 0
    cosines = (run_graph(graph, pixels) * torch_vectors(tiny, pixels)).sum(axis=1)
    assert cosines.min() >= 0.99


def test_a_tower_it_does_not_write_is_refused_and_left_to_torch(tiny, pixels, tmp_path):
    scaled = copy.deepcopy(tiny)
    scaled.visual.transformer.resblocks[1].ls_1 = LayerScale(64, 0.1)
    averaged = copy.deepcopy(tiny)
    averaged.visual.pool_type = "avg"
    resnet, _ = create_model(resolve_model("test:shapes"), "cpu")
    refused = ((scaled, "layer scale"), (averaged, "class token"), (resnet, "VisionTransformer"))
    for model, reason in refused:
        with pytest.raises(ImageGraphUnsupportedError, match=reason):
            build_image_graph(model)
        assert not write_image_graph(model, torch.from_numpy(pixels), tmp_path / "image.onnx", False)
        assert not (tmp_path / "image.onnx").exists()


@pytest.mark.slow
def test_an_export_writes_the_fused_graph_and_falls_back_to_torch_where_it_cannot(tiny, pixels, tmp_path, monkeypatch):
    spec = resolve_model("test:tiny")
    for folder in ("fused", "torch"):
        (tmp_path / folder).mkdir()
    export_model(spec, tmp_path / "fused")
    assert json.loads((tmp_path / "fused" / META_FILE).read_text())["image_graph"] == IMAGE_GRAPH

    def refuse(model: torch.nn.Module) -> None:
        raise ImageGraphUnsupportedError("The image tower is refused here.")

    monkeypatch.setattr(onnx_image_graph, "check_supported", refuse)
    export_model(spec, tmp_path / "torch")
    assert json.loads((tmp_path / "torch" / META_FILE).read_text())["image_graph"] == "torch"
    for folder in ("fused", "torch"):
        tower = onnx.load(str(tmp_path / folder / "image.onnx"))
        assert np.allclose(run_graph(tower, pixels), torch_vectors(tiny, pixels), atol=1e-5)
    assert len(onnx.load(str(tmp_path / "torch" / "image.onnx")).graph.node) > 40  # torch's graph
