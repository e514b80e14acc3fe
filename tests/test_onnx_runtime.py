"""The ONNX runtime, the fast CPU path: faithful to open_clip (the numpy tokenizer, fp32 and int8 towers, the
trimmed text tower), its towers loaded on first use and without torch, and the "auto" runtime's choice."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest
from cli_helpers import cli_env
from onnx import numpy_helper

from viewfinder.errors import ViewfinderError
from viewfinder.models.factory import load_embedder
from viewfinder.models.onnx_runtime import OnnxEmbedder
from viewfinder.models.registry import resolve_model
from viewfinder.models.tokenizer import ClipTokenizer, clip_tokenizer, open_clip_vocab
from viewfinder.models.torch_runtime import OpenClipEmbedder
from viewfinder.pipeline.indexer import load_embedder_for

TEXTS = [
    "a photo of a dog",
    "a red bicycle leaning against a brick wall in the rain",
    "x",
    "Café crème brûlée, 3 € — naïve façade",
    "日本語のテキストと絵文字 🐶🐱",
    "don't you'll we've THEY'RE",
    "&amp; &lt;b&gt; html   entities\tand\nwhitespace",
    "<start_of_text> literal special tokens <end_of_text>",
    "word " * 100,  # longer than the context: truncated, end token kept
]


@pytest.fixture(scope="module")
def torch_tiny() -> OpenClipEmbedder:
    return OpenClipEmbedder(resolve_model("test:tiny"), "cpu")


@pytest.fixture(scope="module")
def onnx_tiny() -> OnnxEmbedder:
    return OnnxEmbedder(resolve_model("test:tiny"))


@pytest.fixture(scope="module")
def int8_tiny() -> OnnxEmbedder:
    return OnnxEmbedder(resolve_model("test:tiny"), int8=True)


def photo_pixels(count: int, side: int) -> np.ndarray:
    """Smooth colour fields with a little noise: closer to photos than uniform noise."""
    from PIL import Image

    rng = np.random.default_rng(0)
    images = []
    for _ in range(count):
        coarse = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize((side, side), Image.BICUBIC)
        noisy = np.asarray(coarse, np.float32) + rng.normal(0, 6, (side, side, 3))
        images.append(np.clip(noisy, 0, 255).astype(np.uint8))
    return np.stack(images)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_numpy_tokenizer_matches_open_clip_on_varied_strings():
    from open_clip.tokenizer import SimpleTokenizer

    rng = np.random.default_rng(1)
    alphabet = list("abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789.,!?'-&;éüßñ中文😀\t\n")
    texts = TEXTS + ["".join(rng.choice(alphabet, rng.integers(0, 90))) for _ in range(300)]
    ours = ClipTokenizer(open_clip_vocab())(texts)
    assert np.array_equal(ours, SimpleTokenizer()(texts).numpy())


def test_a_vocabulary_file_is_read_once_per_process_while_it_is_unchanged(tmp_path):
    vocab = tmp_path / "vocab.txt.gz"
    shutil.copyfile(open_clip_vocab(), vocab)
    first = clip_tokenizer(vocab)
    assert clip_tokenizer(vocab) is first and clip_tokenizer(vocab, 32) is not first
    os.utime(vocab, ns=(1, 1))  # the file replaced: read again
    again = clip_tokenizer(vocab)
    assert again is not first and np.array_equal(again(TEXTS), first(TEXTS))


def test_onnx_fp32_matches_open_clip_torch(torch_tiny, onnx_tiny):
    assert onnx_tiny.dim == torch_tiny.dim and onnx_tiny.preprocess == torch_tiny.preprocess
    assert cosines(onnx_tiny.encode_texts(TEXTS), torch_tiny.encode_texts(TEXTS)).min() >= 0.999
    pixels = photo_pixels(6, torch_tiny.preprocess.image_size)
    assert cosines(onnx_tiny.encode_images(pixels), torch_tiny.encode_images(pixels)).min() >= 0.999


def test_onnx_int8_stays_close_to_open_clip_torch(torch_tiny, int8_tiny):
    assert cosines(int8_tiny.encode_texts(TEXTS), torch_tiny.encode_texts(TEXTS)).min() >= 0.995
    pixels = photo_pixels(6, torch_tiny.preprocess.image_size)
    assert cosines(int8_tiny.encode_images(pixels), torch_tiny.encode_images(pixels)).min() >= 0.995


def test_trimmed_text_tower_equals_the_full_77_token_run(torch_tiny, onnx_tiny):
    assert onnx_tiny.trimmed_text
    full = onnx_tiny._tower("text").run(None, {"tokens": onnx_tiny.tokenizer(TEXTS)})[0]  # padded to 77, as open_clip
    one_by_one = np.concatenate([onnx_tiny.encode_texts([text]) for text in TEXTS])  # each at its own length
    assert cosines(one_by_one, full).min() >= 0.99999
    assert cosines(one_by_one, torch_tiny.encode_texts(TEXTS)).min() >= 0.999


def test_cached_export_loads_and_encodes_without_importing_torch(onnx_tiny):
    script = (
        "import sys; from viewfinder.models.factory import load_embedder\n"
        "from viewfinder.models.registry import resolve_model\n"
        "embedder = load_embedder(resolve_model('test:tiny'), 'auto')\n"
        "assert embedder.runtime == 'onnx-int8', embedder.runtime\n"
        "embedder.encode_texts(['a dog']); embedder.encode_images(__import__('numpy').zeros((1, 64, 64, 3), 'uint8'))\n"
        "assert 'torch' not in sys.modules and 'open_clip' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=cli_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_auto_runtime_is_onnx_int8_on_cpu_and_torch_or_fp32_when_asked(onnx_tiny):
    spec = resolve_model("test:tiny")
    # Search encodes text with the int8 text tower, indexing images with the int8 image tower, unless a runtime
    # is named.
    assert load_embedder(spec, "cpu").runtime == "onnx-int8"
    assert load_embedder(spec, "cpu", "onnx").runtime == "onnx"
    assert load_embedder(spec, "cpu", "torch").runtime == "torch"
    assert load_embedder(spec, "cpu", indexing=True).runtime == "onnx-int8"
    assert load_embedder(spec, "cpu", "onnx", indexing=True).runtime == "onnx"
    assert load_embedder_for(spec, "cpu", "auto").runtime == "onnx-int8"
    with pytest.raises(ViewfinderError, match="runtime"):
        load_embedder(spec, "cpu", "tensorrt")


def test_onnx_towers_load_on_first_use_and_indexing_never_loads_the_text_tower(tmp_path):
    from cli_helpers import write_colour_images

    from viewfinder.pipeline.indexer import run_index

    embedder = OnnxEmbedder(resolve_model("test:tiny"))
    assert embedder.loaded_towers == ()
    write_colour_images(tmp_path / "photos", 3)
    report = run_index(tmp_path / "index", [str(tmp_path / "photos")], model="test:tiny", embedder=embedder)
    assert report.added == 3 and embedder.loaded_towers == ("image",)
    embedder.encode_texts(["a dog"])
    assert embedder.loaded_towers == ("image", "text")


def test_search_loads_the_text_tower_before_its_timed_part_and_serve_warms_it_at_start(tmp_path):
    from cli_helpers import write_colour_images

    from viewfinder.app import Index, LiveIndex
    from viewfinder.pipeline.indexer import run_index
    from viewfinder.search.query import Term

    write_colour_images(tmp_path / "photos", 2)
    run_index(tmp_path / "index", [str(tmp_path / "photos")], model="test:tiny")
    with Index(tmp_path / "index", "cpu") as engine:
        engine.search([Term(image_id="1")], k=1)  # by indexed image: its stored vector, no image tower
        engine.search([Term(text="sky")], k=1)
        assert engine.embedder.loaded_towers == ("text",)  # a text query never loads the image tower either
    live = LiveIndex(tmp_path / "index", device="cpu")
    try:
        with live.index() as engine:
            assert "text" in engine.embedder.loaded_towers  # warmed before the server reports ready
    finally:
        live.close()


def test_indexing_on_a_machine_without_gpu_driver_never_imports_torch(onnx_tiny, tmp_path):
    from cli_helpers import write_colour_images

    write_colour_images(tmp_path / "photos", 2)
    script = (
        "import sys; from viewfinder.models import factory; from viewfinder.pipeline.indexer import run_index\n"
        "factory.GPU_DRIVER_PATHS = ('/nonexistent/gpu-driver',)  # as on a machine without a GPU\n"
        f"report = run_index({str(tmp_path / 'index')!r}, [{str(tmp_path / 'photos')!r}], model='test:tiny')\n"
        "assert report.added == 2, report\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=cli_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_tower_the_quantiser_cannot_handle_fails_clearly_once_and_auto_falls_back_to_fp32(tmp_path, monkeypatch):
    from viewfinder.models import onnx_runtime
    from viewfinder.models.onnx_quantize import QuantizationError, quantized_file

    (tmp_path / "image.onnx").write_bytes(b"not an onnx graph")
    with pytest.raises(QuantizationError, match="cannot quantise the image tower"):
        quantized_file(tmp_path, "image", tmp_path / "image.onnx")
    assert len(list(tmp_path.glob("image.int8*.failed"))) == 1  # remembered: the next run does not try again
    with pytest.raises(QuantizationError):
        quantized_file(tmp_path, "image", tmp_path / "image.onnx")

    def refuse(folder, name, source):
        raise QuantizationError("no int8 here")

    monkeypatch.setattr(onnx_runtime, "quantized_file", refuse)
    spec = resolve_model("test:tiny")
    with pytest.raises(QuantizationError):
        load_embedder(spec, "cpu", "onnx-int8").encode_images(np.zeros((1, 64, 64, 3), np.uint8))
    fallback = load_embedder(spec, "cpu", indexing=True)
    assert fallback.encode_images(np.zeros((1, 64, 64, 3), np.uint8)).shape == (1, fallback.dim)
    assert fallback.runtime == "onnx"


def test_the_image_towers_int8_weights_use_8_bits_only_where_the_cpu_has_vnni(tmp_path, monkeypatch):
    from viewfinder.models import onnx_quantize

    source = OnnxEmbedder(resolve_model("test:tiny")).folder / "image.onnx"
    widest = {}
    for vnni in (False, True):
        monkeypatch.setattr(onnx_quantize, "cpu_has_vnni", lambda vnni=vnni: vnni)
        graph = onnx.load(str(onnx_quantize.quantized_file(tmp_path, "image", source))).graph
        weights = {init.name: init for init in graph.initializer}
        products = [node for node in graph.node if node.op_type in ("MatMulInteger", "DynamicQuantizeMatMul")]
        assert products and all(weights[node.input[1]].data_type == onnx.TensorProto.INT8 for node in products)
        widest[vnni] = max(int(np.abs(numpy_helper.to_array(weights[node.input[1]])).max()) for node in products)
    # Without VNNI, AVX2 sums u8 x s8 pairs in 16 bits: 7-bit weights keep two products of 255 x 64 below its
    # limit (32,767). VNNI sums in 32 bits, so its weights take the whole range.
    assert widest[False] <= 64 < widest[True]


def test_vnni_is_read_from_the_cpus_flags_line(tmp_path):
    from viewfinder.models.onnx_quantize import cpu_has_vnni

    cpuinfo = tmp_path / "cpuinfo"
    for flags, signed in [("fpu avx2 fma", False), ("fpu avx2 avx512f avx512_vnni", True), ("avx2 avx_vnni", True)]:
        # Only the flags line counts: another line naming VNNI (here "model name") must not turn it on.
        cpuinfo.write_text(f"processor\t: 0\nmodel name\t: avx_vnni\nflags\t\t: {flags}\n")
        assert cpu_has_vnni(cpuinfo) is signed
    assert cpu_has_vnni(tmp_path / "absent") is False


def test_the_image_session_plans_no_memory_pattern_so_its_memory_follows_the_batch():
    embedder = OnnxEmbedder(resolve_model("test:tiny"))
    embedder.load_image_tower()
    assert embedder._tower("image").get_session_options().enable_mem_pattern is False
