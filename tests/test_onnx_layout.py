"""CLIP models published in ONNX form (the layout Immich publishes on the Hugging Face hub) run without torch:
from a folder, from the Hugging Face cache, and as the stand-in for an open_clip `ARCH:TAG` model where torch
cannot export it. The layout is built here from the project's own test model, as Immich's exporter builds it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import write_colour_images
from extras_helpers import run_cli_without
from onnx_layout_helpers import write_hub_cache, write_hub_layout

from viewfinder.errors import EXTRA_MODULES
from viewfinder.models.onnx_runtime import OnnxEmbedder
from viewfinder.models.registry import resolve_model

NO_TORCH = EXTRA_MODULES["torch"]
TEXTS = ["a red circle", "Two  GREEN squares!", "un cercle rouge", "a dog's birthday, café", "x " * 100]


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_hub_layout(resolve_model("test:tiny"), tmp_path_factory.mktemp("hub") / "viewfinder-tiny__layout")


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    write_colour_images(tmp_path / "photos", 3)
    return tmp_path / "photos"


@pytest.mark.slow
def test_the_layout_gives_the_vectors_of_the_model_it_was_exported_from(layout: Path, model_cache: Path) -> None:
    published, own = OnnxEmbedder(resolve_model(str(layout))), OnnxEmbedder(resolve_model("test:tiny"))
    assert published.dim == own.dim == 32
    text_cosines = (published.encode_texts(TEXTS) * own.encode_texts(TEXTS)).sum(axis=1)
    # Three images through a tower made for a batch of one.
    pixels = (np.random.default_rng(0).random((3, 64, 64, 3)) * 255).astype(np.uint8)
    image_cosines = (published.encode_images(pixels) * own.encode_images(pixels)).sum(axis=1)
    assert text_cosines.min() > 0.9999 and image_cosines.min() > 0.9999, (text_cosines, image_cosines)


def index_and_search(model: str, photos: Path, index: Path, env: dict[str, str]) -> dict:
    built = run_cli_without(NO_TORCH, "index", photos, "--index", index, "--model", model, env=env)
    assert built.returncode == 0, built.stderr
    found = run_cli_without(NO_TORCH, "search", "red", "--index", index, "--json", "--min-relevance", "0", env=env)
    assert found.returncode == 0, found.stderr
    return json.loads(found.stdout)


@pytest.mark.slow
def test_without_torch_a_folder_in_the_layout_indexes_and_searches(layout: Path, photos: Path, tmp_path: Path) -> None:
    env = {"VIEWFINDER_CACHE": str(tmp_path / "cache")}
    answer = index_and_search(str(layout), photos, tmp_path / "index", env)
    assert len(answer["results"]) == 3
    info = run_cli_without(NO_TORCH, "info", "--index", tmp_path / "index", "--json", env=env)
    assert json.loads(info.stdout)["model"] == f"onnx-dir:{layout.resolve()}"


@pytest.mark.slow
@pytest.mark.parametrize("model", ["hf-hub:immich-app/viewfinder-tiny__layout", "viewfinder-tiny:layout"])
def test_without_torch_a_repository_in_the_hugging_face_cache_runs_offline(
    model: str, layout: Path, photos: Path, tmp_path: Path
) -> None:
    """By its hub name, and as the published form of the open_clip model ARCH:TAG (immich-app/ARCH__TAG)."""
    write_hub_cache(tmp_path / "hf", "immich-app/viewfinder-tiny__layout", layout)
    env = {"VIEWFINDER_CACHE": str(tmp_path / "cache"), "HF_HUB_CACHE": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    assert len(index_and_search(model, photos, tmp_path / "index", env)["results"]) == 3


def test_without_torch_or_the_hub_a_model_names_where_to_get_it(photos: Path, tmp_path: Path) -> None:
    env = {"VIEWFINDER_CACHE": str(tmp_path / "cache"), "HF_HUB_CACHE": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    args = ["index", photos, "--index", tmp_path / "index", "--model", "ViT-B-32:openai"]
    result = run_cli_without(NO_TORCH, *args, env=env)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(
        "viewfinder: error: immich-app/ViT-B-32__openai is not cached and huggingface.co cannot be reached: from "
        "https://huggingface.co/immich-app/ViT-B-32__openai, download config.json, visual/model.onnx,"
    )


def test_a_layout_runs_on_onnx_runtime_only(layout: Path, photos: Path, tmp_path: Path) -> None:
    args = ["index", photos, "--index", tmp_path / "index", "--model", layout, "--runtime", "torch"]
    result = run_cli_without([], *args)
    assert result.returncode == 2
    assert result.stderr == (
        f"viewfinder: error: onnx-dir:{layout.resolve()} is published in ONNX form: it runs on --runtime onnx, "
        "not torch.\n"
    )
