"""TIFF and HEIC objects in S3 are displayed: their JPEG renditions are made at index time from the bytes the
indexer fetched (the service never fetches an original), on either engine, for images indexed before by the
next run, and travel in published snapshots to `serve s3://…` and the Lambda (SeaweedFS on loopback)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from s3_helpers import upload_folder
from snapshot_helpers import own_bucket
from starlette.testclient import TestClient

from viewfinder.app.index import RENDITION_SIDE
from viewfinder.models import factory
from viewfinder.pipeline.indexer import run_index
from viewfinder.serve.app import create_app
from viewfinder.store.catalog import Catalog
from viewfinder.store.snapshots import publish

pytestmark = pytest.mark.slow  # SeaweedFS

COLOURS = {"scan.tiff": (200, 30, 30), "phone.heic": (30, 200, 30), "plain.png": (30, 30, 200)}


def write_library(folder: Path) -> Path:
    """A wide TIFF (wider than a rendition), a HEIC and a PNG (which browsers show: no rendition)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    folder.mkdir(parents=True)
    Image.new("RGB", (3000, 1000), COLOURS["scan.tiff"]).save(folder / "scan.tiff")
    Image.new("RGB", (640, 480), COLOURS["phone.heic"]).save(folder / "phone.heic", format="HEIF")
    Image.new("RGB", (64, 48), COLOURS["plain.png"]).save(folder / "plain.png")
    return folder


def ids_by_name(index: Path) -> dict[str, int]:
    catalog = Catalog(index / "catalog.sqlite", readonly=True)
    try:
        return {Path(path).name: image_id for path, image_id in catalog.db.execute("SELECT path, id FROM images")}
    finally:
        catalog.close()


def assert_displayed(client: TestClient, ids: dict[str, int]) -> None:
    """/renditions/{id} of the TIFF and the HEIC is an upright bounded JPEG of the right colour."""
    for name in ("scan.tiff", "phone.heic"):
        response = client.get(f"/renditions/{ids[name]}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/jpeg"
        picture = Image.open(io.BytesIO(response.content))
        assert picture.format == "JPEG" and max(picture.size) <= RENDITION_SIDE
        pixel = picture.convert("RGB").getpixel((5, 5))
        assert all(abs(a - b) <= 12 for a, b in zip(pixel, COLOURS[name], strict=True)), (name, pixel)
    wide = Image.open(io.BytesIO(client.get(f"/renditions/{ids['scan.tiff']}").content))
    assert wide.size == (RENDITION_SIDE, round(RENDITION_SIDE / 3))


@pytest.fixture
def s3_library(seaweed, tmp_path, request):
    """s3://<bucket>/photos holding the library."""
    with own_bucket(seaweed, "rend-" + request.node.name.lower().replace("_", "-")[5:40].strip("-")) as bucket:
        upload_folder(seaweed.client(), bucket, write_library(tmp_path / "photos"), "photos")
        yield bucket, f"s3://{bucket}/photos"


def test_tiff_and_heic_in_s3_are_displayed_from_the_index_and_from_a_published_snapshot(
    s3_library, tmp_path, monkeypatch
):
    bucket, location = s3_library
    index = tmp_path / "index"
    report = run_index(index, [location], model="test:tiny")
    assert report.total == 3 and not report.skipped
    ids = ids_by_name(index)
    # Made at index time for the formats browsers cannot show, and only for them.
    assert sorted(path.name.split("-")[0] for path in (index / "renditions").glob("*.jpg")) == sorted(
        str(ids[name]) for name in ("scan.tiff", "phone.heic")
    )
    with TestClient(create_app(index, device="cpu"), base_url="http://127.0.0.1") as client:
        assert_displayed(client, ids)

    url = f"s3://{bucket}/indexes/demo"
    publish(index, url)
    monkeypatch.setenv("VIEWFINDER_SNAPSHOT_CACHE", str(tmp_path / "snapshot-cache"))
    with TestClient(create_app(url, device="cpu"), base_url="http://127.0.0.1") as client:
        assert_displayed(client, ids)


def test_tiff_and_heic_indexed_before_get_their_renditions_from_the_next_index_run(s3_library, tmp_path, monkeypatch):
    _, location = s3_library
    index = tmp_path / "index"
    run_index(index, [location], model="test:tiny")
    for rendition in (index / "renditions").glob("*.jpg"):  # as an index made before they were made at index time
        rendition.unlink()

    def refuse(*args, **kwargs):
        raise AssertionError("making the missing renditions needs no model")

    monkeypatch.setattr(factory, "load_embedder", refuse)
    again = run_index(index, [location])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    with TestClient(create_app(index, device="cpu"), base_url="http://127.0.0.1") as client:
        assert_displayed(client, ids_by_name(index))


def test_the_ray_engine_makes_the_renditions_of_s3_objects_from_the_bytes_it_fetched(s3_library):
    from viewfinder.pipeline.ray_engine import EmbedActor, unpack
    from viewfinder.pipeline.records import PlannedFile
    from viewfinder.sources import S3Source

    _, location = s3_library
    listed = sorted(S3Source(location).scan(), key=lambda item: item.path)
    actor = EmbedActor("test:tiny", "cpu", "auto", [location])
    out = actor(
        {
            "row": np.arange(len(listed)),
            "key": np.array([item.path for item in listed], dtype=object),
            "root": np.array([location] * len(listed), dtype=object),
            "version": np.array([item.version for item in listed], dtype=object),
        }
    )
    batch = unpack(out, [PlannedFile(item) for item in listed])
    assert not batch.skips and sorted(batch.thumbnails) == sorted(item.path for item in listed)
    assert sorted(Path(path).name for path in batch.renditions) == ["phone.heic", "scan.tiff"]
    wide = Image.open(io.BytesIO(batch.renditions[f"{location}/scan.tiff"]))
    assert wide.format == "JPEG" and wide.size == (RENDITION_SIDE, round(RENDITION_SIDE / 3))
