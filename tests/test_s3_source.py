"""Images in S3 as a source, against a real S3 server (SeaweedFS on loopback): incremental indexing by ETag,
mixing with local folders, bad input, thumbnails made at index time, and presigned redirects for originals."""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest
from cli_helpers import run_cli, write_colour_images
from s3_helpers import upload_folder
from service_helpers import start_server_thread

from viewfinder.errors import ViewfinderError
from viewfinder.models import factory
from viewfinder.pipeline.indexer import run_index
from viewfinder.serve.app import create_app
from viewfinder.sources import open_source
from viewfinder.sources import s3 as s3_source
from viewfinder.sources.s3 import S3Source, client, version_stamp
from viewfinder.store.catalog import Catalog

pytestmark = pytest.mark.slow  # a SeaweedFS server


@pytest.fixture
def bucket(seaweed, request) -> str:
    """An empty bucket of this test's own."""
    name = "t-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    seaweed.client().create_bucket(Bucket=name)
    return name


def catalog_paths(index: Path) -> dict[str, int]:
    catalog = Catalog(index / "catalog.sqlite", readonly=True)
    try:
        return {path: image_id for path, image_id in catalog.db.execute("SELECT path, id FROM images")}
    finally:
        catalog.close()


def test_client_signs_with_sigv4_and_retries_throttling_and_5xx(seaweed):
    config = client()._client_config
    assert config.signature_version == "s3v4"
    assert config.retries == {"mode": "standard", "total_max_attempts": s3_source.MAX_ATTEMPTS}
    assert client().meta.endpoint_url == seaweed.endpoint
    assert version_stamp('"abc"') == version_stamp("abc") and 0 <= version_stamp("abc") < 2**63


def test_index_s3_prefix_with_a_local_folder_is_incremental_by_etag(seaweed, bucket, tmp_path, monkeypatch):
    s3 = seaweed.client()
    write_colour_images(tmp_path / "cloud", 7, seed=1)
    keys = upload_folder(s3, bucket, tmp_path / "cloud", "photos")
    s3.put_object(Bucket=bucket, Key="photos/notes.txt", Body=b"not an image name: not listed")
    s3.put_object(Bucket=bucket, Key="photos/broken.jpg", Body=b"not a JPEG")
    s3.put_object(Bucket=bucket, Key="photos-other/outside.jpg", Body=b"another prefix")
    write_colour_images(tmp_path / "local", 3, seed=2)
    index = tmp_path / "index"
    location = f"s3://{bucket}/photos"

    report = run_index(index, [location, str(tmp_path / "local")], model="test:tiny", batch_size=4)
    assert (report.added, report.total) == (10, 10)
    assert report.skipped == [{"path": f"s3://{bucket}/photos/broken.jpg", "reason": report.skipped[0]["reason"]}]
    paths = catalog_paths(index)
    assert {f"s3://{bucket}/{key}" for key in keys} <= set(paths)
    # Thumbnails of S3 images are made at index time, so the service never fetches an original for the grid.
    assert len(list((index / "thumbnails").glob("*.jpg"))) == 7

    # Unchanged: decided from the listing alone, with no GET and no model.
    def refuse(*args, **kwargs):
        raise AssertionError("an unchanged bucket must not be read or embedded")

    with monkeypatch.context() as patched:
        patched.setattr(s3_source, "read_object", refuse)
        patched.setattr(factory, "load_embedder", refuse)
        again = run_index(index, [location, str(tmp_path / "local")], batch_size=4)
    assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, 10)

    # A run killed after committing a batch but before storing its thumbnails: the next run makes the missing
    # ones from their objects, with no model.
    lost = sorted((index / "thumbnails").glob("*.jpg"))[:2]
    for thumbnail in lost:
        thumbnail.unlink()
    with monkeypatch.context() as patched:
        patched.setattr(factory, "load_embedder", refuse)
        healed = run_index(index, [location, str(tmp_path / "local")], batch_size=4)
    assert healed.unchanged == 10 and all(thumbnail.is_file() for thumbnail in lost)

    # One object replaced by other content, one deleted: one update, one removal, the rest untouched.
    s3.put_object(Bucket=bucket, Key=keys[1], Body=(tmp_path / "local").rglob("*.jpg").__next__().read_bytes())
    s3.delete_object(Bucket=bucket, Key=keys[2])
    changed = run_index(index, [location], batch_size=4)
    assert (changed.added, changed.updated, changed.removed, changed.unchanged) == (0, 1, 1, 5)
    assert catalog_paths(index)[f"s3://{bucket}/{keys[1]}"] == paths[f"s3://{bucket}/{keys[1]}"]
    assert len(catalog_paths(index)) == 9  # the local folder's images were left alone


def test_object_deleted_between_list_and_get_is_skipped_with_a_reason(seaweed, bucket, tmp_path, monkeypatch):
    s3 = seaweed.client()
    keys = upload_folder(s3, bucket, write_colour_images(tmp_path / "cloud", 3)[0].parents[1], "p")
    listed = list(S3Source(f"s3://{bucket}/p").scan())
    s3.delete_object(Bucket=bucket, Key=keys[0])
    monkeypatch.setattr(S3Source, "scan", lambda self, exclude=None: iter(listed))
    report = run_index(tmp_path / "index", [f"s3://{bucket}/p"], model="test:tiny")
    assert report.added == 2
    assert report.skipped == [
        {"path": f"s3://{bucket}/{keys[0]}", "reason": f"object s3://{bucket}/{keys[0]} is no longer in the bucket"}
    ]


def test_a_batch_that_cannot_be_read_is_not_committed_and_nothing_indexed_is_lost(seaweed, bucket, tmp_path):
    s3 = seaweed.client()
    upload_folder(s3, bucket, write_colour_images(tmp_path / "cloud", 6)[0].parents[1], "p")
    index, location = tmp_path / "index", f"s3://{bucket}/p"
    original = s3_source.read_object
    failing = sorted(f"s3://{bucket}/{item['Key']}" for item in s3.list_objects_v2(Bucket=bucket)["Contents"])[4]

    def throttled(url: str, limit: int = s3_source.MAX_IMAGE_BYTES, version: str = "") -> bytes:
        if url == failing:  # what the client raises once its retries on SlowDown/5xx are spent
            raise ViewfinderError(f"Cannot read {url}: SlowDown")
        return original(url, limit, version)

    s3_source.read_object = throttled
    try:
        with pytest.raises(ViewfinderError, match="SlowDown"):
            run_index(index, [location], model="test:tiny", batch_size=2, workers=1)
    finally:
        s3_source.read_object = original
    assert len(catalog_paths(index)) == 4  # the two whole batches before the failing one
    report = run_index(index, [location], batch_size=2)
    assert (report.added, report.unchanged, report.total) == (2, 4, 6)


def test_missing_or_forbidden_bucket_exits_2_with_the_reason(seaweed, tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(capsys, "index", "s3://no-such-bucket/x", "--index", tmp_path / "i", "--model", "test:tiny")
    assert code == 2 and "s3://no-such-bucket/x does not exist" in err, err
    assert not (tmp_path / "i" / "manifest.json").exists()
    seaweed.client().create_bucket(Bucket="forbidden-one")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    client.cache_clear()
    try:
        code, _, err = run_cli(capsys, "index", "s3://forbidden-one", "--index", tmp_path / "i", "--model", "test:tiny")
    finally:
        monkeypatch.undo()
        client.cache_clear()
    assert code == 2 and "Access to bucket s3://forbidden-one is denied" in err, err
    with pytest.raises(ViewfinderError, match="not an S3 location"):
        open_source("s3://ab")


def test_s3_endpoint_option_points_every_client_at_the_store(seaweed, bucket, tmp_path, capsys, monkeypatch):
    upload_folder(seaweed.client(), bucket, write_colour_images(tmp_path / "c", 2)[0].parents[1], "p")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    client.cache_clear()
    try:
        code, out, err = run_cli(
            capsys, "index", f"s3://{bucket}/p", "--s3-endpoint", seaweed.endpoint, "--index", tmp_path / "i",
            "--model", "test:tiny",
        )  # fmt: skip
        unchanged = os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"  # given to the client, not the process
    finally:
        monkeypatch.undo()
        s3_source.use_endpoint(None)
    assert code == 0 and out.startswith("2 added") and unchanged, err


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_service_redirects_to_presigned_urls_the_store_checks(seaweed, bucket, tmp_path, monkeypatch):
    s3 = seaweed.client()
    upload_folder(s3, bucket, write_colour_images(tmp_path / "c", 3)[0].parents[1], "p")
    index = tmp_path / "index"
    run_index(index, [f"s3://{bucket}/p"], model="test:tiny")
    app = create_app(index, device="cpu", presign_ttl=1)
    with start_server_thread(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        hits = http.post("/search", json={"query": "a photo", "top_k": 10}).json()["results"]
        image_id = hits[0]["image_id"]
        with monkeypatch.context() as patched:  # the grid's thumbnails come from the index, not the bucket
            patched.setattr(s3_source, "read_object", lambda *a, **k: pytest.fail("fetched an original"))
            thumbnail = http.get(f"/thumbnails/{image_id}")
            # Other sizes are never made from the object: the one made at index time answers for them.
            sharp = http.get(f"/thumbnails/{image_id}", params={"size": 768})
            # A JPEG has no rendition made at index time: the screen picture is its original.
            screen = http.get(f"/renditions/{image_id}", params={"size": 1080})
        assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
        assert sharp.status_code == 200 and sharp.content == thumbnail.content
        assert screen.status_code == 307 and screen.headers["location"] == f"/images/{image_id}"
        redirect = http.get(f"/images/{image_id}")
        assert redirect.status_code == 307
        signed = redirect.headers["location"]
        assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in signed and "X-Amz-Expires=1" in signed
        status, body = fetch(signed)
        key = hits[0]["file_name"]
        expected = next(o for o in s3.list_objects_v2(Bucket=bucket)["Contents"] if o["Key"].endswith(key))
        assert status == 200 and body == s3.get_object(Bucket=bucket, Key=expected["Key"])["Body"].read()
        signature = signed.rsplit("X-Amz-Signature=", 1)[1][:64]
        tampered = signed.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
        assert fetch(tampered)[0] == 403
        assert fetch(signed.replace(expected["Key"].rsplit("/", 1)[1], "other.jpg"))[0] == 403
        deadline = time.monotonic() + 10
        while (answer := fetch(signed))[0] == 200 and time.monotonic() < deadline:  # until its second is past
            time.sleep(0.1)
        status, body = answer  # the store itself refuses the link
        assert status == 403 and b"expired" in body.lower()
