"""A reader's local copies of published snapshots (store/snapshots.py): each snapshot is downloaded into a
temporary folder of the cache, every file checked against its sha256, then the folder renamed into place under
its version, so a reader never opens half a snapshot and a corrupt one is refused. Only a version in the format
`publish` writes becomes a folder name, and only a file name `publish` writes a path inside it: whatever the
bucket holds, every path stays inside the cache. Before a snapshot is served its catalog and vector index are
checked to hold the same images (catalog_mismatch).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from viewfinder import settings
from viewfinder.models.onnx_format import cache_home
from viewfinder.sources.s3 import client, explain
from viewfinder.store.catalog import Catalog
from viewfinder.store.snapshots import (
    SNAPSHOT_FILE,
    TRANSFERS,
    VERSION,
    SnapshotError,
    file_sha256,
    listed_files,
    location,
    object_key,
    read_object,
    s3_call,
)
from viewfinder.store.vector_store import VectorStore

STREAM_CHUNK = 2**20
PART = 16 * 2**20  # bytes per ranged GET of a large file (AWS suggests 8–16 MB for parallel GETs)
Listed = tuple[bytes, dict[str, dict[str, Any]]]  # a SNAPSHOT.json and the files it lists (snapshot_listing)


def _checked_version(pointer: dict[str, str]) -> str:
    """The pointer's version, checked here too so that every path a caller makes of it stays in the cache."""
    version = pointer["version"]
    if not VERSION.fullmatch(version):
        raise SnapshotError(f"{version!r:.80} is no snapshot version `publish` writes.")
    return version


def cache_dir(url: str) -> Path:
    """Where a reader keeps downloaded snapshots of `url`: $VIEWFINDER_SNAPSHOT_CACHE, else the cache home."""
    base = settings.value("snapshot_cache") or cache_home() / "snapshots"
    return Path(base).expanduser() / hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]


def manifest_model(url: str, pointer: dict[str, str]) -> str:
    """The model the manifest of the snapshot `pointer` names, read before the download (so the model can load
    during it) and not yet verified: check the downloaded manifest again."""
    bucket, prefix = location(url)
    key = object_key(prefix, "snapshots", _checked_version(pointer), "manifest.json")
    try:
        return str(json.loads(read_object(bucket, key))["model"])
    except (ValueError, KeyError, TypeError) as error:
        raise SnapshotError(f"s3://{bucket}/{key} is not a Viewfinder manifest ({error}).") from None


def snapshot_listing(url: str, pointer: dict[str, str]) -> Listed:
    """The SNAPSHOT.json of the snapshot `pointer` names, checked against the pointer, and the files it lists."""
    bucket, prefix = location(url)
    key = object_key(prefix, "snapshots", _checked_version(pointer), SNAPSHOT_FILE)
    listing = read_object(bucket, key)
    if hashlib.sha256(listing).hexdigest() != pointer["snapshot_sha256"]:
        raise SnapshotError(f"s3://{bucket}/{key} does not match the pointer's checksum.")
    return listing, listed_files(listing, f"s3://{bucket}/{key}")


def download(url: str, pointer: dict[str, str], cache: Path, listed: Listed | None = None) -> Path:
    """The local folder of the snapshot `pointer` names: downloaded, verified, then renamed into place.
    `listed` is its listing when the caller has read it (snapshot_listing), which is then not read again."""
    version = _checked_version(pointer)
    target = cache / version
    if (target / SNAPSHOT_FILE).is_file():  # only a verified folder is ever renamed to this name
        if file_sha256(target / SNAPSHOT_FILE) == pointer["snapshot_sha256"]:
            return target
        shutil.rmtree(target)  # another snapshot under the same name (not one `publish` made): fetch this one
    bucket, prefix = location(url)
    base = object_key(prefix, "snapshots", version)
    listing, files = listed or snapshot_listing(url, pointer)
    cache.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=cache, prefix=f".{version}."))
    try:

        def fetch(name: str) -> None:
            local = folder / name
            local.parent.mkdir(parents=True, exist_ok=True)
            if _download_hashed(bucket, f"{base}/{name}", local, files[name]["size"]) != files[name]["sha256"]:
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


def _download_hashed(bucket: str, key: str, local: Path, size: int) -> str:
    """Writes an object of `size` bytes (as listed) to `local` and returns its sha256.

    An object of more than one PART comes in PART-sized ranged GETs at once: one S3 connection carries about
    90 MB/s, so the 200 MB vector index of a 100k-image snapshot took seconds of a cold start on one. The hash
    follows the parts in order, each read back from the page cache as soon as it and those before it are in,
    so it is done moments after the last byte arrives (no second pass over the file, and one part in memory
    at a time). A smaller object is one GET, hashed as it streams in. Every byte written is hashed: an object of
    another length or content than listed fails the check, whatever the ranges returned.
    """
    where = f"s3://{bucket}/{key}"
    with open(local, "w+b") as handle:
        if size <= PART:
            digest = hashlib.sha256()
            _get(where, handle.fileno(), {"Bucket": bucket, "Key": key}, 0, digest)
            return digest.hexdigest()
        parts = [(start, min(start + PART, size)) for start in range(0, size, PART)]
        pool = ThreadPoolExecutor(TRANSFERS)
        try:
            arriving = [
                pool.submit(
                    _get,
                    where,
                    handle.fileno(),
                    {"Bucket": bucket, "Key": key, "Range": f"bytes={start}-{end - 1}"},
                    start,
                )
                for start, end in parts
            ]
            digest = hashlib.sha256()
            for (start, end), part in zip(parts, arriving, strict=True):
                if part.result() != end - start:
                    raise SnapshotError(f"{where} does not hold the {size} bytes {SNAPSHOT_FILE} lists.")
                # A part at once: the hashing thread then waits for the interpreter lock once per part rather
                # than once per chunk while the cold start's imports hold it.
                digest.update(os.pread(handle.fileno(), end - start, start))
            return digest.hexdigest()
        finally:
            pool.shutdown(cancel_futures=True)


def _get(where: str, fd: int, request: dict[str, str], offset: int, digest: Any = None) -> int:
    """Streams one GET (of a whole object or a range) into `fd` from `offset` on, feeding `digest` when given;
    returns how many bytes came."""
    from botocore.exceptions import BotoCoreError

    response = s3_call(where, client().get_object, **request)
    written = 0
    try:
        for chunk in response["Body"].iter_chunks(STREAM_CHUNK):
            if digest is not None:
                digest.update(chunk)
            os.pwrite(fd, chunk, offset + written)
            written += len(chunk)
    except BotoCoreError as error:  # the connection broke mid-object (retries apply to the request, not here)
        raise explain(error, where) from None
    return written


def drop_cached(cache: Path, keep: set[str]) -> None:
    """Removes downloaded snapshots other than `keep` (an open engine keeps reading its unlinked files)."""
    for entry in cache.iterdir() if cache.is_dir() else ():
        if entry.name not in keep and not entry.name.startswith("."):
            shutil.rmtree(entry, ignore_errors=True)


def catalog_mismatch(catalog: Catalog, vectors: VectorStore) -> str | None:
    """How a snapshot's catalog and vector index disagree on the images they hold, or None when they agree.

    The catalog reads every vector from the index: a row the index lacks cannot be searched, and a vector
    without a row answers nothing (a catalog emptied, then checksummed again, would serve no results).
    """
    listed, held = np.sort(catalog.ids_matching()), vectors.ids()
    if np.array_equal(listed, held):
        return None
    other = " of other images" if len(listed) == len(held) else ""
    return f"its catalog lists {len(listed)} images and its vector index holds {len(held)} vectors{other}"
