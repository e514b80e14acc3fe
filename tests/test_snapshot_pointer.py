"""The snapshot pointer and the publishers that move it (SeaweedFS on loopback): only versions `publish` writes
are followed and every path stays inside the cache; publishes at once never prune each other's uploads, never
point CURRENT at a partial snapshot or back over a newer one; a bucket root is a location like any other."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from cli_helpers import run_cli
from snapshot_helpers import bucket_name, key, keys, location, own_bucket, publish_library, write_pointer

from viewfinder.app.snapshot_live import SnapshotLiveIndex
from viewfinder.store import snapshots
from viewfinder.store.snapshot_cache import download
from viewfinder.store.snapshots import SnapshotError, current, prune, publish, rollback, versions

pytestmark = pytest.mark.slow  # SeaweedFS


@pytest.fixture
def published(seaweed, tmp_path, request, monkeypatch):
    monkeypatch.setenv("VIEWFINDER_SNAPSHOT_CACHE", str(tmp_path / "snapshot-cache"))
    with own_bucket(seaweed, bucket_name(request.node.name, "ptr")) as bucket:
        yield publish_library(tmp_path, bucket)


def files_outside(root: Path, inside: Path) -> set[Path]:
    return {path for path in root.rglob("*") if inside not in path.parents and path != inside}


def pointer_to(url: str, version: str, seaweed) -> dict[str, str]:
    bucket, prefix = location(url)
    listing = seaweed.client().get_object(Bucket=bucket, Key=key(prefix, "snapshots", version, "SNAPSHOT.json"))
    return {"version": version, "snapshot_sha256": hashlib.sha256(listing["Body"].read()).hexdigest()}


def test_a_pointer_version_that_is_a_path_is_refused_and_nothing_is_written_outside_the_cache(
    seaweed, published, tmp_path
):
    url, _, _, first = published
    bucket, prefix = location(url)
    s3 = seaweed.client()
    live = SnapshotLiveIndex(url, device="cpu", poll_seconds=3600)
    cache = tmp_path / "snapshot-cache"
    listing = s3.get_object(Bucket=bucket, Key=key(prefix, "snapshots", first, "SNAPSHOT.json"))["Body"].read()
    names = [*json.loads(listing)["files"], "SNAPSHOT.json"]
    planted = tmp_path / "elsewhere" / "planted"  # a local folder holding a SNAPSHOT.json: never checksummed
    shutil.copytree(live.cache / first, planted)
    with sqlite3.connect(planted / "catalog.sqlite") as db:
        db.execute("DELETE FROM images WHERE id > 6")
    before = files_outside(tmp_path, cache)
    # A near miss in case: lower, as its T and Z always differ (upper() is the version itself when the hex is digits).
    for version in ("tmp", "../../outside", str(planted), "..", f"{first}/..", "", first.lower()):
        for (
            name
        ) in names:  # the files are there under that version too (where S3 takes the key): only its name is wrong
            source = {"Bucket": bucket, "Key": key(prefix, "snapshots", first, name)}
            with contextlib.suppress(ClientError):
                s3.copy_object(Bucket=bucket, Key=f"{prefix}/snapshots/{version}/{name}", CopySource=source)
        write_pointer(seaweed, url, version, listing)
        with pytest.raises(SnapshotError, match="not a snapshot pointer"):
            current(url)
        assert live.refresh() is False, version
        assert live.version == first
    assert files_outside(tmp_path, cache) == before
    with live.index() as engine:
        assert engine.catalog.count() == 12
    live.close()


def test_a_snapshot_listing_naming_a_file_outside_its_folder_is_refused(seaweed, published, tmp_path):
    url, _, _, first = published
    bucket, prefix = location(url)
    s3 = seaweed.client()
    before = files_outside(tmp_path, tmp_path / "cache")
    for number, name in enumerate(("../escape", "/tmp/escape", ".", "thumbnails//x", "a\\..\\b", "thumbnails/")):
        version = f"20990101T000000{number:06d}Z-abcdef"
        digest = hashlib.sha256(b"x").hexdigest()
        listing = json.dumps({"version": version, "files": {name: {"sha256": digest, "size": 1}}}).encode()
        s3.put_object(Bucket=bucket, Key=key(prefix, "snapshots", version, "SNAPSHOT.json"), Body=listing)
        write_pointer(seaweed, url, version, listing)
        with pytest.raises(SnapshotError, match="unsafe file"):
            download(url, current(url), tmp_path / "cache")
    for listing in (b"[]", b'{"files": {"catalog.sqlite": "x"}}', b'{"files": {"catalog.sqlite": {}}}'):
        write_pointer(seaweed, url, first, listing)
        s3.put_object(Bucket=bucket, Key=key(prefix, "snapshots", first, "SNAPSHOT.json"), Body=listing)
        with pytest.raises(SnapshotError, match="not a snapshot listing"):
            download(url, current(url), tmp_path / "cache")
    assert files_outside(tmp_path, tmp_path / "cache") == before
    assert not (tmp_path / "escape").exists() and not Path("/tmp/escape").exists()


def test_a_publish_racing_a_newer_one_never_prunes_its_upload_nor_points_current_at_a_partial_snapshot(
    seaweed, published, tmp_path, monkeypatch
):
    """B starts after A, finishes first and prunes with --keep 1 while A's files are still uploading."""
    url, index, _, first = published
    real_put = snapshots._put
    raced: list[str] = []

    def put(bucket: str, key: str, data: bytes, **conditions: str) -> None:
        if key.endswith("/SNAPSHOT.json") and not raced:
            raced.append("B running")
            raced.append(publish(index, url, keep=1))
        real_put(bucket, key, data, **conditions)

    monkeypatch.setattr(snapshots, "_put", put)
    with pytest.raises(SnapshotError, match="newer"):
        publish(index, url, keep=1)
    monkeypatch.undo()
    second = raced[-1]
    assert current(url)["version"] == second
    complete = versions(url)
    assert len(complete) == 2 and complete[-1] == second and first not in complete
    for version in complete:  # both whole: A's upload in flight was left alone
        assert (download(url, pointer_to(url, version, seaweed), tmp_path / "check") / "SNAPSHOT.json").is_file()
    assert rollback(url) == complete[0]


def test_a_publish_never_moves_current_back_over_a_newer_one_written_meanwhile(
    seaweed, published, tmp_path, monkeypatch
):
    """B publishes between A's reading of the pointer and A's write of it."""
    url, index, _, first = published
    real_put = snapshots._put
    raced: list[str] = []

    def put(bucket: str, key: str, data: bytes, **conditions: str) -> None:
        if key.endswith("/CURRENT") and not raced:
            raced.append("B running")
            raced.append(publish(index, url))
        real_put(bucket, key, data, **conditions)

    monkeypatch.setattr(snapshots, "_put", put)
    with pytest.raises(SnapshotError, match="newer"):
        publish(index, url)
    monkeypatch.undo()
    assert current(url)["version"] == raced[-1]
    complete = versions(url)
    assert len(complete) == 3 and complete[0] == first and complete[-1] == raced[-1]  # A's snapshot stays whole


def test_a_snapshot_missing_files_is_never_made_current(seaweed, published, tmp_path, monkeypatch, capsys):
    url, index, _, first = published
    bucket, prefix = location(url)
    s3 = seaweed.client()
    real_put = snapshots._put

    def put(bucket: str, name: str, data: bytes, **conditions: str) -> None:
        if name.endswith("/SNAPSHOT.json"):  # a file vanishes before the listing is written (an older pruner)
            s3.delete_object(Bucket=bucket, Key=name.replace("SNAPSHOT.json", "manifest.json"))
        real_put(bucket, name, data, **conditions)

    monkeypatch.setattr(snapshots, "_put", put)
    with pytest.raises(SnapshotError, match="missing 1 of"):
        publish(index, url)
    monkeypatch.undo()
    assert current(url)["version"] == first
    second = publish(index, url)
    s3.delete_object(Bucket=bucket, Key=key(prefix, "snapshots", first, "ann.json"))
    code, _, err = run_cli(capsys, "rollback", "--index", url)
    assert code == 2 and "missing 1 of" in err and "ann.json" in err
    assert current(url)["version"] == second


def test_publish_rollback_and_prune_at_a_bucket_root(seaweed, tmp_path, request, capsys, monkeypatch):
    monkeypatch.setenv("VIEWFINDER_SNAPSHOT_CACHE", str(tmp_path / "snapshot-cache"))
    with own_bucket(seaweed, bucket_name(request.node.name, "root")) as bucket:
        url, index, _, first = publish_library(tmp_path, bucket, url=f"s3://{bucket}")
        second = publish(index, url + "/")
        assert versions(url) == versions(url + "/") == [first, second]
        assert current(url)["version"] == second
        assert {name.split("/")[0] for name in keys(seaweed, url)} == {"CURRENT", "snapshots"}
        code, out, err = run_cli(capsys, "rollback", "--index", url)
        assert code == 0 and first in out, err
        with sqlite3.connect(download(url, current(url), tmp_path / "cache") / "catalog.sqlite") as db:
            assert db.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 12
        code, _, err = run_cli(capsys, "rollback", "--index", url, "--to", second)
        assert code == 0, err
        third = publish(index, url)
        assert prune(url, 1) == [first, second] and versions(url) == [third]
