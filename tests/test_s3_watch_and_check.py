"""Watching and checking an index with a source in object storage (issue 22, items 8 and 10), through the CLI
against SeaweedFS: the watcher watches the folders and says in one line that a bucket is brought up to date by
the periodic reindex; `check` counts only the objects that are gone, and `check --repair` makes a damaged
thumbnail of an S3 image again from its object (the service never fetches an original to make one)."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from pathlib import Path

import httpx
import pytest
from cli_helpers import cli_command, cli_env, run_cli, write_colour_images
from s3_helpers import upload_folder
from service_helpers import start_server_process

from viewfinder.pipeline.indexer import run_index
from viewfinder.store.catalog import Catalog

pytestmark = pytest.mark.slow  # SeaweedFS

WAIT = 120  # seconds: an upper bound for a busy machine, never a measured expectation


@pytest.fixture
def bucket(seaweed, request) -> str:
    """A bucket of this test's own holding three photos under `photos/`."""
    name = "w-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    seaweed.client().create_bucket(Bucket=name)
    folder = Path(request.getfixturevalue("tmp_path")) / "upload"
    write_colour_images(folder, 3, seed=5)
    upload_folder(seaweed.client(), name, folder, "photos")
    return name


def s3_images(index: Path) -> list[tuple[int, str, int, int]]:
    catalog = Catalog(index / "catalog.sqlite", readonly=True)
    try:
        query = "SELECT id, path, size, mtime_ns FROM images WHERE path LIKE 's3://%' ORDER BY id"
        return list(catalog.db.execute(query))
    finally:
        catalog.close()


def test_watch_with_a_bucket_watches_the_folder_and_brings_the_bucket_up_to_date_by_its_periodic_run(
    seaweed, bucket, tmp_path
):
    folder = tmp_path / "photos"
    write_colour_images(folder, 2, seed=6)
    location = f"s3://{bucket}/photos"
    command = cli_command("watch", folder, location, "--index", tmp_path / "index", "--model", "test:tiny")
    process = subprocess.Popen(
        [*command, "--reconcile", "1"], env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []

    def until(predicate) -> str:
        while True:
            line = lines.get(timeout=WAIT)
            assert line is not None, f"watch exited ({process.wait()}):\n{''.join(seen)}"
            seen.append(line)
            if predicate(line):
                return line

    try:
        until(lambda line: line.startswith("indexed: 5 added"))
        note = until(lambda line: line.startswith("note:"))
        assert f"{location} not watched" in note and "periodic reindex every 1 s" in note
        assert until(lambda line: line.startswith("watching")) == f"watching {folder}; Ctrl-C stops\n"
        write_colour_images(tmp_path / "new", 1, seed=7)
        upload_folder(seaweed.client(), bucket, tmp_path / "new", "photos/new")
        until(lambda line: line.startswith("updated: 1 added"))
        assert process.poll() is None
        assert not any("s3:/" in line and location not in line for line in seen), seen  # never a folded URL
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_with_watch_starts_on_an_index_with_a_bucket_source(seaweed, bucket, tmp_path):
    folder, index = tmp_path / "photos", tmp_path / "index"
    write_colour_images(folder, 2, seed=8)
    run_index(index, [str(folder), f"s3://{bucket}/photos"], model="test:tiny")
    with start_server_process(index, "--watch") as url, httpx.Client(base_url=url, timeout=60) as client:
        assert client.get("/healthz").status_code == 200
        hits = client.post("/search", json={"query": "a photo", "top_k": 10}).json()["results"]
        assert len(hits) == 5


def test_check_counts_only_the_objects_that_are_gone(seaweed, bucket, tmp_path, capsys):
    index = tmp_path / "index"
    run_index(index, [f"s3://{bucket}/photos"], model="test:tiny")
    code, out, err = run_cli(capsys, "check", "--index", index, "--json")
    assert code == 0 and json.loads(out)["missing_files"] == 0, err
    gone = s3_images(index)[0][1]
    seaweed.client().delete_object(Bucket=bucket, Key=gone.removeprefix(f"s3://{bucket}/"))
    code, out, err = run_cli(capsys, "check", "--index", index, "--json")
    assert code == 0 and json.loads(out)["missing_files"] == 1, err


def test_check_repair_makes_a_damaged_thumbnail_of_an_s3_image_again_from_its_object(seaweed, bucket, tmp_path, capsys):
    index = tmp_path / "index"
    run_index(index, [f"s3://{bucket}/photos"], model="test:tiny")
    image_id, _, size, mtime_ns = s3_images(index)[1]
    damaged = index / "thumbnails" / f"{image_id}-{size:x}-{mtime_ns:x}.jpg"
    damaged.write_bytes(b"")
    code, out, _ = run_cli(capsys, "check", "--index", index, "--repair")
    assert code == 0 and "repaired: Made 1 damaged thumbnails again from their originals in object storage." in out, out
    assert damaged.read_bytes()[:3] == b"\xff\xd8\xff"
    code, out, _ = run_cli(capsys, "check", "--index", index)
    assert code == 0 and "index is healthy" in out and "problem" not in out


def test_remove_takes_an_s3_source_by_its_url(seaweed, bucket, tmp_path, capsys):
    folder, index = tmp_path / "photos", tmp_path / "index"
    write_colour_images(folder, 2, seed=9)
    location = f"s3://{bucket}/photos"
    run_index(index, [str(folder), location], model="test:tiny")
    code, out, err = run_cli(capsys, "remove", location, "--index", index)
    assert code == 0 and f"removed 3 images of {location}" in out, err
    assert s3_images(index) == []


def test_a_watcher_of_buckets_only_watches_no_folder_and_still_runs_its_periodic_update():
    from viewfinder.pipeline.watch import FolderWatcher

    ran = threading.Event()
    watcher = FolderWatcher(["s3://photos-bucket/trips/"], ran.set, reconcile_seconds=0.1)
    assert watcher.roots == [] and watcher.not_watched == ["s3://photos-bucket/trips"]
    watcher.start()
    try:
        assert ran.wait(WAIT)
    finally:
        watcher.stop()
