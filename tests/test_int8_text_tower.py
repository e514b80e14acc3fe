"""The int8 text tower search uses by default (onnx_quantize: signed dynamic int8 where the CPU has VNNI, 8-bit
weights in blocks elsewhere), faithful to fp32 in its vectors and in the rankings they make, on the trained test
model."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest
from cli_helpers import cli_env

from viewfinder.images.decode import decode_image
from viewfinder.images.synthetic import generate_library
from viewfinder.models import onnx_quantize
from viewfinder.models.onnx_quantize import KEEP_FP32, quantized_file
from viewfinder.models.onnx_runtime import OnnxEmbedder
from viewfinder.models.prompts import shapes_prompts
from viewfinder.models.registry import resolve_model


@pytest.fixture(scope="module")
def shapes_towers() -> tuple[OnnxEmbedder, OnnxEmbedder]:
    spec = resolve_model("test:shapes")
    return OnnxEmbedder(spec), OnnxEmbedder(spec, int8=True)


def test_each_cpu_gets_its_text_method_in_a_file_named_after_it(shapes_towers, tmp_path, monkeypatch):
    fp32, _ = shapes_towers
    shutil.copy(fp32.folder / "text.onnx", tmp_path / "text.onnx")
    made = {}
    for vnni in (False, True):  # one cache folder: the file of the other method is never taken for this one's
        monkeypatch.setattr(onnx_quantize, "cpu_has_vnni", lambda vnni=vnni: vnni)
        made[vnni] = quantized_file(tmp_path, "text", tmp_path / "text.onnx")
    assert made[False].name == "text.int8-u8o.onnx" and made[True].name == "text.int8-s8o.onnx"
    for vnni, weight_type in ((False, onnx.TensorProto.UINT8), (True, onnx.TensorProto.INT8)):
        graph = onnx.load(str(made[vnni])).graph
        weights = {init.name: init.data_type for init in graph.initializer}
        dynamic = [node for node in graph.node if node.op_type == "MatMulInteger"]
        assert dynamic and all(weights[node.input[1]] == weight_type for node in dynamic)
        # The blocks are the attention output projections alone.
        in_blocks = [node for node in graph.node if node.op_type == "MatMulNBits"]
        assert in_blocks and all(node.name.startswith(KEEP_FP32) for node in in_blocks)


def test_int8_text_vectors_and_rankings_hold_those_of_fp32(shapes_towers, tmp_path):
    fp32, int8 = shapes_towers
    prompts = list(shapes_prompts())
    exact, quantised = fp32.encode_texts(prompts), int8.encode_texts(prompts)
    assert (exact * quantised).sum(axis=1).min() >= 0.999
    pictures = [path for path, _ in generate_library(tmp_path, 120, seed=3)]
    pixels = np.stack([decode_image(path, fp32.preprocess).pixels for path in pictures])
    library = fp32.encode_images(pixels)
    top_exact = np.argsort(-(exact @ library.T), axis=1)[:, :10]
    top_quantised = np.argsort(-(quantised @ library.T), axis=1)[:, :10]
    overlap = [len(set(a) & set(b)) / 10 for a, b in zip(top_exact, top_quantised, strict=True)]
    assert np.mean(overlap) >= 0.95
    assert (top_exact[:, 0] == top_quantised[:, 0]).mean() >= 0.9  # the best match, nearly always the same


def test_quantising_leaves_the_logging_of_the_process_as_it_was(tmp_path):
    # The quantiser's module configures the root logger when first imported: a fresh process shows it.
    script = (
        "import logging, pathlib; from viewfinder.models import onnx_quantize\n"
        "from viewfinder.models.onnx_runtime import OnnxEmbedder\n"
        "from viewfinder.models.registry import resolve_model\n"
        "source = OnnxEmbedder(resolve_model('test:tiny')).folder / 'text.onnx'\n"
        "for vnni in (False, True):  # each text method: unsigned, signed\n"
        "    onnx_quantize.cpu_has_vnni = lambda vnni=vnni: vnni\n"
        f"    onnx_quantize.quantized_file(pathlib.Path({str(tmp_path)!r}), 'text', source)\n"
        "    assert logging.getLogger().handlers == [], logging.getLogger().handlers\n"
        "    assert logging.getLogger().level == logging.WARNING\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=cli_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(list(tmp_path.glob("text.int8-*.onnx"))) == 2


def test_a_search_on_auto_encodes_text_in_int8_and_uploaded_images_in_fp32():
    from viewfinder.models.factory import load_embedder

    spec = resolve_model("test:tiny")
    search, fp32, int8 = load_embedder(spec, "cpu"), OnnxEmbedder(spec), OnnxEmbedder(spec, int8=True)
    texts = ["a red square", "a blue circle at night"]
    assert np.array_equal(search.encode_texts(texts), int8.encode_texts(texts))
    assert not np.array_equal(search.encode_texts(texts), fp32.encode_texts(texts))
    # int8 quantises an image's activations with its batch's: alone, an upload would get another vector than
    # its indexed copy got in a batch. fp32 quantises nothing.
    pixels = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    assert np.array_equal(search.encode_images(pixels[:1]), fp32.encode_images(pixels[:1]))
    alone, batched = int8.encode_images(pixels[:1]), int8.encode_images(pixels)[:1]
    assert not np.array_equal(alone, batched)
