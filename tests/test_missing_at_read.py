"""A file or object listed by the scan but gone when it is read (moved away for a moment, a bucket emptied and
restored) is skipped with its reason for this run only: the next run tries it again, though its size and
version stamp did not change. Bad data stays skipped until the file changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_helpers import write_colour_images
from s3_helpers import upload_folder

from viewfinder.pipeline.indexer import run_index
from viewfinder.sources import FolderSource
from viewfinder.sources.s3 import S3Source
from viewfinder.store.catalog import Catalog


def skipped(index: Path) -> dict[str, tuple]:
    catalog = Catalog(index / "catalog.sqlite", readonly=True)
    try:
        return {path: row for path, *row in catalog.db.execute("SELECT path, size, mtime_ns, reason FROM skipped")}
    finally:
        catalog.close()


def test_a_file_moved_away_for_a_moment_is_indexed_by_the_next_run(tmp_path, monkeypatch):
    photos = tmp_path / "photos"
    paths = write_colour_images(photos, 4)
    (photos / "broken.jpg").write_bytes(b"not a picture")
    listed = list(FolderSource(str(photos)).scan())
    away = paths[1]
    stat, data = away.stat(), away.read_bytes()
    away.unlink()
    with monkeypatch.context() as patched:  # the scan saw it; it is gone when read
        patched.setattr(FolderSource, "scan", lambda self, exclude=None: iter(listed))
        first = run_index(tmp_path / "index", [str(photos)], model="test:tiny")
    assert first.added == 3 and {item["reason"] for item in first.skipped} == {"file not found", "not an image file"}
    away.write_bytes(data)
    os.utime(away, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # back as it was listed: same size, same mtime

    second = run_index(tmp_path / "index", [str(photos)])
    assert (second.added, second.unchanged, second.total) == (1, 3, 4)
    assert second.skipped == [{"path": str(photos / "broken.jpg"), "reason": "not an image file"}]
    assert list(skipped(tmp_path / "index")) == [str(photos / "broken.jpg")]


@pytest.mark.slow
def test_an_object_deleted_and_restored_unchanged_is_indexed_by_the_next_run(seaweed, tmp_path, monkeypatch):
    s3 = seaweed.client()
    bucket = "t-missing-at-read"
    s3.create_bucket(Bucket=bucket)
    keys = upload_folder(s3, bucket, write_colour_images(tmp_path / "cloud", 3)[0].parents[1], "p")
    location, url = f"s3://{bucket}/p", f"s3://{bucket}/{keys[0]}"
    data = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    listed = list(S3Source(location).scan())
    s3.delete_object(Bucket=bucket, Key=keys[0])
    with monkeypatch.context() as patched:
        patched.setattr(S3Source, "scan", lambda self, exclude=None: iter(listed))
        first = run_index(tmp_path / "index", [location], model="test:tiny")
    assert first.added == 2 and first.skipped == [{"path": url, "reason": f"object {url} is no longer in the bucket"}]
    assert skipped(tmp_path / "index")[url][:2] == [None, None]  # recorded without the ETag that would keep it

    s3.put_object(Bucket=bucket, Key=keys[0], Body=data)  # the same bytes: the same ETag as listed before
    stamp = {item.path: item.mtime_ns for item in listed}[url]
    assert next(item for item in S3Source(location).scan() if item.path == url).mtime_ns == stamp
    second = run_index(tmp_path / "index", [location])
    assert (second.added, second.unchanged, second.total, second.skipped) == (1, 2, 3, [])
