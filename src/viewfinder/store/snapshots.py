"""Published index snapshots in S3: immutable, versioned and checksummed, with a pointer that says which is current.

Layout under s3://bucket/indexes/NAME (or at the root of a bucket, s3://bucket):

    snapshots/<version>/manifest.json, catalog.sqlite (without vectors), ann.json, vectors-<gen>.faiss (float16
                        vectors: faiss_precision), thumbnails/…,
                        renditions/… (the pictures of images in object storage exist nowhere else),
                        calibration.json (when the index has one)
    snapshots/<version>/SNAPSHOT.json   the sha256 and size of every file; written after all of them
    CURRENT                             {"version", "snapshot_sha256"}; written last, one small PUT

A PUT replaces an object atomically, so a reader sees the old pointer or the new one; the pointer only ever
names a snapshot whose files were all uploaded (checked against the listing first), so an interrupted upload
never becomes current. Publishers at once cannot undo each other: the pointer is replaced by a conditional PUT
on the state it was read in (If-Match, or If-None-Match for the first), so the later writer reads it again,
and a publish never moves it back to a version older than the one it names (only `rollback` does, on purpose).
Pruning never touches an upload that may be in flight: an incomplete one until it is left for ABANDONED_AFTER,
nor a complete one newer than the current one. A pointer is followed only when its version is in the format
`publish` writes; readers download and verify snapshots into their cache with store/snapshot_cache.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from viewfinder.errors import ViewfinderError
from viewfinder.sources.s3 import client, error_code, explain, split_url
from viewfinder.store.catalog import leave_vectors_to_index
from viewfinder.store.factory import store_class
from viewfinder.store.faiss_index import STATE_FILE, VectorIndex
from viewfinder.store.faiss_precision import half_precision
from viewfinder.store.indexdir import HALF_PRECISION_FORMAT, IndexDir
from viewfinder.store.thumbnails import FOLDER as THUMBNAILS
from viewfinder.store.thumbnails import RENDITIONS

PICTURE_FOLDERS = (THUMBNAILS, RENDITIONS)  # the caches `--no-thumbnails` leaves out
# Notes an index keeps beside its catalog (IndexDir.write_note) that a snapshot carries when the index has them:
# its relevance calibration (search.relevance.CACHE_FILE), which a reader would otherwise measure again at its
# first query, encoding a hundred prompts (a second of a cold start). The reader checks it is current as ever.
NOTES = ("calibration.json",)

POINTER = "CURRENT"
SNAPSHOT_FILE = "SNAPSHOT.json"
TRANSFERS = 8
ABANDONED_AFTER = 24 * 3600.0  # seconds an incomplete upload is left alone: until then it may be in flight
POINTER_ATTEMPTS = 20  # conditional writes of the pointer lost to other writers before a publish gives up
# What `publish` names a snapshot (_new_version; before microseconds, without them), and nothing else: the
# version is a folder name in every reader's cache.
VERSION = re.compile(r"\d{8}T\d{6}(\d{6})?Z-[0-9a-f]{6}")
SHA256 = re.compile(r"[0-9a-f]{64}")


class SnapshotError(ViewfinderError):
    """A snapshot is missing, incomplete or does not match its checksums."""


class _PointerMoved(Exception):
    """A conditional write found the pointer changed since it was read."""


def location(url: str) -> tuple[str, str]:
    bucket, prefix = split_url(url)
    return bucket, prefix.strip("/")


def object_key(prefix: str, *parts: str) -> str:
    """The key of `parts` under `prefix`, which is empty at the root of a bucket (no leading slash then)."""
    return "/".join(part for part in (prefix, *parts) if part)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def s3_call(what: str, function: Any, **kwargs: Any) -> Any:
    """An S3 call whose failure (after the client's retries) becomes a one-line ViewfinderError."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return function(**kwargs)
    except (ClientError, BotoCoreError) as error:
        raise explain(error, what) from None


def stage(index_dir: IndexDir, folder: Path, thumbnails: bool = True) -> list[str]:
    """Writes into `folder` what a snapshot of the index holds, as `publish` uploads it; returns the names."""
    with index_dir.writer_lock():
        names = _stage(index_dir, folder, thumbnails)
    # The copy leaves its vectors to the vector index, which holds the same ones: a snapshot carries each
    # vector once, so a server's cold start downloads half as much (BENCHMARKS.md).
    copy = sqlite3.connect(folder / "catalog.sqlite")
    try:
        leave_vectors_to_index(copy)
    finally:
        copy.close()
    return names


def _stage(index_dir: IndexDir, folder: Path, thumbnails: bool) -> list[str]:
    """Copies a consistent state of the index into `folder` (call under the writer lock); returns the names.

    The catalog is copied with SQLite's backup API (a consistent copy even of a WAL database) and switched
    to a rollback journal, so a reader needs no -wal/-shm files and can open it from read-only storage.
    """
    if not store_class(index_dir.read_manifest().store).in_index_dir:
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
    loaded = VectorIndex.load(index_dir.path, mapped=True)  # read, not copied: only the float16 copy is made
    if loaded is None or loaded[1] != generation:
        raise ViewfinderError(f"The vector index of {index_dir.path} is behind its catalog; run `viewfinder index`.")
    # Its vectors as float16: half the bytes a server downloads, hashes and maps at its cold start, at the same
    # recall (faiss_precision, BENCHMARKS.md).
    half_precision(loaded[0]).save(folder, generation)
    IndexDir(folder).write_manifest(replace(index_dir.read_manifest(), format_version=HALF_PRECISION_FORMAT))
    notes = [note for note in NOTES if (index_dir.path / note).is_file()]
    for name in notes:
        shutil.copyfile(index_dir.path / name, folder / name)
    names = ["catalog.sqlite", "manifest.json", STATE_FILE, json.loads((folder / STATE_FILE).read_text())["file"]]
    names += notes
    for cache in PICTURE_FOLDERS if thumbnails else ():
        if (index_dir.path / cache).is_dir():
            shutil.copytree(index_dir.path / cache, folder / cache)
            names += [f"{cache}/{entry.name}" for entry in sorted((folder / cache).iterdir())]
    return names


def publish(index_path: Path, url: str, keep: int | None = None, thumbnails: bool = True) -> str:
    """Uploads a snapshot of a local index under `url`, makes it current and prunes to `keep`; its version.

    SnapshotError, the snapshot left uploaded, when a newer one became current meanwhile (another publish).
    """
    from boto3.s3.transfer import S3Transfer  # only a publish uploads: a reader never imports boto3

    bucket, prefix = location(url)
    index_dir = IndexDir(index_path)
    s3_call(f"bucket s3://{bucket}", client().list_objects_v2, Bucket=bucket, MaxKeys=1)
    version = _new_version()
    base = object_key(prefix, "snapshots", version)
    with tempfile.TemporaryDirectory(prefix="viewfinder-publish-") as temporary:
        folder = Path(temporary)
        names = stage(index_dir, folder, thumbnails)

        def upload(name: str) -> tuple[str, dict[str, Any]]:
            path = folder / name
            with S3Transfer(client()) as transfer:  # multipart above 8 MB, as boto3's upload_file
                s3_call(f"s3://{bucket}/{base}/{name}", transfer.upload_file, filename=str(path), bucket=bucket,
                        key=f"{base}/{name}")  # fmt: skip
            return name, {"sha256": file_sha256(path), "size": path.stat().st_size}

        with ThreadPoolExecutor(TRANSFERS) as pool:
            files = dict(pool.map(upload, names))
    listing = json.dumps({"version": version, "created_at": time.time(), "files": files}, indent=1).encode()
    _put(bucket, f"{base}/{SNAPSHOT_FILE}", listing)
    try:
        _check_whole(bucket, prefix, version, files, url)
    except SnapshotError:
        with contextlib.suppress(ViewfinderError):  # not complete after all; the error says why either way
            s3_call(url, client().delete_object, Bucket=bucket, Key=f"{base}/{SNAPSHOT_FILE}")
        raise
    _advance_pointer(bucket, prefix, version, listing)
    if keep is not None:
        prune(url, keep)
    return version


def _new_version() -> str:
    """A name that sorts by publication time (to the microsecond), with a random tail against collisions."""
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now % 1 * 1e6):06d}Z"
    return f"{stamp}-{secrets.token_hex(3)}"


def _put(bucket: str, key: str, data: bytes, **condition: str) -> None:
    """One PUT; with a condition (IfMatch, IfNoneMatch) _PointerMoved when the object is no longer as read."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client().put_object(Bucket=bucket, Key=key, Body=data, **condition)
    except ClientError as error:
        status = error_code(error)[1]
        if condition and status in (409, 412):  # 409: another conditional write at the same time
            raise _PointerMoved from None
        if condition and status == 501:  # a store without conditional writes: the other safeguards remain
            return _put(bucket, key, data)
        raise explain(error, f"s3://{bucket}/{key}") from None
    except BotoCoreError as error:
        raise explain(error, f"s3://{bucket}/{key}") from None


def read_object(bucket: str, key: str) -> bytes:
    response = s3_call(f"s3://{bucket}/{key}", client().get_object, Bucket=bucket, Key=key)
    return response["Body"].read()


def _read_pointer(bucket: str, prefix: str) -> tuple[bytes, str] | None:
    """The pointer's bytes and ETag; None when there is none."""
    from botocore.exceptions import BotoCoreError, ClientError

    key = object_key(prefix, POINTER)
    try:
        response = client().get_object(Bucket=bucket, Key=key)
        return response["Body"].read(), response["ETag"]
    except ClientError as error:
        if error_code(error)[0] == "NoSuchKey":
            return None
        raise explain(error, f"s3://{bucket}/{key}") from None
    except BotoCoreError as error:
        raise explain(error, f"s3://{bucket}/{key}") from None


def _parse_pointer(data: bytes, where: str) -> dict[str, str]:
    """The pointer in `data`, refused unless its version is one `publish` writes and its checksum a sha256."""
    try:
        pointer = json.loads(data)
        version, checksum = pointer["version"], pointer["snapshot_sha256"]
    except (ValueError, KeyError, TypeError) as error:
        raise SnapshotError(f"{where} is not a snapshot pointer ({error}).") from None
    if not isinstance(version, str) or not VERSION.fullmatch(version):
        raise SnapshotError(f"{where} is not a snapshot pointer: {version!r:.80} is no version `publish` writes.")
    if not isinstance(checksum, str) or not SHA256.fullmatch(checksum):
        raise SnapshotError(f"{where} is not a snapshot pointer: {checksum!r:.80} is no sha256.")
    return {"version": version, "snapshot_sha256": checksum}


def _current(url: str) -> tuple[dict[str, str], str]:
    """The pointer and its ETag."""
    bucket, prefix = location(url)
    where = f"s3://{bucket}/{object_key(prefix, POINTER)}"
    try:
        found = _read_pointer(bucket, prefix)
    except ViewfinderError as error:
        raise SnapshotError(f"No published index at {url} ({error}); publish one with `viewfinder publish`.") from None
    if found is None:
        raise SnapshotError(
            f"No published index at {url} ({where} does not exist); publish one with `viewfinder publish`."
        )
    return _parse_pointer(found[0], where), found[1]


def current(url: str) -> dict[str, str]:
    """The pointer: the current version and the checksum of its SNAPSHOT.json."""
    return _current(url)[0]


def _write_pointer(bucket: str, prefix: str, version: str, listing: bytes, etag: str | None) -> None:
    """Points CURRENT at `version` if it is still as read (ETag `etag`, None: there was none)."""
    pointer = json.dumps({"version": version, "snapshot_sha256": hashlib.sha256(listing).hexdigest()}).encode()
    _put(bucket, object_key(prefix, POINTER), pointer, **({"IfMatch": etag} if etag else {"IfNoneMatch": "*"}))


def _advance_pointer(bucket: str, prefix: str, version: str, listing: bytes) -> None:
    """Points CURRENT at `version` unless it names a newer one, reading it again whenever another writer was
    first; a pointer that is not one (damaged) is replaced."""
    where = f"s3://{bucket}/{object_key(prefix, POINTER)}"
    for _ in range(POINTER_ATTEMPTS):
        found = _read_pointer(bucket, prefix)
        if found is not None:
            try:
                named = _parse_pointer(found[0], where)["version"]
            except SnapshotError:
                named = ""
            if named > version:
                raise SnapshotError(
                    f"{where} names {named}, published after {version} began: {version} was uploaded but not made "
                    f"current (a newer snapshot wins; `viewfinder rollback --to {version}` would serve it)."
                )
        try:
            _write_pointer(bucket, prefix, version, listing, None if found is None else found[1])
            return
        except _PointerMoved:
            continue
    raise SnapshotError(f"{where} kept changing while {version} was made current; publish again.")


def _objects(bucket: str, prefix: str, url: str) -> Iterator[dict[str, Any]]:
    """Every object under `prefix` (a folder, ending in a slash, or empty), page by page."""
    pages = client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    try:
        for page in pages:
            yield from page.get("Contents", [])
    except Exception as error:
        raise explain(error, url) from None


def _uploads(bucket: str, prefix: str, url: str) -> dict[str, dict[str, dict[str, Any]]]:
    """The objects of every snapshot upload, complete or not, by version and name (other folders are ignored)."""
    folder = object_key(prefix, "snapshots") + "/"
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for item in _objects(bucket, folder, url):
        version, _, name = item["Key"][len(folder) :].partition("/")
        if VERSION.fullmatch(version) and name:
            found.setdefault(version, {})[name] = item
    return found


def versions(url: str) -> list[str]:
    """Every complete snapshot (its SNAPSHOT.json is there), oldest first."""
    bucket, prefix = location(url)
    return sorted(version for version, names in _uploads(bucket, prefix, url).items() if SNAPSHOT_FILE in names)


def _check_whole(bucket: str, prefix: str, version: str, files: dict[str, dict[str, Any]], url: str) -> None:
    """Refuses a snapshot unless every file its listing names is there, at its size."""
    folder = object_key(prefix, "snapshots", version) + "/"
    sizes = {item["Key"][len(folder) :]: item["Size"] for item in _objects(bucket, folder, url)}
    missing = sorted(name for name, entry in files.items() if sizes.get(name) != entry["size"])
    if missing:
        shown = ", ".join(missing[:3]) + (", …" if len(missing) > 3 else "")
        raise SnapshotError(
            f"Snapshot {version} of {url} is missing {len(missing)} of {len(files)} files ({shown}); "
            "it is not made current."
        )


def rollback(url: str, to: str | None = None) -> str:
    """Points `url` at an earlier complete snapshot (`to`, else the one before the current); its version."""
    bucket, prefix = location(url)
    complete = versions(url)
    pointer, etag = _current(url)
    now = pointer["version"]
    if to is None:
        earlier = [version for version in complete if version < now]
        if not earlier:
            raise SnapshotError(f"{url} has no snapshot older than the current one ({now}).")
        to = earlier[-1]
    elif to not in complete:
        raise SnapshotError(f"{url} has no complete snapshot {to}; there are: {', '.join(complete) or 'none'}.")
    key = object_key(prefix, "snapshots", to, SNAPSHOT_FILE)
    listing = read_object(bucket, key)
    _check_whole(bucket, prefix, to, listed_files(listing, f"s3://{bucket}/{key}"), url)
    try:
        _write_pointer(bucket, prefix, to, listing, etag)
    except _PointerMoved:
        raise SnapshotError(
            f"{url} changed while rolling back from {now}; see what it serves now and run it again."
        ) from None
    return to


def prune(url: str, keep: int, abandoned_after: float = ABANDONED_AFTER) -> list[str]:
    """Deletes the snapshots older than the current one but the `keep` newest complete ones, and the uploads
    left incomplete for `abandoned_after` seconds (a killed publish); returns the versions deleted.

    An incomplete upload younger than that may be a publish in flight, and a complete snapshot newer than the
    current one may be about to become current: neither is touched.
    """
    bucket, prefix = location(url)
    uploads = _uploads(bucket, prefix, url)
    now = current(url)["version"]
    complete = sorted(version for version, names in uploads.items() if SNAPSHOT_FILE in names)
    kept = set(complete[-keep:]) | {now}
    left_before = time.time() - abandoned_after

    def doomed(version: str, objects: dict[str, dict[str, Any]]) -> bool:
        if SNAPSHOT_FILE in objects:
            return version < now and version not in kept
        return max(item["LastModified"].timestamp() for item in objects.values()) <= left_before

    deleted = sorted(version for version, objects in uploads.items() if doomed(version, objects))
    for version in deleted:
        keys = [item["Key"] for item in uploads[version].values()]
        for start in range(0, len(keys), 1000):
            objects = [{"Key": key} for key in keys[start : start + 1000]]
            s3_call(url, client().delete_objects, Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    return deleted


def listed_files(listing: bytes, where: str) -> dict[str, dict[str, Any]]:
    """The files a SNAPSHOT.json lists with their sha256 and size, each named as `publish` names them."""
    try:
        files = {
            str(name): {"sha256": str(entry["sha256"]), "size": int(entry["size"])}
            for name, entry in json.loads(listing)["files"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise SnapshotError(f"{where} is not a snapshot listing ({error}).") from None
    for name in files:
        if not _publishable(name):
            raise SnapshotError(f"{where} names an unsafe file {name!r:.80}.")
    return files


def _publishable(name: str) -> bool:
    """Whether `name` is one `publish` writes: a plain file name, or one inside a picture folder."""
    parts = name.split("/")
    plain = all(part not in ("", ".", "..") and "\\" not in part and "\0" not in part for part in parts)
    return plain and ((parts == [name] and name != SNAPSHOT_FILE) or (len(parts) == 2 and parts[0] in PICTURE_FOLDERS))
