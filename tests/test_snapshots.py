"""Index snapshots in S3 (SeaweedFS on loopback): publish, a server that follows the pointer and swaps under
continuous searching with no failed request, rollback, pruning, and refusal of interrupted or corrupt uploads."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import httpx
import pytest
from cli_helpers import run_cli, write_colour_images
from service_helpers import start_server_process, start_server_thread, wait_for
from snapshot_helpers import bucket_name, keys, own_bucket, publish_library
from test_service_live import SearchLoop

from viewfinder.app import Index
from viewfinder.pipeline.indexer import run_index
from viewfinder.search import relevance
from viewfinder.search.duplicates import find_duplicates
from viewfinder.search.query import Term
from viewfinder.serve.app import create_app
from viewfinder.store import snapshot_cache, snapshots
from viewfinder.store.indexdir import FORMAT_VERSION, HALF_PRECISION_FORMAT
from viewfinder.store.snapshot_cache import download
from viewfinder.store.snapshots import SnapshotError, current, prune, publish, versions

pytestmark = pytest.mark.slow  # a SeaweedFS server


@pytest.fixture
def published(seaweed, tmp_path, request):
    """A local index of 12 images, published once to s3://<bucket>/indexes/demo."""
    with own_bucket(seaweed, bucket_name(request.node.name, "snap")) as bucket:
        yield publish_library(tmp_path, bucket)


def test_publish_writes_a_checksummed_snapshot_then_the_pointer(seaweed, published, tmp_path):
    url, _, _, version = published
    names = keys(seaweed, url)
    assert "CURRENT" in names and f"snapshots/{version}/SNAPSHOT.json" in names
    assert current(url)["version"] == version
    folder = download(url, current(url), tmp_path / "cache")
    listing = json.loads((folder / "SNAPSHOT.json").read_text())
    assert {"catalog.sqlite", "manifest.json", "ann.json"} <= set(listing["files"])
    assert any(name.startswith("vectors-") for name in listing["files"])
    # The snapshot's vectors are float16 (faiss_precision); the index it was made of keeps float32.
    assert json.loads((folder / "ann.json").read_text())["precision"] == "float16"
    assert json.loads((published[1] / "ann.json").read_text())["precision"] == "float32"
    # ...under a format number of its own, which a reader from before float16 snapshots refuses to switch to.
    assert json.loads((folder / "manifest.json").read_text())["format_version"] == HALF_PRECISION_FORMAT
    assert json.loads((published[1] / "manifest.json").read_text())["format_version"] == FORMAT_VERSION
    assert [entry.name for entry in (tmp_path / "cache").iterdir()] == [version]  # no temporary folder left
    env = {"VIEWFINDER_SNAPSHOT_CACHE": str(tmp_path / "serve-cache")}
    with start_server_process(url, "--presign-ttl", "60", env=env) as server:  # the command line keeps s3:// whole
        assert httpx.get(server + "healthz", timeout=30).json()["images"] == 12


def test_a_snapshot_carries_each_vector_once_and_answers_like_its_index(published, tmp_path, capsys):
    """The snapshot's catalog leaves its vectors to the vector index; searches by an indexed image and the
    duplicates, which read stored vectors, answer from the snapshot exactly as from the index, and the
    read-only snapshot refuses to be indexed into."""
    url, index, library, _ = published
    folder = download(url, current(url), tmp_path / "cache")
    with sqlite3.connect(folder / "catalog.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 0
    with sqlite3.connect(index / "catalog.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 12  # the index itself is untouched
    original, snapshot = Index(index, "cpu"), Index(folder, "cpu")
    for image_id in range(1, 13):
        query = [Term(image_id=str(image_id))]
        assert [h.image.id for h in snapshot.search(query, k=5).hits] == [
            h.image.id for h in original.search(query, k=5).hits
        ]
    dim = original.manifest.dim
    from_index = find_duplicates(original.catalog, original.vectors, dim, threshold=0.5)
    from_snapshot = find_duplicates(snapshot.catalog, snapshot.vectors, dim, threshold=0.5)
    assert from_index and [[i.id for i in g.images] for g in from_snapshot] == [
        [i.id for i in g.images] for g in from_index
    ]
    before = (folder / "catalog.sqlite").read_bytes()
    code, _, err = run_cli(capsys, "index", "--index", folder, library)
    assert code == 2 and "published snapshot" in err
    assert (folder / "catalog.sqlite").read_bytes() == before


def test_a_snapshot_carries_its_index_calibration(seaweed, tmp_path, request):
    """A reader uses the relevance calibration the index measured (one file, checked as current) instead of
    measuring it again at its first query: a cold start would encode the whole prompt bank."""
    assert relevance.CACHE_FILE in snapshots.NOTES
    with own_bucket(seaweed, bucket_name(request.node.name, "snap")) as bucket:
        library, index = tmp_path / "photos", tmp_path / "index"
        write_colour_images(library, 12)
        run_index(index, [str(library)], model="test:tiny")
        Index(index, "cpu").search("a red picture", k=3)  # calibrates the index
        url = f"s3://{bucket}/indexes/demo"
        publish(index, url)
        folder = download(url, current(url), tmp_path / "cache")
        note = folder / relevance.CACHE_FILE
        assert note.read_bytes() == (index / relevance.CACHE_FILE).read_bytes()
        before = note.stat().st_ino
        assert Index(folder, "cpu").search("a red picture", k=3).hits
        assert note.stat().st_ino == before  # read, not measured and written again


def test_a_large_file_comes_in_ranged_parts_and_is_checked_whole(seaweed, published, tmp_path, monkeypatch):
    """A file of several PARTs comes in ranged GETs at once, hashed in order: the same bytes as one GET, and a
    file changed in its last part, or shorter than listed, is refused with no folder left behind."""
    url, _, _, version = published
    whole = download(url, current(url), tmp_path / "whole") / "catalog.sqlite"
    monkeypatch.setattr(snapshot_cache, "PART", 4096)
    assert whole.stat().st_size > 3 * 4096
    parts = download(url, current(url), tmp_path / "parts") / "catalog.sqlite"
    assert parts.read_bytes() == whole.read_bytes()
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    key = f"{prefix}/snapshots/{version}/catalog.sqlite"
    changed = bytearray(whole.read_bytes())
    changed[-1] ^= 1
    for body, problem in [(bytes(changed), "does not match its sha256"), (bytes(changed[:-10]), "does not hold")]:
        seaweed.client().put_object(Bucket=bucket, Key=key, Body=body)
        with pytest.raises(SnapshotError, match=problem):
            download(url, current(url), tmp_path / "refused")
        assert not list((tmp_path / "refused").iterdir())


def test_server_follows_the_pointer_with_zero_failed_requests_and_rolls_back(published, tmp_path, capsys):
    url, index, library, first = published
    app = create_app(url, device="cpu", poll_seconds=0.05)
    live = app.state.live
    with start_server_thread(app) as server, httpx.Client(base_url=server, timeout=60) as http:
        assert http.get("/healthz").json()["images"] == 12
        write_colour_images(library, 4, seed=7, start=100)
        run_index(index, [str(library)])
        with SearchLoop(server) as loop:
            wait_for(lambda: len(loop.counts) >= 3, what="searches before the publish")
            code, out, err = run_cli(capsys, "publish", "--index", index, "--to", url)
            assert code == 0, err
            wait_for(lambda: http.get("/healthz").json()["images"] == 16, what="the new snapshot")
            wait_for(lambda: loop.counts[-1] == 16, what="searches on the new snapshot")
            code, out, err = run_cli(capsys, "rollback", "--index", url)
            assert code == 0 and first in out, err
            wait_for(lambda: http.get("/healthz").json()["images"] == 12, what="the rolled back snapshot")
            wait_for(lambda: loop.counts[-1] == 12, what="searches on the rolled back snapshot")
        assert loop.failures == []
        assert set(loop.counts) == {12, 16}
        response = http.post("/admin/reindex")
        assert response.status_code in (400, 401, 403, 404, 409)
    assert len([entry for entry in live.cache.iterdir()]) <= 2  # older downloads are dropped


def test_interrupted_or_corrupt_upload_never_becomes_current(seaweed, published, tmp_path, monkeypatch, capsys, caplog):
    url, index, _, first = published
    real_put = snapshots._put

    def interrupted(bucket: str, key: str, data: bytes, **condition: str) -> None:
        if key.endswith("SNAPSHOT.json"):
            raise ConnectionError("the network went away")
        real_put(bucket, key, data, **condition)

    monkeypatch.setattr(snapshots, "_put", interrupted)
    with pytest.raises(ConnectionError):
        publish(index, url)
    monkeypatch.undo()
    assert current(url)["version"] == first and versions(url) == [first]

    # A snapshot whose file no longer matches its checksum is refused, and a follower keeps its engine.
    app = create_app(url, device="cpu", poll_seconds=3600)
    live = app.state.live
    second = publish(index, url)
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    seaweed.client().put_object(Bucket=bucket, Key=f"{prefix}/snapshots/{second}/catalog.sqlite", Body=b"garbage")
    with caplog.at_level(logging.INFO, logger="viewfinder"):
        assert live.refresh() is False
    [refused] = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert "does not match its sha256" in refused.getMessage() and second in refused.getMessage()
    assert live.version == first and not any(entry.name.startswith(f".{second}") for entry in live.cache.iterdir())
    assert live.refresh() is False  # the refused version is not tried again until the pointer moves
    live.close()

    # --keep 1 prunes the older snapshots, never the current one, and leaves the interrupted upload, which may
    # be a publish in flight, until it has been left for a day (pruned here as if it had been).
    code, _, err = run_cli(capsys, "publish", "--index", index, "--to", url, "--keep", "1")
    assert code == 0, err
    third = current(url)["version"]
    assert versions(url) == [third]
    uploads = {name.split("/")[1] for name in keys(seaweed, url) if name.startswith("snapshots/")}
    assert len(uploads) == 2 and third in uploads
    assert prune(url, 1, abandoned_after=0) == sorted(uploads - {third})
    assert {name.split("/")[1] for name in keys(seaweed, url) if name.startswith("snapshots/")} == {third}


def test_snapshot_commands_reject_bad_input(seaweed, published, tmp_path, capsys):
    url, index, _, first = published
    code, _, err = run_cli(capsys, "rollback", "--index", url)
    assert code == 2 and "no snapshot older" in err
    code, _, err = run_cli(capsys, "rollback", "--index", url, "--to", "nope")
    assert code == 2 and "no complete snapshot nope" in err
    code, _, err = run_cli(capsys, "rollback", "--index", url + "-missing")
    assert code == 2 and "No published index" in err
    code, _, err = run_cli(capsys, "publish", "--index", tmp_path / "none", "--to", url)
    assert code == 2 and "No index at" in err
    code, _, err = run_cli(capsys, "publish", "--index", index, "--to", "s3://no-such-bucket/x")
    assert code == 2 and "does not exist" in err
    code, _, err = run_cli(capsys, "publish", "--index", index, "--to", url, "--keep", "0")
    assert code == 2 and "--keep" in err
    assert current(url)["version"] == first
    assert Path(index / "catalog.sqlite").exists()
