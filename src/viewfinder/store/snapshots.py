"""Published index snapshots in S3: immutable, versioned and checksummed, with a pointer that says which is current.

Layout under s3://bucket/indexes/NAME:

    snapshots/<version>/manifest.json, catalog.sqlite (without vectors), ann.json, vectors-<gen>.faiss, thumbnails/…
    snapshots/<version>/SNAPSHOT.json   the sha256 and size of every file; written after all of them
    CURRENT                             {"version", "snapshot_sha256"}; written last, one small PUT

A PUT replaces an object atomically, so a reader sees the old pointer or the new one; the pointer only ever
names a snapshot whose files were all uploaded, so an interrupted upload never becomes current. A reader
downloads into a temporary folder of its cache, checks every checksum, then renames the folder into place:
it never opens half a snapshot, and a corrupt one is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

from viewfinder import settings
from viewfinder.errors import ViewfinderError
from viewfinder.models.onnx_format import cache_home
from viewfinder.sources.s3 import client, explain, split_url
from viewfinder.store.catalog import leave_vectors_to_index
from viewfinder.store.factory import FAISS
from viewfinder.store.faiss_index import STATE_FILE, saved_generation
from viewfinder.store.indexdir import IndexDir
from viewfinder.store.thumbnails import FOLDER as THUMBNAILS

POINTER = "CURRENT"
SNAPSHOT_FILE = "SNAPSHOT.json"
TRANSFERS = 8
STREAM_CHUNK = 2**20


class SnapshotError(ViewfinderError):
    """A snapshot is missing, incomplete or does not match its checksums."""


def _location(url: str) -> tuple[str, str]:
    bucket, prefix = split_url(url)
    return bucket, prefix.strip("/")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def _call(what: str, function: Any, **kwargs: Any) -> Any:
    """An S3 call whose failure (after the client's retries) becomes a one-line ViewfinderError."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return function(**kwargs)
    except (ClientError, BotoCoreError) as error:
        raise explain(error, what) from None


def _stage(index_dir: IndexDir, folder: Path, thumbnails: bool) -> list[str]:
    """Copies a consistent state of the index into `folder` (call under the writer lock); returns the names.

    The catalog is copied with SQLite's backup API (a consistent copy even of a WAL database) and switched
    to a rollback journal, so a reader needs no -wal/-shm files and can open it from read-only storage.
    """
    if index_dir.read_manifest().store != FAISS:
        raise ViewfinderError(
            f"{index_dir.path} keeps its vectors in Milvus; a snapshot holds a FAISS index. Serve it from Milvus."
        )
    source = index_dir.open_catalog(readonly=True)
    try:
        generation = source.generation()
        copy = sqlite3.connect(folder / "catalog.sqlite")
        source.db.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
        copy.close()
    finally:
        source.close()
    if saved_generation(index_dir.path) != generation:
        raise ViewfinderError(f"The vector index of {index_dir.path} is behind its catalog; run `viewfinder index`.")
    state = json.loads((index_dir.path / STATE_FILE).read_text())
    names = ["catalog.sqlite", "manifest.json", STATE_FILE, state["file"]]
    for name in names[1:]:
        shutil.copyfile(index_dir.path / name, folder / name)
    if thumbnails and (index_dir.path / THUMBNAILS).is_dir():
        shutil.copytree(index_dir.path / THUMBNAILS, folder / THUMBNAILS)
        names += [f"{THUMBNAILS}/{entry.name}" for entry in sorted((folder / THUMBNAILS).iterdir())]
    return names


def publish(index_path: Path, url: str, keep: int | None = None, thumbnails: bool = True) -> str:
    """Uploads a snapshot of a local index under `url`, makes it current and prunes to `keep`; its version."""
    bucket, prefix = _location(url)
    index_dir = IndexDir(index_path)
    _call(f"bucket s3://{bucket}", client().list_objects_v2, Bucket=bucket, MaxKeys=1)
    version = _new_version()
    base = f"{prefix}/snapshots/{version}"
    with tempfile.TemporaryDirectory(prefix="viewfinder-publish-") as temporary:
        folder = Path(temporary)
        with index_dir.writer_lock():
            names = _stage(index_dir, folder, thumbnails)
        # The copy leaves its vectors to the vector index, which holds the same ones: a snapshot carries each
        # vector once, so a server's cold start downloads half as much (BENCHMARKS.md).
        copy = sqlite3.connect(folder / "catalog.sqlite")
        try:
            leave_vectors_to_index(copy)
        finally:
            copy.close()

        def upload(name: str) -> tuple[str, dict[str, Any]]:
            path = folder / name
            _call(f"s3://{bucket}/{base}/{name}", client().upload_file, Filename=str(path), Bucket=bucket,
                  Key=f"{base}/{name}")  # fmt: skip
            return name, {"sha256": _sha256(path), "size": path.stat().st_size}

        with ThreadPoolExecutor(TRANSFERS) as pool:
            files = dict(pool.map(upload, names))
    listing = json.dumps({"version": version, "created_at": time.time(), "files": files}, indent=1).encode()
    _put(bucket, f"{base}/{SNAPSHOT_FILE}", listing)
    _put_pointer(bucket, prefix, version, listing)
    if keep is not None:
        prune(url, keep)
    return version


def _new_version() -> str:
    """A name that sorts by publication time (to the microsecond), with a random tail against collisions."""
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now % 1 * 1e6):06d}Z"
    return f"{stamp}-{secrets.token_hex(3)}"


def _put(bucket: str, key: str, data: bytes) -> None:
    _call(f"s3://{bucket}/{key}", client().put_object, Bucket=bucket, Key=key, Body=data)


def _put_pointer(bucket: str, prefix: str, version: str, listing: bytes) -> None:
    pointer = {"version": version, "snapshot_sha256": hashlib.sha256(listing).hexdigest()}
    _put(bucket, f"{prefix}/{POINTER}", json.dumps(pointer).encode())


def _get(bucket: str, key: str) -> bytes:
    response = _call(f"s3://{bucket}/{key}", client().get_object, Bucket=bucket, Key=key)
    return response["Body"].read()


def current(url: str) -> dict[str, str]:
    """The pointer: the current version and the checksum of its SNAPSHOT.json."""
    bucket, prefix = _location(url)
    try:
        pointer = json.loads(_get(bucket, f"{prefix}/{POINTER}"))
        return {"version": str(pointer["version"]), "snapshot_sha256": str(pointer["snapshot_sha256"])}
    except (ValueError, KeyError, TypeError) as error:
        raise SnapshotError(f"s3://{bucket}/{prefix}/{POINTER} is not a snapshot pointer ({error}).") from None
    except ViewfinderError as error:
        raise SnapshotError(f"No published index at {url} ({error}); publish one with `viewfinder publish`.") from None


def manifest_model(url: str, pointer: dict[str, str]) -> str:
    """The model the manifest of the snapshot `pointer` names, read before the download (so the model can load
    during it) and not yet verified: check the downloaded manifest again."""
    bucket, prefix = _location(url)
    key = f"{prefix}/snapshots/{pointer['version']}/manifest.json"
    try:
        return str(json.loads(_get(bucket, key))["model"])
    except (ValueError, KeyError, TypeError) as error:
        raise SnapshotError(f"s3://{bucket}/{key} is not a Viewfinder manifest ({error}).") from None


def versions(url: str) -> list[str]:
    """Every complete snapshot (its SNAPSHOT.json is there), oldest first."""
    bucket, prefix = _location(url)
    pages = client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/snapshots/")
    found: set[str] = set()
    try:
        for page in pages:
            for item in page.get("Contents", []):
                version, _, name = item["Key"][len(prefix) + len("/snapshots/") :].partition("/")
                if name == SNAPSHOT_FILE:
                    found.add(version)
    except Exception as error:
        raise explain(error, url) from None
    return sorted(found)


def rollback(url: str, to: str | None = None) -> str:
    """Points `url` at an earlier complete snapshot (`to`, else the one before the current); its version."""
    bucket, prefix = _location(url)
    complete = versions(url)
    now = current(url)["version"]
    if to is None:
        earlier = [version for version in complete if version < now]
        if not earlier:
            raise SnapshotError(f"{url} has no snapshot older than the current one ({now}).")
        to = earlier[-1]
    elif to not in complete:
        raise SnapshotError(f"{url} has no complete snapshot {to}; there are: {', '.join(complete) or 'none'}.")
    listing = _get(bucket, f"{prefix}/snapshots/{to}/{SNAPSHOT_FILE}")
    _put_pointer(bucket, prefix, to, listing)
    return to


def prune(url: str, keep: int) -> list[str]:
    """Deletes every snapshot but the `keep` newest complete ones and the current one; returns those deleted.

    Incomplete uploads older than the newest kept snapshot are deleted too.
    """
    bucket, prefix = _location(url)
    complete = versions(url)
    kept = set(complete[-keep:]) | {current(url)["version"]}
    newest = max(kept)
    doomed: dict[str, list[str]] = {}
    pages = client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/snapshots/")
    for page in pages:
        for item in page.get("Contents", []):
            version = item["Key"][len(prefix) + len("/snapshots/") :].partition("/")[0]
            if version not in kept and version < newest:
                doomed.setdefault(version, []).append(item["Key"])
    for version in sorted(doomed):
        keys = doomed[version]
        for start in range(0, len(keys), 1000):
            objects = [{"Key": key} for key in keys[start : start + 1000]]
            _call(url, client().delete_objects, Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    return sorted(doomed)


def cache_dir(url: str) -> Path:
    """Where a reader keeps downloaded snapshots of `url`: $VIEWFINDER_SNAPSHOT_CACHE, else the cache home."""
    base = settings.value("snapshot_cache") or cache_home() / "snapshots"
    return Path(base).expanduser() / hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]


def download(url: str, pointer: dict[str, str], cache: Path) -> Path:
    """The local folder of the snapshot `pointer` names: downloaded, verified, then renamed into place."""
    target = cache / pointer["version"]
    if (target / SNAPSHOT_FILE).is_file():  # only a verified folder is ever renamed to this name
        return target
    bucket, prefix = _location(url)
    base = f"{prefix}/snapshots/{pointer['version']}"
    listing = _get(bucket, f"{base}/{SNAPSHOT_FILE}")
    if hashlib.sha256(listing).hexdigest() != pointer["snapshot_sha256"]:
        raise SnapshotError(f"s3://{bucket}/{base}/{SNAPSHOT_FILE} does not match the pointer's checksum.")
    files = json.loads(listing)["files"]
    cache.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=cache, prefix=f".{pointer['version']}."))
    try:

        def fetch(name: str) -> None:
            path = PurePosixPath(name)
            if path.is_absolute() or ".." in path.parts:
                raise SnapshotError(f"snapshot {pointer['version']} names an unsafe file {name!r}")
            local = folder / name
            local.parent.mkdir(parents=True, exist_ok=True)
            if _download_hashed(bucket, f"{base}/{name}", local) != files[name]["sha256"]:
                raise SnapshotError(f"s3://{bucket}/{base}/{name} does not match its sha256 in {SNAPSHOT_FILE}.")

        with ThreadPoolExecutor(TRANSFERS) as pool:
            list(pool.map(fetch, files))
        (folder / SNAPSHOT_FILE).write_bytes(listing)
        try:
            os.rename(folder, target)
        except OSError:  # another reader put the same verified snapshot in place first
            if not (target / SNAPSHOT_FILE).is_file():
                raise
            shutil.rmtree(folder, ignore_errors=True)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return target


def _download_hashed(bucket: str, key: str, local: Path) -> str:
    """Writes an object to `local` and returns its sha256, hashed as it streams in: one GET, no second pass
    over the file (a cold start waits for the largest file, the vector index)."""
    from botocore.exceptions import BotoCoreError

    response = _call(f"s3://{bucket}/{key}", client().get_object, Bucket=bucket, Key=key)
    digest = hashlib.sha256()
    try:
        with open(local, "wb") as handle:
            for chunk in response["Body"].iter_chunks(STREAM_CHUNK):
                digest.update(chunk)
                handle.write(chunk)
    except BotoCoreError as error:  # the connection broke mid-object (retries apply to the request, not here)
        raise explain(error, f"s3://{bucket}/{key}") from None
    return digest.hexdigest()


def drop_cached(cache: Path, keep: set[str]) -> None:
    """Removes downloaded snapshots other than `keep` (an open engine keeps reading its unlinked files)."""
    for entry in cache.iterdir() if cache.is_dir() else ():
        if entry.name not in keep and not entry.name.startswith("."):
            shutil.rmtree(entry, ignore_errors=True)
