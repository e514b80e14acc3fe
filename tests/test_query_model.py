"""--query-model: a multilingual text encoder (M-CLIP's architecture) searching an index built with the image
model it is aligned to, on torch and ONNX, and refused on any other index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli, run_cli_json, write_colour_images
from multilingual_helpers import TEXTS

import viewfinder
from viewfinder.errors import IndexMismatchError, MissingExtraError, ModelUnavailableError
from viewfinder.models import onnx_export
from viewfinder.models.embedder import TextEncoder
from viewfinder.models.query_registry import check_aligned, resolve_query_model
from viewfinder.models.query_runtime import load_query_encoder
from viewfinder.pipeline.indexer import run_index
from viewfinder.search.query import Term

pytestmark = pytest.mark.slow  # builds M-CLIP query towers and exports them to ONNX

TINY = "test:mclip-tiny"  # declared aligned with test:tiny (32-d)
MCLIP = "M-CLIP/XLM-Roberta-Large-Vit-B-32"


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two small indexes: one built with test:tiny, one with another model (test:shapes, 64-d)."""
    folder = tmp_path_factory.mktemp("query-model") / "photos"
    write_colour_images(folder, 8)
    built = {}
    for model in ("test:tiny", "test:shapes"):
        built[model] = folder.parent / model.replace(":", "-")
        run_index(built[model], [str(folder)], model=model, runtime="torch")  # no ONNX export to wait for
    return built


def test_onnx_matches_torch_with_external_data(hub_cache: Path, tmp_path: Path, monkeypatch) -> None:
    """The exported text tower (weights forced into text.onnx.data) gives torch's vectors."""
    monkeypatch.setenv("VIEWFINDER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_BYTES", 0)
    spec = resolve_query_model(TINY)
    onnx_model = load_query_encoder(spec, "cpu", "onnx")
    torch_model = load_query_encoder(spec, "cpu", "torch")
    cosines = np.sum(onnx_model.encode_texts(TEXTS) * torch_model.encode_texts(TEXTS), axis=1)
    assert cosines.min() >= 0.999, cosines
    meta = json.loads((onnx_model.folder / "export.json").read_text())
    assert meta["external_data"] and meta["dim"] == 32 and (onnx_model.folder / "text.onnx.data").is_file()
    # Search holds either runtime as the one text interface, known by the query model's identity.
    for model in (onnx_model, torch_model):
        assert isinstance(model, TextEncoder) and model.identity() == spec.identity() and model.dim == 32


def test_cli_search_uses_the_query_model(hub_cache: Path, indexes: dict[str, Path], capsys) -> None:
    """Text through the query model; an image file given too is embedded by the index's own model."""
    index = indexes["test:tiny"]
    result = run_cli_json(capsys, "search", "ein roter Kreis", "--query-model", TINY, "--index", index)
    assert len(result["results"]) == 8
    image = next((index.parent / "photos").rglob("*.jpg"))
    args = ("--image", image, "--query-model", TINY, "--runtime", "torch", "--index", index)
    mixed = run_cli_json(capsys, "search", "ein roter Kreis", *args)
    assert len(mixed["results"]) == 8


def test_cached_query_model_needs_no_torch(hub_cache: Path, indexes: dict[str, Path]) -> None:
    """Once exported, a query model answers with onnxruntime and tokenizers only."""
    folder = load_query_encoder(resolve_query_model(TINY), "cpu", "onnx").folder
    script = (
        "import sys; from viewfinder.models.query_runtime import load_query_encoder; "
        "from viewfinder.models.query_registry import resolve_query_model; "
        f"model = load_query_encoder(resolve_query_model({TINY!r}), 'cpu', 'onnx'); "
        "print(model.encode_texts(['ein roter Kreis']).shape); "
        "print(sorted({'torch', 'transformers', 'open_clip'} & set(sys.modules)))"
    )
    env = {**os.environ, "VIEWFINDER_CACHE": str(folder.parents[1])}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.split("\n")[:2] == ["(1, 32)", "[]"]


def test_python_api_ranks_by_the_query_models_vectors(hub_cache: Path, indexes: dict[str, Path]) -> None:
    """The engine's scores are the query model's text vector against the stored image vectors."""
    query = "un círculo rojo"
    with viewfinder.open_index(str(indexes["test:tiny"]), query_model=TINY) as engine:
        hits = engine.search([Term(text=query)], k=8).hits
        stored = np.stack([engine.catalog.vector_of(int(hit.image.id), 32) for hit in hits])
    expected = stored @ load_query_encoder(resolve_query_model(TINY), "cpu", "torch").encode_texts([query])[0]
    assert np.allclose([hit.similarity for hit in hits], expected, atol=1e-3)


def test_cli_refuses_an_index_of_another_model(hub_cache: Path, indexes: dict[str, Path], capsys) -> None:
    code, out, err = run_cli(capsys, "search", "a red circle", "--query-model", TINY, "--index", indexes["test:shapes"])
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "test:mclip-tiny makes 32-d vectors in the space of test:tiny" in err and "test:shapes (64-d)" in err


def test_another_dimension_is_refused() -> None:
    with pytest.raises(IndexMismatchError, match="512-d vectors in the space of ViT-B-32:openai"):
        check_aligned(resolve_query_model(MCLIP), "ViT-B-32:openai", 768)
    check_aligned(resolve_query_model(MCLIP), "ViT-B-32:openai", 512)


def test_unknown_query_model_is_one_line(indexes: dict[str, Path], capsys) -> None:
    code, _, err = run_cli(capsys, "search", "x", "--query-model", "M-CLIP/nope", "--index", indexes["test:tiny"])
    assert code == 2 and "Unknown query model 'M-CLIP/nope'" in err and err.count("\n") == 1


def test_mclip_offline_says_what_to_download(empty_hub: Path, indexes: dict[str, Path], capsys) -> None:
    with pytest.raises(ModelUnavailableError) as error:
        load_query_encoder(resolve_query_model(MCLIP), "cpu", "torch")
    message = str(error.value)
    assert f"from https://huggingface.co/{MCLIP}, download model.safetensors or pytorch_model.bin" in message
    assert f"--query-model {MCLIP}:/path/to/folder" in message and "\n" not in message


def test_mclip_checkpoint_loads_into_the_architecture(tmp_path: Path) -> None:
    """An M-CLIP checkpoint (with the unused pooler and position ids it may hold) loads; a foreign one is refused."""
    import torch

    from viewfinder.models.query_model import build_module, load_weights

    spec = resolve_query_model(TINY)
    state = {key: value + 1 for key, value in build_module(spec).state_dict().items()}
    state["transformer.pooler.dense.weight"] = torch.zeros(32, 32)
    state["transformer.embeddings.position_ids"] = torch.arange(514)[None]
    torch.save(state, tmp_path / "pytorch_model.bin")
    module = build_module(spec)
    load_weights(tmp_path / "pytorch_model.bin", module)
    assert torch.equal(module.LinearTransformation.bias, state["LinearTransformation.bias"])
    torch.save({"visual.proj": torch.zeros(2)}, tmp_path / "other.bin")
    with pytest.raises(ModelUnavailableError, match="is not an M-CLIP checkpoint"):
        load_weights(tmp_path / "other.bin", build_module(spec))


def test_http_search_encodes_text_with_the_query_model(hub_cache: Path, indexes: dict[str, Path]) -> None:
    import httpx
    from service_helpers import start_server_thread

    from viewfinder.serve.app import create_app

    app = create_app(indexes["test:tiny"], device="cpu", query_model=TINY)
    with start_server_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/stats").json()["query_model"] == TINY
        body = client.post("/search", json={"query": "deux étoiles bleues", "top_k": 8}).json()
    query = load_query_encoder(resolve_query_model(TINY), "cpu", "onnx").encode_texts(["deux étoiles bleues"])[0]
    with viewfinder.open_index(str(indexes["test:tiny"])) as engine:
        stored = np.stack([engine.catalog.vector_of(int(hit["image_id"]), 32) for hit in body["results"]])
    assert np.allclose([hit["similarity"] for hit in body["results"]], stored @ query, atol=1e-3)


def test_serve_refuses_an_index_of_another_model(hub_cache: Path, indexes: dict[str, Path], capsys) -> None:
    code, _, err = run_cli(capsys, "serve", "--query-model", TINY, "--index", indexes["test:shapes"], "--port", "0")
    assert code == 2 and err.count("\n") == 1 and "built with test:shapes" in err


def test_query_model_without_transformers_names_the_extra(hub_cache: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'viewfinder\[multilingual\]'"):
        load_query_encoder(resolve_query_model(TINY), "cpu", "torch")
