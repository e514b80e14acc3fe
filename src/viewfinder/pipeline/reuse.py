"""Move-aware identity: content hashes find the stored vector of a moved, renamed or copied file.

The hash is BLAKE2b-128 of the whole file up to WHOLE_FILE_MAX bytes, and above that of the size and three
64 KiB samples (start, middle, end). Renaming a folder of large photos then reads at most 192 KiB per file
instead of re-embedding it; compressed formats change their bytes throughout on any pixel edit, so samples
tell edits apart, and smaller files (most of what a same-size replacement test or a web image is) are
hashed whole. A file is re-hashed only when its size, mtime, inode or ctime changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import BinaryIO

from viewfinder.pipeline.records import PlannedFile, new_image
from viewfinder.sources import SourceFile, source_for
from viewfinder.store.catalog import Catalog
from viewfinder.store.catalog_rows import NewImage, Restat

WHOLE_FILE_MAX = 1 << 20
SAMPLE = 64 << 10


def content_hash(handle: BinaryIO, size: int) -> str:
    """The content hash of an open file of `size` bytes (see the module docstring for what it covers)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(size.to_bytes(8, "little"))
    if size <= WHOLE_FILE_MAX:
        digest.update(handle.read())
        return digest.hexdigest()
    for offset in (0, size // 2 - SAMPLE // 2, size - SAMPLE):
        handle.seek(offset)
        digest.update(handle.read(SAMPLE))
    return digest.hexdigest()


def hash_files(files: Sequence[SourceFile], opener: Callable[[SourceFile], BinaryIO], workers: int) -> dict[str, str]:
    """Content hashes by path, read on worker threads; unreadable files are left out (decoding reports them)."""

    def one(item: SourceFile) -> str | None:
        try:
            with opener(item) as handle:
                return content_hash(handle, item.size)
        except OSError:
            return None

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hash") as pool:
        hashes = list(pool.map(one, files))
    return {item.path: digest for item, digest in zip(files, hashes, strict=True) if digest is not None}


@dataclass
class Reuse:
    """What the content hashes settled without the model."""

    restats: list[Restat] = field(default_factory=list)  # same content, new file facts
    images: list[NewImage] = field(default_factory=list)  # moved or copied: a stored vector, a new path
    from_roots: set[str] = field(default_factory=set)  # roots of the rows whose vectors were reused
    to_embed: list[PlannedFile] = field(default_factory=list)  # with their content hashes


def resolve(
    to_check: Iterable[PlannedFile], to_embed: Iterable[PlannedFile], hashes: dict[str, str], catalog: Catalog, dim: int
) -> Reuse:
    """Splits changed and new files into those whose content the catalog already has and those to embed."""
    reuse = Reuse()
    for planned in to_check:
        item, known, digest = planned.file, planned.known, hashes.get(planned.file.path)
        # A catalog from before content hashes trusts size and mtime, as it did when it was written.
        if digest is not None and known is not None and known.content_hash in (None, digest) and known.id is not None:
            reuse.restats.append(Restat(known.id, item.size, item.mtime_ns, item.inode, item.ctime_ns, digest))
        else:
            reuse.to_embed.append(replace(planned, content_hash=digest))
    pending = [replace(planned, content_hash=hashes.get(planned.file.path)) for planned in to_embed]
    stored = catalog.by_hash((planned.content_hash for planned in pending if planned.content_hash), dim)
    for planned in pending:
        match = stored.get(planned.content_hash or "")
        if match is None:
            reuse.to_embed.append(planned)
            continue
        record, vector = match
        reuse.from_roots.add(record.root)
        place = (
            (record.latitude, record.longitude)
            if record.latitude is not None and record.longitude is not None
            else None
        )
        reuse.images.append(
            new_image(planned, vector, record.width, record.height, record.format, record.taken_at, place)
        )
    return reuse


def missing_roots(recorded: Iterable[str], scanned: Sequence[str]) -> list[str]:
    """Recorded sources that are not there now (and are not among, or inside, the scanned ones)."""
    covering = [source_for(root) for root in scanned]
    return [
        root
        for root in recorded
        if root not in scanned
        and not any(source.contains(root) for source in covering)
        and not source_for(root).available()
    ]
