"""An S3 object replaced between the listing and its GET: the indexer reads only the version it listed (GET with
If-Match, which SeaweedFS honours as S3 does), so the replacement is skipped for this run and tried again by the
next, and no row ever pairs the listing's ETag with another object's pixels (SeaweedFS on loopback)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from PIL import Image
from snapshot_helpers import own_bucket

from viewfinder.pipeline.indexer import run_index
from viewfinder.sources import S3Source
from viewfinder.store.catalog import Catalog

pytestmark = pytest.mark.slow  # SeaweedFS


def png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def rows(index: Path) -> dict[str, tuple[int, int, int]]:
    """(width, height, version stamp) of each indexed path."""
    catalog = Catalog(index / "catalog.sqlite", readonly=True)
    try:
        query = "SELECT path, width, height, mtime_ns FROM images"
        return {path: tuple(row) for path, *row in catalog.db.execute(query)}
    finally:
        catalog.close()


@pytest.fixture
def bucket(seaweed):
    with own_bucket(seaweed, "t-replaced-at-read") as name:
        yield name


def test_seaweedfs_refuses_a_get_whose_if_match_names_a_replaced_version(seaweed, bucket):
    s3 = seaweed.client()
    first = s3.put_object(Bucket=bucket, Key="a.png", Body=png(8, 8, (1, 2, 3)))["ETag"]
    assert s3.get_object(Bucket=bucket, Key="a.png", IfMatch=first)["ETag"] == first
    s3.put_object(Bucket=bucket, Key="a.png", Body=png(9, 9, (1, 2, 3)))
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=bucket, Key="a.png", IfMatch=first)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_an_object_replaced_between_listing_and_get_is_retried_not_recorded_with_the_listings_etag(
    seaweed, bucket, tmp_path, monkeypatch
):
    s3 = seaweed.client()
    original, replacement = png(64, 48, (200, 30, 30)), png(32, 32, (30, 30, 200))
    s3.put_object(Bucket=bucket, Key="p/keep.png", Body=png(40, 40, (30, 200, 30)))
    s3.put_object(Bucket=bucket, Key="p/swapped.png", Body=original)
    location, url = f"s3://{bucket}/p", f"s3://{bucket}/p/swapped.png"
    listed = list(S3Source(location).scan())
    s3.put_object(Bucket=bucket, Key="p/swapped.png", Body=replacement)  # after the listing, before the GET
    with monkeypatch.context() as patched:
        patched.setattr(S3Source, "scan", lambda self, exclude=None: iter(listed))
        first = run_index(tmp_path / "index", [location], model="test:tiny")
    assert first.added == 1 and [item["path"] for item in first.skipped] == [url]
    assert "replaced" in first.skipped[0]["reason"]
    assert url not in rows(tmp_path / "index")

    # The original back (the ETag listed before): indexed now, with its own pixels, not the replacement's.
    s3.put_object(Bucket=bucket, Key="p/swapped.png", Body=original)
    stamp = next(item.mtime_ns for item in listed if item.path == url)
    second = run_index(tmp_path / "index", [location])
    assert (second.added, second.unchanged, second.skipped) == (1, 1, [])
    assert rows(tmp_path / "index")[url] == (64, 48, stamp)
