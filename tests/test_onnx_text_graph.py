"""The fused text graph (models/onnx_text_graph): open_clip's encode_text(normalize=True) at every length, in a
batch, with either activation and projection; torch's export where it cannot be written; and an export made by
the version before, still read where none can be made."""

from __future__ import annotations

import copy
import json
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from extras_helpers import run_without
from open_clip.transformer import LayerScale, QuickGELU

from viewfinder.errors import EXTRA_MODULES
from viewfinder.models import onnx_graph, onnx_quantize, onnx_text_graph
from viewfinder.models.onnx_export import export_model
from viewfinder.models.onnx_format import EXPORT_FORMAT, META_FILE, export_dir
from viewfinder.models.onnx_quantize import KEEP_FP32, cpu_has_vnni, text_int8
from viewfinder.models.onnx_runtime import ensure_export
from viewfinder.models.onnx_text_graph import TextGraphUnsupportedError, build_text_graph, write_text_graph
from viewfinder.models.registry import resolve_model
from viewfinder.models.tokenizer import clip_tokenizer, open_clip_vocab
from viewfinder.models.torch_runtime import create_model

START = clip_tokenizer(open_clip_vocab()).start_id
TEXTS = ["", "a dog", "a red bicycle leaning against a brick wall in the rain", "x", "word " * 100]


@pytest.fixture(scope="module")
def tiny() -> torch.nn.Module:
    model, _ = create_model(resolve_model("test:tiny"), "cpu")
    return model.eval()


def run_graph(graph: onnx.ModelProto, tokens: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"tokens": tokens.astype(np.int64)})[0]


def torch_vectors(model: torch.nn.Module, tokens: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.encode_text(torch.from_numpy(tokens.astype(np.int64)), normalize=True).numpy()


def assert_equals_encode_text(model: torch.nn.Module) -> None:
    """The graph's vectors are torch's for the whole context, for each text at its own length, and for a batch
    trimmed to its longest text (the others padded after their end token)."""
    graph = build_text_graph(model, START)
    tokenizer = clip_tokenizer(open_clip_vocab())
    full = tokenizer(TEXTS)
    expected = torch_vectors(model, full)
    assert np.allclose(run_graph(graph, full), expected, atol=1e-5)
    for row, text in enumerate(TEXTS):  # 2, 4, 13, 3 and 77 tokens
        assert np.allclose(run_graph(graph, tokenizer([text], trim=True))[0], expected[row], atol=1e-5)
    batch = tokenizer(TEXTS[:4], trim=True)
    assert np.allclose(run_graph(graph, batch), expected[:4], atol=1e-5)


def test_the_fused_graph_gives_encode_text_at_every_length_and_in_a_batch(tiny):
    assert_equals_encode_text(tiny)
    graph = build_text_graph(tiny, START)
    ops = [node.op_type for node in graph.graph.node]
    assert ops.count("MultiHeadAttention") == 2 and ops.count("ReduceMean") == 2 * 5  # 2 blocks, 5 layer norms
    assert len(ops) < 100 and "Transpose" not in ops and "Reshape" not in ops


def test_onnx_runtime_leaves_the_layer_norms_in_standard_operators(tiny, tmp_path):
    # Its own layer norm kernels take about three times as long for a sentence (onnx_text_graph._skip_norm).
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    ort.InferenceSession(build_text_graph(tiny, START).SerializeToString(), options, ["CPUExecutionProvider"])
    ops = {node.op_type for node in onnx.load(str(tmp_path / "optimised.onnx")).graph.node}
    assert "ReduceMean" in ops and not ops & {"LayerNormalization", "SkipLayerNormalization"}


def test_quick_gelu_and_a_linear_projection_with_a_bias(tiny):
    model = copy.deepcopy(tiny)
    for block in model.transformer.resblocks:
        block.mlp.gelu = QuickGELU()
    width, dim = model.text_projection.shape
    del model.text_projection  # a parameter: replaced by a module
    model.text_projection = torch.nn.Linear(width, dim)
    assert_equals_encode_text(model)
    assert "QuickGelu" in [node.op_type for node in build_text_graph(model, START).graph.node]


@pytest.mark.parametrize("vnni", [False, True])
def test_its_int8_version_keeps_the_attention_output_projections_from_dynamic_quantisation(
    tiny, tmp_path, monkeypatch, vnni
):
    onnx.save_model(build_text_graph(tiny, START), tmp_path / "text.onnx")
    this_cpu = cpu_has_vnni()
    monkeypatch.setattr(onnx_quantize, "cpu_has_vnni", lambda: vnni)
    text_int8(tmp_path / "text.onnx", tmp_path / "text.int8.onnx")
    graph = onnx.load(str(tmp_path / "text.int8.onnx")).graph
    out_projections = [f"{KEEP_FP32}resblocks.{number}.attn.out_proj" for number in range(2)]
    # The out projections in 8-bit blocks (named _Q8), the final projection (the last product) fp32.
    assert [node.name for node in graph.node if node.op_type == "MatMulNBits"] == [
        f"{name}_Q8" for name in out_projections
    ]
    assert len([node for node in graph.node if node.op_type == "MatMul"]) == 1
    quantised = [node for node in graph.node if node.op_type == "MatMulInteger"]
    assert len(quantised) == 2 * 3  # query-key-value and the MLP's two, per block
    # Signed weights where VNNI multiplies them by u8 activations exactly, unsigned (u8 by u8) elsewhere.
    weights = {init.name: init for init in graph.initializer}
    wanted = onnx.TensorProto.INT8 if vnni else onnx.TensorProto.UINT8
    assert all(weights[node.input[1]].data_type == wanted for node in quantised)
    if vnni and not this_cpu:
        return  # without VNNI the CPU sums u8 x s8 pairs in 16 bits, saturating: not this CPU's method
    tokens = clip_tokenizer(open_clip_vocab())(TEXTS, trim=True)
    exact = torch_vectors(tiny, clip_tokenizer(open_clip_vocab())(TEXTS))
    assert (run_graph(onnx.load(str(tmp_path / "text.int8.onnx")), tokens) * exact).sum(axis=1).min() >= 0.995


def test_a_tower_it_does_not_write_is_refused_and_left_to_torch(tiny, tmp_path):
    scaled = copy.deepcopy(tiny)
    scaled.transformer.resblocks[1].ls_2 = LayerScale(64, 0.1)
    silu = copy.deepcopy(tiny)
    silu.transformer.resblocks[0].mlp.gelu = torch.nn.SiLU()
    pooled_first = copy.deepcopy(tiny)
    pooled_first.text_pool_type = "first"
    for model, reason in ((scaled, "layer scale"), (silu, "SiLU"), (pooled_first, "pooled at the end")):
        with pytest.raises(TextGraphUnsupportedError, match=reason):
            build_text_graph(model, START)
        assert not write_text_graph(model, START, torch.zeros(1, 5, dtype=torch.long), tmp_path / "text.onnx", False)
        assert not (tmp_path / "text.onnx").exists()


def test_a_graph_off_torch_or_that_does_not_load_is_not_kept(tiny, tmp_path, monkeypatch):
    tokens = torch.from_numpy(clip_tokenizer(open_clip_vocab())(TEXTS))
    assert write_text_graph(tiny, START, tokens, tmp_path / "text.onnx", external=True)
    assert (tmp_path / "text.onnx.data").is_file()
    with monkeypatch.context() as patch:
        patch.setattr(onnx_graph, "MIN_COSINE", 1.01)  # no graph can pass: as if it drifted from torch
        assert not write_text_graph(tiny, START, tokens, tmp_path / "text.onnx", external=True)
    assert not (tmp_path / "text.onnx").exists() and not (tmp_path / "text.onnx.data").exists()
    monkeypatch.setattr(onnx_graph, "IR_VERSION", 99)  # a graph this ONNX Runtime cannot load
    assert not write_text_graph(tiny, START, tokens, tmp_path / "text.onnx", external=False)
    assert not (tmp_path / "text.onnx").exists()


def test_an_export_of_the_format_before_is_read_where_none_can_be_made(tmp_path):
    """Without torch a model whose export is neither cached in this format nor shipped runs from the folder an
    earlier version made (its text tower torch's export)."""
    spec = resolve_model("test:tiny")
    cache = tmp_path / "cache"
    earlier = cache / "onnx" / export_dir(spec, EXPORT_FORMAT - 1).name
    shutil.copytree(ensure_export(spec), earlier)
    meta = json.loads((earlier / META_FILE).read_text())
    (earlier / META_FILE).write_text(json.dumps({**meta, "text_graph": "torch"}))
    nothing_shipped = f"import viewfinder.models.onnx_format as f\nf.BUNDLED_ROOT = f.Path({str(tmp_path)!r})\n"
    code = (
        "from viewfinder.models.onnx_runtime import OnnxEmbedder\n"
        "from viewfinder.models.registry import resolve_model\n"
        "embedder = OnnxEmbedder(resolve_model('test:tiny'))\n"
        "print(embedder.folder, embedder.encode_texts(['a dog']).shape)\n"
    )
    done = run_without(EXTRA_MODULES["torch"], nothing_shipped + code, env={"VIEWFINDER_CACHE": str(cache)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(earlier), "(1,", "32)"]
    shutil.rmtree(earlier)  # and without it, the export cannot be made
    missing = run_without(EXTRA_MODULES["torch"], nothing_shipped + code, env={"VIEWFINDER_CACHE": str(cache)})
    assert missing.returncode != 0 and "viewfinder[torch]" in missing.stderr


@pytest.mark.slow
def test_an_export_whose_text_tower_is_not_written_falls_back_to_torch(tmp_path, monkeypatch):
    def refuse(model: torch.nn.Module) -> None:
        raise TextGraphUnsupportedError("The text tower is refused here.")

    monkeypatch.setattr(onnx_text_graph, "check_supported", refuse)
    spec = resolve_model("test:tiny")
    export_model(spec, tmp_path)
    meta = json.loads((tmp_path / META_FILE).read_text())
    assert meta["text_graph"] == "torch" and meta["trimmed_text"]
    assert len(onnx.load(str(tmp_path / "text.onnx")).graph.node) > 100  # torch's graph, not the fused one
    model, _ = create_model(spec, "cpu")
    tokens = clip_tokenizer(open_clip_vocab())(TEXTS, trim=True)
    assert np.allclose(
        run_graph(onnx.load(str(tmp_path / "text.onnx")), tokens), torch_vectors(model.eval(), tokens), atol=1e-5
    )
