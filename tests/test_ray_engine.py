"""`viewfinder index --engine ray`: the same index as the local engine, crash-safe commits, loopback only.

One local Ray (2 CPUs, bound to 127.0.0.1) serves the whole test session (the `ray_cluster` fixture).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli, run_cli_json, write_colour_images
from net_helpers import descendants, listening_sockets

from viewfinder.errors import ViewfinderError
from viewfinder.images.decode import decode_image
from viewfinder.pipeline.indexer import run_index
from viewfinder.store.catalog import Catalog
from viewfinder.store.faiss_index import VectorIndex

pytestmark = pytest.mark.slow  # a local Ray

DIM = 32  # test:tiny


def catalog_vectors(index: Path) -> dict[str, np.ndarray]:
    catalog = Catalog(index / "catalog.sqlite", readonly=True)
    try:
        return {path: catalog.vector_of(state.id, DIM) for path, state in catalog.indexed_states().items()}
    finally:
        catalog.close()


def test_ray_engine_gives_the_local_engines_vectors_and_skips(capsys, library, tmp_path, ray_cluster):
    (library / "broken.jpg").write_bytes(b"not a picture")
    local = run_cli_json(capsys, "index", library, "--index", tmp_path / "local", "--model", "test:tiny")
    distributed = run_cli_json(
        capsys, "index", library, "--index", tmp_path / "ray", "--model", "test:tiny", "--engine", "ray",
        "--batch-size", "8",
    )  # fmt: skip
    assert (distributed["added"], distributed["total"]) == (local["added"], local["total"]) == (24, 24)
    assert distributed["skipped"] == local["skipped"] and len(local["skipped"]) == 1
    expected, got = catalog_vectors(tmp_path / "local"), catalog_vectors(tmp_path / "ray")
    assert expected.keys() == got.keys()
    assert min(float(expected[path] @ got[path]) for path in expected) >= 0.9999

    result = run_cli_json(capsys, "search", "a red square", "--index", tmp_path / "ray", "-k", "5")
    assert result["count"] == 5


def test_killed_ray_job_resumes_without_re_embedding_committed_batches(tmp_path, monkeypatch, ray_cluster):
    photos = tmp_path / "photos"
    write_colour_images(photos, 20)
    index = tmp_path / "index"
    real_commit = Catalog.commit_batch
    committed: list[int] = []

    def commit_then_die(self, images=(), *args, **kwargs):
        if images and len(committed) == 2:
            raise KeyboardInterrupt  # the driver dies after two committed batches
        ids = real_commit(self, images, *args, **kwargs)
        committed.extend([1] if images else [])
        return ids

    monkeypatch.setattr(Catalog, "commit_batch", commit_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_index(index, [str(photos)], model="test:tiny", engine="ray", batch_size=4)
    monkeypatch.setattr(Catalog, "commit_batch", real_commit)
    assert len(catalog_vectors(index)) == 8

    report = run_index(index, [str(photos)], model="test:tiny", engine="ray", batch_size=4)
    assert (report.added, report.unchanged, report.total) == (12, 8, 20)  # only the remainder was embedded
    catalog = Catalog(index / "catalog.sqlite", readonly=True)
    ids = np.concatenate([chunk[0] for chunk in catalog.vectors(DIM)])
    saved, generation = VectorIndex.load(index)
    assert len(set(ids.tolist())) == len(ids) == saved.count == 20 and generation == catalog.generation()
    catalog.close()


def test_ray_address_without_the_ray_engine_is_a_usage_error(capsys, library, tmp_path):
    code, _, err = run_cli(capsys, "index", library, "--index", tmp_path / "i", "--ray-address", "127.0.0.1:6379")
    assert code == 2 and "--ray-address needs --engine ray" in err


def test_every_ray_listener_is_on_loopback(ray_cluster):
    import ray

    @ray.remote(num_cpus=0)
    def worker_pid() -> int:
        return os.getpid()

    worker = ray.get(worker_pid.remote())  # a worker process is up, with its own listener
    pids = descendants(os.getpid())
    assert worker in pids and len(pids) >= 3  # the driver, the GCS, the raylet and workers are all counted
    listeners = listening_sockets(pids)
    assert len(listeners) >= 3, listeners
    assert {address for address, _ in listeners} == {"127.0.0.1"}, listeners


def test_a_failed_ray_job_is_a_clear_error_and_keeps_what_was_committed(tmp_path, monkeypatch, ray_cluster):
    photos = tmp_path / "photos"
    write_colour_images(photos, 4)

    def actor_cannot_start(*args, **kwargs):
        # What Ray raises when an actor's constructor fails, e.g. a source folder missing on its node.
        raise ray_cluster.exceptions.RayError("ViewfinderError: Source folder /photos does not exist")

    monkeypatch.setattr(ray_cluster.data.Dataset, "iter_batches", actor_cannot_start)
    with pytest.raises(ViewfinderError, match=r"The Ray job failed \(ViewfinderError: Source folder /photos"):
        run_index(tmp_path / "index", [str(photos)], model="test:tiny", engine="ray", batch_size=2)
    catalog = Catalog(tmp_path / "index" / "catalog.sqlite", readonly=True)
    assert catalog.count() == 0 and catalog.skipped() == []
    catalog.close()


def test_embed_actor_reads_other_sources_through_open_and_reports_bad_rows_in_a_column(tmp_path):
    from viewfinder.models.registry import resolve_model
    from viewfinder.pipeline.indexer import load_embedder_for
    from viewfinder.pipeline.ray_engine import EmbedActor, _unpack
    from viewfinder.sources import SourceFile

    tiny_embedder = load_embedder_for(resolve_model("test:tiny"), "cpu", "auto")  # the model as indexing loads it

    photos = tmp_path / "photos"
    good = write_colour_images(photos, 2)

    class BucketSource:
        """A source that is not a folder (as object storage): entries are keys read through open()."""

        root = "bucket://photos"

        def __init__(self):
            self.blobs = {"a.jpg": good[0].read_bytes(), "b.png": good[1].read_bytes(), "bad.jpg": b"not an image"}

        def open(self, key):
            import io

            if key not in self.blobs:
                raise ConnectionError("bucket unreachable")
            return io.BytesIO(self.blobs[key])

    actor = EmbedActor("test:tiny", "cpu", "auto", [str(photos)])
    actor.sources[BucketSource.root] = BucketSource()
    keys = np.array(["a.jpg", "bad.jpg", "b.png", "gone.jpg"], dtype=object)
    out = actor({"row": np.arange(4), "key": keys, "root": np.array([BucketSource.root] * 4, dtype=object)})
    assert out["error"][0] == out["error"][2] == ""
    assert "image" in out["error"][1] and out["error"][3] == "cannot read file (bucket unreachable)"
    expected = tiny_embedder.encode_images(
        np.stack([decode_image(path, tiny_embedder.preprocess).pixels for path in good])
    )
    assert np.allclose(out["vector"][[0, 2]], expected, atol=1e-5) and not out["vector"][[1, 3]].any()
    # Entries read through a source get their thumbnail made on the actor, from the bytes it fetched, and
    # handed to the indexer by path, so an S3 library indexed on Ray never needs its originals for the grid.
    assert [bytes(t)[:3] for t in out["thumbnail"]] == [b"\xff\xd8\xff", b"", b"\xff\xd8\xff", b""]
    work = [(SourceFile(key, BucketSource.root, 1, 1), None) for key in keys]
    thumbnails: dict[str, bytes] = {}
    images, _, skipped = _unpack(out, work, thumbnails)
    assert sorted(thumbnails) == ["a.jpg", "b.png"] and len(images) == 2 and len(skipped) == 2
    local = actor(
        {
            "row": np.arange(1),
            "key": np.array([str(good[0])], dtype=object),
            "root": np.array([str(photos)], dtype=object),
        }
    )
    assert local["error"][0] == "" and bytes(local["thumbnail"][0]) == b""  # a local file's is made from the file
