"""`viewfinder index --engine ray`: the same index as the local engine, crash-safe commits, loopback only.

One Ray cluster of two nodes on this machine (bound to 127.0.0.1) serves the whole test session (the
`ray_cluster` fixture).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli, run_cli_json, write_colour_images
from net_helpers import descendants, listening_sockets
from PIL import Image

from viewfinder.errors import ViewfinderError
from viewfinder.images.decode import decode_image
from viewfinder.pipeline.indexer import run_index
from viewfinder.pipeline.records import PlannedFile
from viewfinder.sources import FolderSource, SourceFile
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


def catalog_rows(index: Path) -> tuple[dict[str, tuple], dict[str, tuple], dict[str, np.ndarray]]:
    """Everything a catalog records but its ids and times: images and skips by path, and vectors by path."""
    db = sqlite3.connect(index / "catalog.sqlite")
    try:
        images = {
            row[0]: row[1:]
            for row in db.execute(
                "SELECT path, root, size, mtime_ns, width, height, format, taken_at, content_hash, inode, ctime_ns"
                " FROM images"
            )
        }
        skipped = {row[0]: row[1:] for row in db.execute("SELECT path, root, size, mtime_ns, reason FROM skipped")}
    finally:
        db.close()
    return images, skipped, catalog_vectors(index)


def broken_library(library: Path) -> Path:
    """The test library with files no engine can use: bad data, an empty file, a truncated JPEG, a picture too
    elongated, a dangling link, and one that the scan lists but that is gone when it is read."""
    (library / "broken.jpg").write_bytes(b"not a picture")
    (library / "empty.png").write_bytes(b"")
    whole = (library / "image-0001.jpg").read_bytes()
    (library / "truncated.jpg").write_bytes(whole[: len(whole) // 3])
    Image.new("L", (1, 2000), 128).save(library / "strip.png")
    (library / "dangling.jpg").symlink_to(library / "nowhere.jpg")
    vanishing = library / "nested" / "vanishing.jpg"
    Image.new("RGB", (80, 60), (200, 30, 90)).save(vanishing)  # unlike any other, so it is embedded, not reused
    return vanishing


def test_local_and_two_node_ray_engines_give_the_same_catalog(library, tmp_path, monkeypatch, ray_cluster):
    assert len(ray_cluster.nodes()) == 2
    vanishing = broken_library(library)
    listed = list(FolderSource(str(library)).scan())
    stat, saved = vanishing.stat(), vanishing.read_bytes()
    vanishing.unlink()  # listed by the scan, gone when read: a file moved away for a moment
    monkeypatch.setattr(FolderSource, "scan", lambda self, exclude=None: iter(listed))
    local = run_index(tmp_path / "local", [str(library)], model="test:tiny")
    distributed = run_index(tmp_path / "ray", [str(library)], model="test:tiny", engine="ray", batch_size=8)

    assert (distributed.added, distributed.total) == (local.added, local.total) == (24, 24)
    assert sorted(distributed.skipped, key=str) == sorted(local.skipped, key=str)
    images, skipped, vectors = catalog_rows(tmp_path / "local")
    ray_images, ray_skipped, ray_vectors = catalog_rows(tmp_path / "ray")
    assert ray_images == images and len(images) == 24
    assert ray_skipped == skipped
    reasons = {Path(path).name: reason for path, (_, _, _, reason) in skipped.items()}
    assert reasons == {
        "broken.jpg": "not an image file",
        "empty.png": "empty file",
        "truncated.jpg": reasons["truncated.jpg"],
        "strip.png": "image too elongated (1x2000 pixels, limit 1000:1 between its sides)",
        "dangling.jpg": "dangling symbolic link",
        "vanishing.jpg": "file not found",
    }
    # What could not be read is recorded without its size and mtime, so that the next run tries it again.
    assert skipped[str(vanishing)][1:3] == (None, None) and None not in skipped[str(library / "broken.jpg")]
    assert ray_vectors.keys() == vectors.keys()
    assert min(float(vectors[path] @ ray_vectors[path]) for path in vectors) >= 0.9999

    # Back with the very size and mtime it was listed with: each engine embeds it now, and only it.
    vanishing.write_bytes(saved)
    os.utime(vanishing, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = run_index(tmp_path / "local", [str(library)])
    ray_again = run_index(tmp_path / "ray", [str(library)], engine="ray", batch_size=8)
    assert (again.added, again.total) == (ray_again.added, ray_again.total) == (1, 25)
    images, skipped, vectors = catalog_rows(tmp_path / "local")
    assert catalog_rows(tmp_path / "ray")[:2] == (images, skipped) and str(vanishing) in images


def test_the_cli_indexes_with_ray_as_with_the_local_engine(capsys, library, tmp_path, ray_cluster):
    local = run_cli_json(capsys, "index", library, "--index", tmp_path / "local", "--model", "test:tiny")
    distributed = run_cli_json(
        capsys, "index", library, "--index", tmp_path / "ray", "--model", "test:tiny", "--engine", "ray",
        "--batch-size", "8",
    )  # fmt: skip
    assert (distributed["added"], distributed["skipped"]) == (local["added"], local["skipped"]) == (24, [])
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
    from viewfinder.pipeline.ray_engine import EmbedActor, unpack

    tiny_embedder = load_embedder_for(resolve_model("test:tiny"), "cpu", "auto")  # the model as indexing loads it

    photos = tmp_path / "photos"
    good = write_colour_images(photos, 2)

    class BucketSource:
        """A source that is not a folder (as object storage): entries are keys read through open()."""

        root = "bucket://photos"
        remote = True

        def __init__(self):
            self.blobs = {"a.jpg": good[0].read_bytes(), "b.png": good[1].read_bytes(), "bad.jpg": b"not an image"}

        def open(self, key, version=""):
            import io

            if key == "throttled.jpg":  # what the S3 source raises once its client's retries are spent
                raise ViewfinderError("Cannot read s3://photos/throttled.jpg: SlowDown")
            if key not in self.blobs:
                raise ConnectionError("bucket unreachable")
            return io.BytesIO(self.blobs[key])

    actor = EmbedActor("test:tiny", "cpu", "auto", [str(photos)])
    actor.sources[BucketSource.root] = BucketSource()
    keys = np.array(["a.jpg", "bad.jpg", "b.png", "gone.jpg"], dtype=object)
    roots, versions = np.array([BucketSource.root] * 4, dtype=object), np.array([""] * 4, dtype=object)
    out = actor({"row": np.arange(4), "key": keys, "root": roots, "version": versions})
    assert out["error"][0] == out["error"][2] == ""
    assert "image" in out["error"][1] and out["error"][3] == "cannot read file (bucket unreachable)"
    # A source failing as a whole fails the batch, as on the local engine: nothing of it is committed.
    throttled = {
        "key": np.array(["throttled.jpg"], dtype=object),
        "root": np.array([BucketSource.root], dtype=object),
        "version": np.array([""], dtype=object),
    }
    with pytest.raises(ViewfinderError, match="SlowDown"):
        actor({"row": np.arange(1), **throttled})
    expected = tiny_embedder.encode_images(
        np.stack([decode_image(path, tiny_embedder.preprocess).pixels for path in good])
    )
    assert np.allclose(out["vector"][[0, 2]], expected, atol=1e-5) and not out["vector"][[1, 3]].any()
    # Entries read through a source get their thumbnail made on the actor, from the bytes it fetched, and
    # handed to the indexer by path, so an S3 library indexed on Ray never needs its originals for the grid.
    assert [bytes(t)[:3] for t in out["thumbnail"]] == [b"\xff\xd8\xff", b"", b"\xff\xd8\xff", b""]
    batch = unpack(out, [PlannedFile(SourceFile(key, BucketSource.root, 1, 1)) for key in keys])
    assert sorted(batch.thumbnails) == [image.path for image in batch.images] == ["a.jpg", "b.png"]
    # Bad data stays skipped while the entry is unchanged; an entry that could not be read is tried again.
    assert [(skip.path, skip.size) for skip in batch.skips] == [("bad.jpg", 1), ("gone.jpg", None)]
    local = actor(
        {
            "row": np.arange(1),
            "key": np.array([str(good[0])], dtype=object),
            "root": np.array([str(photos)], dtype=object),
            "version": np.array([""], dtype=object),
        }
    )
    assert local["error"][0] == "" and bytes(local["thumbnail"][0]) == b""  # a local file's is made from the file
