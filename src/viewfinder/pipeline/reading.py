"""Reading entries for the pipeline: decoded ahead of the model on worker threads, from any source.

A local file is decoded by its path (JPEGs at reduced size where the model needs fewer pixels); an entry of
a remote source is read through the source into memory (only the version its listing named) and decoded from
bytes, with its thumbnail, and the display rendition of a format browsers cannot show, made from the same
bytes so that the service never fetches the original for the result grid or the detail view.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from viewfinder.images.decode import DecodeError, UnreadableError, decode_bytes, decode_image
from viewfinder.images.preprocess import PreprocessSpec
from viewfinder.images.thumbnails import make_thumbnail
from viewfinder.pipeline.records import Decoded, EmbeddedBatch, PlannedFile, Reason
from viewfinder.settings import MAX_IMAGE_BYTES
from viewfinder.sources import OriginalChangedError, Source
from viewfinder.store.catalog import Catalog
from viewfinder.store.catalog_rows import ImageRecord
from viewfinder.store.thumbnails import FOLDER as THUMBNAILS
from viewfinder.store.thumbnails import NOT_FOR_BROWSERS, RENDITION_SIDE, RENDITIONS, file_name, store_thumbnail

log = logging.getLogger(__name__)


def decode_entry(source: Source, key: str, preprocess: PreprocessSpec, version: str = "") -> Decoded | Reason:
    """Decodes one entry of a source, or says why it cannot be used; never raises for one entry, so one file
    never stops the run. Both engines call it (the local one on threads, Ray on its actors).

    A local file is decoded by its path (the file checks first: FIFOs, links, sizes); any other entry is read
    through its source, only as the `version` its listing named (SourceFile.version), and decoded from the
    bytes, which also make its pictures (`pictures`). An entry that cannot be read, or was replaced since the
    listing (its recorded stamp would name other pixels), is a `Reason` to retry next run; a source failing as
    a whole (ViewfinderError: the store unreachable after its retries) raises, so the batch is not committed
    and the next run resumes there.
    """
    data = None
    if source.remote:
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
        image = decode_bytes(data, preprocess)
        return Decoded(image, *pictures(data, image.format))
    except UnreadableError as error:
        return Reason(str(error), retry=True)
    except DecodeError as error:
        return Reason(str(error) or "cannot decode")
    except Exception as error:  # whatever a crafted file makes a decoder raise
        # Logged with its traceback, since a bug in decode would land here too.
        log.warning("unexpected error decoding %s", key, exc_info=error)
        detail = " ".join(str(error).split())
        return Reason(f"cannot be decoded ({type(error).__name__}{': ' + detail if detail else ''})")


def pictures(data: bytes, format: str, thumbnail: bool = True) -> tuple[bytes | None, bytes | None]:
    """(thumbnail, display rendition) of an image's bytes: the rendition only for a format browsers cannot
    show, the thumbnail (unless not asked for) then made from the rendition, which is far cheaper to decode
    than the original (a large TIFF or HEIC) and already upright; raises DecodeError."""
    rendition = make_thumbnail(data, RENDITION_SIDE) if format in NOT_FOR_BROWSERS else None
    return (make_thumbnail(rendition or data) if thumbnail else None), rendition


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
    """The thumbnails and display renditions of remote entries in the index directory: those made at decode,
    stored once their batch has ids, and those lacking (a killed run, an index made before renditions were
    made at index time), made again from the originals."""

    def __init__(self, remote: dict[str, Source], index_path: Path) -> None:
        self.remote = remote
        self.index_path = index_path

    def store(self, ids: Sequence[int], batch: EmbeddedBatch) -> None:
        """Stores the pictures made for a committed batch, under the ids the catalog gave its images."""
        for image_id, image in zip(ids, batch.images, strict=True):
            for made, folder in ((batch.thumbnails, THUMBNAILS), (batch.renditions, RENDITIONS)):
                if (data := made.get(image.path)) is not None:
                    store_thumbnail(self.index_path, image_id, image.size, image.mtime_ns, data, folder)

    def make_missing(self, catalog: Catalog, workers: int) -> int:
        """Makes the thumbnails and renditions that remote images indexed earlier lack, fetching each of those
        originals once (only while it is still the one indexed); returns how many images it completed. A run
        killed between committing a batch and storing its pictures leaves such gaps; a missing or replaced
        original is left for the next scan to remove or index again."""
        present = {folder: self._names(folder) for folder in (THUMBNAILS, RENDITIONS)}
        lacking = []
        for root, source in self.remote.items():
            for image in catalog.images(catalog.ids_under(root)).values():
                name = file_name(image.id, image.size, image.mtime_ns)
                thumbnail = name not in present[THUMBNAILS]
                if thumbnail or (image.format in NOT_FOR_BROWSERS and name not in present[RENDITIONS]):
                    lacking.append((image, source, thumbnail))

        def make(item: tuple[ImageRecord, Source, bool]) -> bool:
            image, source, thumbnail = item
            try:
                with source.open_indexed(image) as handle:
                    made = pictures(handle.read(), image.format, thumbnail)
            except (OSError, DecodeError, OriginalChangedError) as error:
                log.warning("no thumbnail or rendition for %s: %s", image.path, error)
                return False
            for data, folder in zip(made, (THUMBNAILS, RENDITIONS), strict=True):
                if data is not None:
                    store_thumbnail(self.index_path, image.id, image.size, image.mtime_ns, data, folder)
            return True

        with ThreadPoolExecutor(workers) as pool:
            return sum(pool.map(make, lacking))

    def _names(self, folder_name: str) -> set[str]:
        folder = self.index_path / folder_name
        return {entry.name for entry in folder.iterdir()} if folder.is_dir() else set()
