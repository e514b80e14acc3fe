"""Helpers for the snapshot tests: a published index in SeaweedFS, the keys under a published prefix, and what
someone who can write the prefix (but is not `viewfinder publish`) can put there."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from cli_helpers import write_colour_images

from viewfinder.pipeline.indexer import run_index
from viewfinder.store.snapshot_cache import download
from viewfinder.store.snapshots import current, publish


@contextlib.contextmanager
def own_bucket(seaweed, name: str) -> Iterator[str]:
    """A new bucket, emptied and deleted afterwards: SeaweedFS gives every bucket volumes of its own, and the
    session's server has room for about 15 buckets holding data at once.

    It grows those volumes on the bucket's first write, and writes arriving meanwhile (a publish uploads its
    files at once) get no "100 Continue" until it is done: each waits out botocore's one second for it. One
    small write, deleted, grows them first."""
    s3 = seaweed.client()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="volume-growth", Body=b"x")
    s3.delete_object(Bucket=name, Key="volume-growth")
    try:
        yield name
    finally:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=name)
        held = [{"Key": item["Key"]} for page in pages for item in page.get("Contents", [])]
        for start in range(0, len(held), 1000):
            s3.delete_objects(Bucket=name, Delete={"Objects": held[start : start + 1000], "Quiet": True})
        s3.delete_bucket(Bucket=name)


def publish_library(tmp_path: Path, bucket: str, url: str | None = None) -> tuple[str, Path, Path, str]:
    """A local index of 12 images, published once to `bucket`; (url, index, library, version)."""
    library, index = tmp_path / "photos", tmp_path / "index"
    write_colour_images(library, 12)
    run_index(index, [str(library)], model="test:tiny")
    url = url or f"s3://{bucket}/indexes/demo"
    return url, index, library, publish(index, url)


def bucket_name(test_name: str, tag: str) -> str:
    """A valid bucket name of its own for one test."""
    return f"{tag}-" + test_name.lower().replace("_", "-")[5:40].strip("-")


def location(url: str) -> tuple[str, str]:
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


def key(prefix: str, *parts: str) -> str:
    return "/".join(part for part in (prefix, *parts) if part)


def keys(seaweed, url: str) -> list[str]:
    """Every key under the published prefix, relative to it."""
    bucket, prefix = location(url)
    listed = seaweed.client().list_objects_v2(Bucket=bucket, Prefix=key(prefix) + "/" if prefix else "")
    return sorted(item["Key"].removeprefix(key(prefix) + "/") for item in listed.get("Contents", []))


def write_pointer(seaweed, url: str, version: str, listing: bytes) -> None:
    """Writes CURRENT as an editor of the bucket would: any version, with the checksum of `listing`."""
    bucket, prefix = location(url)
    pointer = {"version": version, "snapshot_sha256": hashlib.sha256(listing).hexdigest()}
    seaweed.client().put_object(Bucket=bucket, Key=key(prefix, "CURRENT"), Body=json.dumps(pointer).encode())


def republish_altered(seaweed, url: str, work: Path, version: str, change: Callable[[Path], None]) -> bytes:
    """Downloads the current snapshot, lets `change` edit its files, re-checksums them all, uploads the result
    as snapshot `version` and points CURRENT at it: a snapshot that passes every checksum. Returns its listing."""
    bucket, prefix = location(url)
    folder = work / "altered"
    shutil.copytree(download(url, current(url), work / "download-cache"), folder)
    (folder / "SNAPSHOT.json").unlink()
    change(folder)
    s3 = seaweed.client()
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        data = path.read_bytes()
        files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        s3.put_object(Bucket=bucket, Key=key(prefix, "snapshots", version, name), Body=data)
    listing = json.dumps({"version": version, "files": files}).encode()
    s3.put_object(Bucket=bucket, Key=key(prefix, "snapshots", version, "SNAPSHOT.json"), Body=listing)
    write_pointer(seaweed, url, version, listing)
    return listing
