"""Reading entries for the pipeline: decoded ahead of the model on worker threads, from any source.

A local file is decoded by its path (JPEGs at reduced size where the model needs fewer pixels); an entry of
a remote source is read through the source into memory (only the version its listing named) and decoded from
bytes, with its thumbnail made from the same bytes so that the service never fetches the original for the
result grid.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from viewfinder.images.decode import (
    DecodeError,
    PreprocessSpec,
    UnreadableError,
    decode_bytes,
    decode_image,
)
from viewfinder.images.thumbnails import make_thumbnail
from viewfinder.pipeline.records import Decoded, PlannedFile, Reason
from viewfinder.settings import MAX_IMAGE_BYTES
from viewfinder.sources import OriginalChangedError, Source, is_remote
from viewfinder.store.catalog import Catalog, ImageRecord, NewImage
from viewfinder.store.thumbnails import FOLDER as THUMBNAILS
from viewfinder.store.thumbnails import file_name, store_thumbnail

log = logging.getLogger(__name__)


def decode_entry(source: Source, key: str, preprocess: PreprocessSpec, version: str = "") -> Decoded | Reason:
    """Decodes one entry of a source, or says why it cannot be used; never raises for one entry, so one file
    never stops the run. Both engines call it (the local one on threads, Ray on its actors).

    A local file is decoded by its path (the file checks first: FIFOs, links, sizes); any other entry is read
    through its source, only as the `version` its listing named (SourceFile.version), and decoded from the
    bytes, which also make its thumbnail. An entry that cannot be read, or was replaced since the listing (its
    recorded stamp would name other pixels), is a `Reason` to retry next run; a source failing as a whole
    (ViewfinderError: the store unreachable after its retries) raises, so the batch is not committed and the
    next run resumes there.
    """
    data = None
    if is_remote(source.root):
        try:
            with source.open(key, version) as handle:
                data = handle.read(MAX_IMAGE_BYTES + 1)  # one byte over: decode_bytes says the entry is too large
        except OSError as error:
            return Reason(_unreadable(error), retry=True)
        except OriginalChangedError as error:
            return Reason(str(error), retry=True)
    try:
        if data is None:
            return Decoded(decode_image(key, preprocess))
        return Decoded(decode_bytes(data, preprocess), make_thumbnail(data))
    except UnreadableError as error:
        return Reason(str(error), retry=True)
    except DecodeError as error:
        return Reason(str(error) or "cannot decode")
    except Exception as error:  # whatever a crafted file makes a decoder raise
        # Logged with its traceback, since a bug in decode would land here too.
        log.warning("unexpected error decoding %s", key, exc_info=error)
        detail = " ".join(str(error).split())
        return Reason(f"cannot be decoded ({type(error).__name__}{': ' + detail if detail else ''})")


def _unreadable(error: OSError) -> str:
    """Why an entry could not be read through its source, in the words decode uses for a local file."""
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, FileNotFoundError):  # a source's own words name the entry (an object gone from S3)
        return str(error) if error.strerror is None else "file not found"
    return f"cannot read file ({error.strerror or error})"


def decode_ahead(
    pool: ThreadPoolExecutor,
    work: Iterable[PlannedFile],
    sources: dict[str, Source],
    preprocess: PreprocessSpec,
    ahead: int,
) -> Iterator[tuple[PlannedFile, Decoded | Reason]]:
    """Yields each planned file with its decode outcome, in order, keeping at most `ahead` decodes in flight."""
    pending: deque[tuple[PlannedFile, Future]] = deque()

    def submit(planned: PlannedFile) -> None:
        file = planned.file
        pending.append((planned, pool.submit(decode_entry, sources[file.root], file.path, preprocess, file.version)))

    items = iter(work)
    for planned in items:
        submit(planned)
        if len(pending) >= ahead:
            break
    while pending:
        planned, future = pending.popleft()
        following = next(items, None)
        if following is not None:
            submit(following)
        yield planned, future.result()


class Thumbnails:
    """The thumbnails of remote entries in the index directory: those made at decode, stored once their batch
    has ids, and those a killed run left out, made again from the originals."""

    def __init__(self, remote: dict[str, Source], index_path: Path) -> None:
        self.remote = remote
        self.index_path = index_path

    def store(self, ids: Sequence[int], images: Sequence[NewImage], made: dict[str, bytes]) -> None:
        """Stores the thumbnails made for a committed batch, under the ids the catalog gave its images."""
        for image_id, image in zip(ids, images, strict=True):
            data = made.get(image.path)
            if data is not None:
                store_thumbnail(self.index_path, image_id, image.size, image.mtime_ns, data)

    def make_missing(self, catalog: Catalog, workers: int) -> int:
        """Makes the thumbnails that remote images indexed earlier lack, fetching those originals once; returns
        how many it made. A run killed between committing a batch and storing its thumbnails leaves such gaps;
        a missing original is left for the next scan to remove."""
        folder = self.index_path / THUMBNAILS
        present = {entry.name for entry in folder.iterdir()} if folder.is_dir() else set()
        lacking = [
            (image, source)
            for root, source in self.remote.items()
            for image in catalog.images(catalog.ids_under(root)).values()
            if file_name(image.id, image.size, image.mtime_ns) not in present
        ]

        def make(item: tuple[ImageRecord, Source]) -> bool:
            image, source = item
            try:
                with source.open(image.path) as handle:
                    data = make_thumbnail(handle.read())
            except (OSError, DecodeError) as error:
                log.warning("no thumbnail for %s: %s", image.path, error)
                return False
            store_thumbnail(self.index_path, image.id, image.size, image.mtime_ns, data)
            return True

        with ThreadPoolExecutor(workers) as pool:
            return sum(pool.map(make, lacking))
