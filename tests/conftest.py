"""Shared fixtures: a generated library, the test model and a private model cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_helpers import run_cli_json, write_colour_images
from multilingual_helpers import put_in_hub_cache, train_tokenizer

# Session servers that a second worker would start again at a cost the parallel run does not win back: each
# Milvus server takes ~10 s of a core to start and keeps ticking, a Ray cluster is four processes.
ONE_WORKER_SERVERS = frozenset({"milvus_server", "ray_cluster"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Groups the tests for pytest-xdist's `--dist loadgroup` (scripts/test.sh): each module runs whole on one
    worker, so its module fixtures are made once, and every module that uses a server in ONE_WORKER_SERVERS runs
    on the same worker, so each of those servers starts once. Without xdist the marks do nothing."""

    def module(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    with_servers = {module(item) for item in items if ONE_WORKER_SERVERS & set(getattr(item, "fixturenames", ()))}
    for item in items:
        group = "one-worker-servers" if module(item) in with_servers else module(item)
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    write_colour_images(folder, 24)
    return folder


@pytest.fixture
def index(capsys: pytest.CaptureFixture, library: Path, tmp_path: Path) -> Path:
    """`library` indexed with test:tiny through the CLI."""
    folder = tmp_path / "index"
    run_cli_json(capsys, "index", library, "--index", folder, "--model", "test:tiny")
    return folder


@pytest.fixture(autouse=True)
def one_text_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a one-off process does: a test that runs `serve` in this process (the CLI's command,
    with a port taken) sets text_threads.use_free_cores, which would last for every later test."""
    from viewfinder.models import text_threads

    monkeypatch.setattr(text_threads, "_free_cores_wanted", False)


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
    """A Ray cluster of two nodes on this machine for the whole session (how a cluster is simulated here), each
    with one CPU and every listener on 127.0.0.1; this process joins it as a driver. Stopped at the end."""
    from viewfinder.pipeline import ray_engine

    ray = ray_engine.import_ray()
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 100 * 2**20}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    try:
        cluster.add_node(**node)
        ray.init(address=cluster.address, _node_ip_address="127.0.0.1", log_to_driver=False, logging_level="WARNING")
        yield ray
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="session")
def milvus_server():
    """One Milvus standalone server for the session (start-up costs ~10 s), on loopback, at test pace; stopped at
    the end."""
    from milvus_helpers import run_milvus_server

    with run_milvus_server(test_pace=True) as address:
        yield address


@pytest.fixture(scope="session")
def seaweed():
    """One SeaweedFS S3 server for the session, its endpoint and test credentials in this process's environment
    (where every S3 client, and the child processes tests start, read them)."""
    from s3_helpers import run_seaweed

    from viewfinder.sources.s3 import client

    with run_seaweed() as server:
        saved = {key: os.environ.get(key) for key in server.env()}
        os.environ.update(server.env())
        client.cache_clear()
        try:
            yield server
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            client.cache_clear()


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory: pytest.TempPathFactory):
    """A Hugging Face cache holding the test tokenizer as XLM-R's (base and large), the hub switched off."""
    from huggingface_hub import constants

    cache = tmp_path_factory.mktemp("hub")
    tokenizer = train_tokenizer(tmp_path_factory.mktemp("xlmr-tokenizer") / "tokenizer.json")
    for repo in ("FacebookAI/xlm-roberta-base", "FacebookAI/xlm-roberta-large"):
        put_in_hub_cache(cache, repo, tokenizer.parent)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(constants, "HF_HUB_CACHE", str(cache))
        patch.setenv("HF_HUB_CACHE", str(cache))
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield cache


@pytest.fixture
def empty_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache, the hub switched off: nothing can be found or downloaded."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "hub"
