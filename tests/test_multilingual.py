"""open_clip's XLM-RoBERTa text towers on torch and ONNX, offline: the shipped transformer configs, a tokenizer
trained here in the Hugging Face cache where the real one would be, and random weights of the real layers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli
from multilingual_helpers import TEXTS, cached_tokenizer

from viewfinder.errors import MissingExtraError, ModelUnavailableError
from viewfinder.models import onnx_export
from viewfinder.models.factory import load_embedder
from viewfinder.models.registry import resolve_model

TINY = "random:viewfinder-xlmr-tiny"


def test_tokenizer_gives_open_clips_ids(hub_cache: Path) -> None:
    """The torch-free tokenizer against open_clip's HFTokenizer (transformers) on the same tokenizer.json."""
    from open_clip.tokenizer import HFTokenizer

    from viewfinder.models.hf_tokenizer import HfTokenizer

    tokenizer_file = cached_tokenizer(hub_cache)
    reference = HFTokenizer(str(tokenizer_file.parent), context_length=77)(list(TEXTS)).numpy()
    ours = HfTokenizer(tokenizer_file, 77, pad_id=1)
    assert np.array_equal(ours(TEXTS), reference)
    trimmed = ours(TEXTS[:2], trim=True)
    assert trimmed.shape[1] < 77 and np.array_equal(trimmed, reference[:2, : trimmed.shape[1]])
    assert reference[-1, -1] == 2 and reference[0, 0] == 0  # the long text keeps its </s>


@pytest.mark.slow  # exports XLM-R towers to ONNX
@pytest.mark.parametrize("arch", ["viewfinder-xlmr-tiny", "viewfinder-xlmr-tiny-cls"])
def test_onnx_matches_torch(hub_cache: Path, arch: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mean- and CLS-pooled XLM-R towers: the ONNX export, with its own tokenizer, gives torch's vectors. The
    CLS one is exported as a large model would be, with its weights in .onnx.data files (forced here)."""
    external = arch.endswith("cls")
    if external:
        monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_BYTES", 0)
    spec = resolve_model(f"random:{arch}")
    torch_model = load_embedder(spec, "cpu", runtime="torch")
    onnx_model = load_embedder(spec, "cpu", runtime="onnx")
    cosines = np.sum(torch_model.encode_texts(TEXTS) * onnx_model.encode_texts(TEXTS), axis=1)
    assert cosines.min() >= 0.999, cosines
    pixels = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    assert np.sum(torch_model.encode_images(pixels) * onnx_model.encode_images(pixels), axis=1).min() >= 0.999
    meta = json.loads((onnx_model.folder / "export.json").read_text())
    assert (meta["tokenizer"], meta["pad_id"], meta["trimmed_text"], meta["dim"]) == ("hf", 1, True, 16)
    assert (onnx_model.folder / "tokenizer.json").is_file() and meta["external_data"] == external
    pooler = torch_model.model.text.pooler
    assert type(pooler).__name__ == ("ClsPooler" if external else "MeanPooler")
    if external:
        _check_external_data(onnx_model.folder)
        # ORT's int8 quantiser reads external data too (the image tower's; its shape inference rejects the
        # exported XLM-R text graph, with or without external data, so text queries stay fp32 under `auto`).
        int8 = load_embedder(spec, "cpu", runtime="onnx-int8").encode_images(pixels)
        assert np.sum(int8 * onnx_model.encode_images(pixels), axis=1).min() >= 0.99


def _check_external_data(folder: Path) -> None:
    """Each tower's largest weights (the embedding table, the patch projection) are in its .onnx.data file,
    and the export was renamed into place whole (no staging folder left)."""
    import onnx

    for tower in ("image", "text"):
        graph = onnx.load(str(folder / f"{tower}.onnx"), load_external_data=False).graph
        largest = max(graph.initializer, key=lambda tensor: np.prod(tensor.dims))
        assert largest.data_location == onnx.TensorProto.EXTERNAL
        assert (folder / f"{tower}.onnx.data").stat().st_size >= 4 * np.prod(largest.dims)
    assert not [path.name for path in folder.parent.iterdir() if path.name.startswith(".export-")]


@pytest.mark.slow  # exports an XLM-R tower to ONNX
def test_onnx_text_tower_needs_no_torch(hub_cache: Path) -> None:
    """A cached export answers queries with onnxruntime and tokenizers only."""
    folder = load_embedder(resolve_model(TINY), "cpu", runtime="onnx").folder
    script = (
        "import sys; from viewfinder.models.onnx_runtime import OnnxEmbedder; "
        "from viewfinder.models.registry import resolve_model; "
        f"model = OnnxEmbedder(resolve_model({TINY!r})); print(model.encode_texts(['ein roter Kreis']).shape); "
        "print(sorted({'torch', 'transformers', 'open_clip'} & set(sys.modules)))"
    )
    env = {**os.environ, "VIEWFINDER_CACHE": str(folder.parents[1])}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.split("\n")[:2] == ["(1, 16)", "[]"]


def test_weights_file_with_its_tokenizer(hub_cache: Path, tmp_path: Path) -> None:
    """ARCH:/path/weights with tokenizer.json beside it: the checkpoint loads into the offline-built tower."""
    from safetensors.torch import save_file

    random_model = load_embedder(resolve_model(TINY), "cpu", runtime="torch")
    weights = tmp_path / "open_clip_model.safetensors"
    save_file({key: value.contiguous() for key, value in random_model.model.state_dict().items()}, str(weights))
    (tmp_path / "tokenizer.json").write_bytes(cached_tokenizer(hub_cache).read_bytes())
    loaded = load_embedder(resolve_model(f"viewfinder-xlmr-tiny:{weights}"), "cpu", runtime="torch")
    assert np.allclose(loaded.encode_texts(TEXTS), random_model.encode_texts(TEXTS), atol=1e-6)


def test_tagged_weights_offline_say_what_to_download(empty_hub: Path) -> None:
    with pytest.raises(ModelUnavailableError) as error:
        load_embedder(resolve_model("xlm-roberta-base-ViT-B-32:laion5b_s13b_b90k"), "cpu", runtime="torch")
    message = str(error.value)
    assert "\n" not in message
    assert "https://huggingface.co/laion/CLIP-ViT-B-32-xlm-roberta-base-laion5B-s13B-b90k" in message
    assert "tokenizer.json from https://huggingface.co/FacebookAI/xlm-roberta-base" in message


def test_cli_index_offline_is_one_line_and_exit_2(empty_hub: Path, library: Path, tmp_path: Path, capsys) -> None:
    model = "xlm-roberta-base-ViT-B-32:laion5b_s13b_b90k"
    code, _, err = run_cli(capsys, "index", library, "--index", tmp_path / "index", "--model", model)
    assert code == 2 and err.count("\n") == 1 and "tokenizer.json from https://huggingface.co/FacebookAI" in err


def test_missing_tokenizer_says_what_to_download(empty_hub: Path) -> None:
    with pytest.raises(ModelUnavailableError, match=r"download tokenizer.json from https://huggingface.co/Facebook"):
        load_embedder(resolve_model(TINY), "cpu", runtime="torch")


@pytest.mark.slow  # builds a real-size XLM-RoBERTa
def test_real_size_xlm_roberta_base(hub_cache: Path) -> None:
    """random:xlm-roberta-base-ViT-B-32 builds open_clip's model with XLM-R base's published shape offline."""
    model = load_embedder(resolve_model("random:xlm-roberta-base-ViT-B-32"), "cpu", runtime="torch")
    config = model.model.text.config
    shape = (config.vocab_size, config.hidden_size, config.num_hidden_layers, config.num_attention_heads)
    assert shape == (250002, 768, 12, 12) and model.dim == 512
    vectors = model.encode_texts(TEXTS[:4])
    assert vectors.shape == (4, 512) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_shipped_configs_cover_open_clips_xlm_roberta_models() -> None:
    """Both XLM-R towers build from shipped configs; towers without one (NLLB-CLIP) are left to open_clip."""
    from viewfinder.models.hf_text import hf_config_dir, hf_text_cfg

    large = json.loads((hf_config_dir(hf_text_cfg("xlm-roberta-large-ViT-H-14")) / "config.json").read_text())
    assert (large["hidden_size"], large["num_hidden_layers"], large["vocab_size"]) == (1024, 24, 250002)
    assert hf_text_cfg("xlm-roberta-base-ViT-B-32")["hf_pooler_type"] == "mean_pooler"
    assert hf_text_cfg("nllb-clip-base") is None and hf_text_cfg("ViT-B-32") is None


@pytest.mark.parametrize(
    ("missing", "fix"),
    [("transformers", r"pip install 'viewfinder\[multilingual\]'"), ("tokenizers", r"--force-reinstall viewfinder")],
)
def test_a_missing_library_names_the_extra(
    hub_cache: Path, monkeypatch: pytest.MonkeyPatch, missing: str, fix: str
) -> None:
    """transformers comes with the extra; tokenizers with every install (ONNX towers read tokenizer.json)."""
    monkeypatch.setitem(sys.modules, missing, None)  # what an install without it looks like to `import`
    with pytest.raises(MissingExtraError, match=fix):
        load_embedder(resolve_model(TINY), "cpu", runtime="torch")
