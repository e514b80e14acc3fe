"""Shared fixtures: a generated library, the test model and a private model cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_helpers import write_colour_images


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    write_colour_images(folder, 24)
    return folder


@pytest.fixture(scope="session")
def tiny_embedder():
    """The deterministic random test model, loaded once for the session."""
    from viewfinder.models.factory import load_embedder
    from viewfinder.models.registry import resolve_model

    return load_embedder(resolve_model("test:tiny"), "cpu")


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder for the whole session, so ONNX exports never land in the user's ~/.cache."""
    folder = tmp_path_factory.mktemp("viewfinder-cache")
    previous = os.environ.get("VIEWFINDER_CACHE")
    os.environ["VIEWFINDER_CACHE"] = str(folder)
    yield folder
    if previous is None:
        del os.environ["VIEWFINDER_CACHE"]
    else:
        os.environ["VIEWFINDER_CACHE"] = previous


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray for the whole session, bound to 127.0.0.1 (start-up costs seconds); stopped at the end."""
    from viewfinder.pipeline import ray_engine

    ray = ray_engine.import_ray()
    ray_engine.start_local(ray)
    yield ray
    ray.shutdown()
