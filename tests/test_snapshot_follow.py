"""A server following published snapshots (SeaweedFS on loopback) when something goes wrong: a download that
fails for a while is retried until the snapshot is served; a broken or deleted pointer is logged once per
problem, naming it; a snapshot whose catalog and vector index disagree is never swapped in."""

from __future__ import annotations

import json
import logging
import sqlite3

import pytest
from cli_helpers import write_colour_images
from service_helpers import wait_for
from snapshot_helpers import bucket_name, key, location, own_bucket, publish_library, republish_altered

from viewfinder.app import Index, snapshot_live
from viewfinder.app.snapshot_live import SnapshotLiveIndex
from viewfinder.pipeline.indexer import run_index
from viewfinder.search import relevance
from viewfinder.search.query import Term
from viewfinder.store.snapshots import SnapshotError, publish

pytestmark = pytest.mark.slow  # SeaweedFS


@pytest.fixture
def published(seaweed, tmp_path, request, monkeypatch):
    monkeypatch.setenv("VIEWFINDER_SNAPSHOT_CACHE", str(tmp_path / "snapshot-cache"))
    with own_bucket(seaweed, bucket_name(request.node.name, "follow")) as bucket:
        yield publish_library(tmp_path, bucket)


def problems(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_a_snapshot_whose_download_failed_for_a_while_is_retried_until_it_is_served(seaweed, published, caplog):
    url, index, library, first = published
    live = SnapshotLiveIndex(url, device="cpu", poll_seconds=0.05)
    write_colour_images(library, 4, seed=7, start=100)
    run_index(index, [str(library)])
    second = publish(index, url)
    bucket, prefix = location(url)
    s3 = seaweed.client()
    name = key(prefix, "snapshots", second, "catalog.sqlite")
    saved = s3.get_object(Bucket=bucket, Key=name)["Body"].read()
    s3.delete_object(Bucket=bucket, Key=name)  # unreadable for a while
    with caplog.at_level(logging.INFO, logger="viewfinder"):
        assert live.refresh() is False and live.version == first
        s3.put_object(Bucket=bucket, Key=name, Body=saved)
        wait_for(lambda: live.refresh() or live.version == second, what="the snapshot retried")
    with live.index() as engine:
        assert engine.catalog.count() == 16
    [failure] = problems(caplog)
    message = failure.getMessage()
    assert second in message and url in message and f"still serving snapshot {first}" in message
    assert failure.exc_info is None and str(live.cache) not in message
    live.close()


def test_a_broken_or_deleted_pointer_is_logged_once_per_problem_without_a_traceback(
    seaweed, published, monkeypatch, caplog
):
    url, _, _, first = published
    live = SnapshotLiveIndex(url, device="cpu", poll_seconds=0.01)
    reads: list[str] = []
    read_pointer = snapshot_live.current

    def counted(location: str) -> dict[str, str]:
        reads.append(location)
        return read_pointer(location)

    def polls(count: int) -> None:
        start = len(reads)
        wait_for(lambda: len(reads) >= start + count, what=f"{count} polls of the pointer")

    monkeypatch.setattr(snapshot_live, "current", counted)
    bucket, prefix = location(url)
    s3 = seaweed.client()
    pointer = key(prefix, "CURRENT")
    original = s3.get_object(Bucket=bucket, Key=pointer)["Body"].read()
    with caplog.at_level(logging.INFO, logger="viewfinder"):
        live.start_watching()
        s3.put_object(Bucket=bucket, Key=pointer, Body=b"garbage")
        polls(5)
        s3.delete_object(Bucket=bucket, Key=pointer)
        polls(5)
        s3.put_object(Bucket=bucket, Key=pointer, Body=original)
        polls(5)
        live.close()
    garbage, deleted = problems(caplog)
    assert all(record.exc_info is None for record in (garbage, deleted))
    assert f"{url}/CURRENT is not a snapshot pointer" in garbage.getMessage()
    assert "No published index" in deleted.getMessage()
    assert all(f"still serving snapshot {first}" in r.getMessage() for r in (garbage, deleted))
    assert live.version == first


def test_a_snapshot_whose_catalog_does_not_match_its_vector_index_is_never_served(seaweed, published, tmp_path, caplog):
    url, _, _, first = published
    live = SnapshotLiveIndex(url, device="cpu", poll_seconds=3600)

    def empty_catalog(folder):
        with sqlite3.connect(folder / "catalog.sqlite") as db:
            db.execute("DELETE FROM images")

    emptied = "20991231T235959000000Z-abcdef"
    republish_altered(seaweed, url, tmp_path, emptied, empty_catalog)
    with caplog.at_level(logging.INFO, logger="viewfinder"):
        assert live.refresh() is False
        assert live.refresh() is False  # refused until the pointer moves, and said once
    assert live.version == first
    with live.index() as engine:
        assert engine.catalog.count() == 12 and engine.search([Term(text="a photo")], k=3).hits
    [refused] = problems(caplog)
    assert emptied in refused.getMessage() and "0 images" in refused.getMessage()
    assert "12 vectors" in refused.getMessage()
    with pytest.raises(SnapshotError, match="0 images"):
        SnapshotLiveIndex(url, device="cpu", poll_seconds=3600)
    live.close()


def test_a_prefetched_snapshot_is_downloaded_once_and_its_errors_reach_the_index(
    seaweed, published, tmp_path, monkeypatch
):
    """prefetch() begins the download and the model's load (as the Lambda handler does before its slower
    imports) and returns once the pointer is read; the SnapshotLiveIndex made next takes them over instead of
    downloading again, and what failed in them is raised by it, as when it fetches itself. A directory is not
    prefetched."""
    url, _, _, first = published
    fetched = []
    real_download = snapshot_live.download

    def counted(*args, **kwargs):
        fetched.append(args[1]["version"])
        return real_download(*args, **kwargs)

    monkeypatch.setattr(snapshot_live, "download", counted)
    snapshot_live.prefetch(url, device="cpu")
    [start] = snapshot_live._started.values()
    assert start.head.done()  # it returns once the pointer is read: the download's start waits for nothing else
    live = SnapshotLiveIndex(url, device="cpu")
    assert fetched == [first] and live.version == first and not snapshot_live._started
    with live.index() as engine:
        assert engine.search([Term(text="a red picture")], k=3).hits
    live.close()
    snapshot_live.prefetch(str(tmp_path), device="cpu")
    assert not snapshot_live._started
    bucket, prefix = location(url)
    seaweed.client().delete_object(Bucket=bucket, Key=key(prefix, "CURRENT"))
    snapshot_live.prefetch(url, device="cpu")  # no pointer: not raised here, but by the index
    with pytest.raises(SnapshotError, match="No published index"):
        SnapshotLiveIndex(url, device="cpu")
    assert fetched == [first] and not snapshot_live._started


def test_a_snapshot_without_a_calibration_is_calibrated_with_prompts_encoded_during_its_download(
    seaweed, published, tmp_path, monkeypatch
):
    """The calibration prompts are encoded while the snapshot downloads when it carries no calibration, and
    the calibration made of them is the one the index measures itself; a snapshot carrying one is not
    encoded for (the reader uses the one it carries)."""
    url, index, _, _ = published
    encoded = []
    real_vectors = snapshot_live.prompt_vectors
    monkeypatch.setattr(snapshot_live, "prompt_vectors", lambda embedder: encoded.append(1) or real_vectors(embedder))
    live = SnapshotLiveIndex(url, device="cpu")
    with live.index() as engine:
        note = engine.index_dir.path / relevance.CACHE_FILE
        made = json.loads(note.read_text())
    live.close()
    assert encoded == [1]
    measured = Index(index, "cpu").calibration()  # the local index, measured as a first query would
    for prior in ("text", "image"):
        expected = getattr(measured, prior)
        # The same but for the snapshot's float16 vectors: similarities within ~1e-4 (tests/test_float16_index.py).
        assert made[prior] == pytest.approx({"typical": expected.typical, "match": expected.match}, abs=2e-4)
    publish(index, url)  # now with the calibration the index measured
    live = SnapshotLiveIndex(url, device="cpu")
    live.close()
    assert encoded == [1]
