"""Reading entries for the pipeline: decoded ahead of the model on worker threads, from any source.

A local file is decoded by its path (JPEGs at reduced size where the model needs fewer pixels); an entry of
a remote source is read through the source into memory and decoded from bytes, with its thumbnail made from
the same bytes so that the service never fetches the original for the result grid.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from viewfinder.images.decode import DecodedImage, DecodeError, PreprocessSpec, decode_bytes, decode_image
from viewfinder.images.thumbnails import make_thumbnail
from viewfinder.sources import Source, SourceFile
from viewfinder.store.catalog import Catalog, ImageRecord
from viewfinder.store.thumbnails import FOLDER as THUMBNAILS
from viewfinder.store.thumbnails import file_name, store_thumbnail

log = logging.getLogger(__name__)


def decode_ahead(
    pool: ThreadPoolExecutor, work: list, reader: Reader, preprocess: PreprocessSpec, ahead: int
) -> Iterator:
    """Yields (item, DecodedImage or reason) in order, keeping at most `ahead` decodes in flight."""
    pending: deque[tuple[object, Future]] = deque()
    items = iter(work)
    for item in items:
        pending.append((item, pool.submit(reader.decode_or_reason, item[0], preprocess)))
        if len(pending) >= ahead:
            break
    while pending:
        item, future = pending.popleft()
        next_item = next(items, None)
        if next_item is not None:
            pending.append((next_item, pool.submit(reader.decode_or_reason, next_item[0], preprocess)))
        yield item, future.result()


class Reader:
    """Decodes an entry: a local file by its path; a remote one through its source, in memory, making its
    thumbnail at the same time so that the service never fetches the original for the result grid."""

    def __init__(self, remote: dict[str, Source], index_path: Path | None) -> None:
        self.remote = remote
        self.index_path = index_path
        self.thumbnails: dict[str, bytes] = {}  # by key, until the batch is committed and has ids

    def decode_or_reason(self, file: SourceFile, preprocess: PreprocessSpec) -> DecodedImage | str:
        """The decoded entry or why it cannot be used; a remote read that fails for another reason than a
        vanished or oversized object raises, so its batch is not committed."""
        source = self.remote.get(file.root)
        if source is None:
            return _decode_or_reason(file.path, preprocess)
        try:
            with source.open(file.path) as handle:
                data = handle.read()
        except OSError as error:  # deleted since the listing, or too big to fetch
            return str(error)
        outcome = _decode_or_reason(data, preprocess, file.path)
        if isinstance(outcome, DecodedImage):
            try:
                self.thumbnails[file.path] = make_thumbnail(data)
            except DecodeError as error:
                return str(error)
        return outcome

    def store_thumbnails(self, committed: Iterable[tuple[int, SourceFile]]) -> None:
        for image_id, file in committed:
            data = self.thumbnails.pop(file.path, None)
            if data is not None and self.index_path is not None:
                store_thumbnail(self.index_path, image_id, file.size, file.mtime_ns, data)

    def make_missing_thumbnails(self, catalog: Catalog, workers: int) -> int:
        """Makes the thumbnails that remote images indexed earlier lack, fetching those originals once; returns
        how many it made. A run killed between committing a batch and storing its thumbnails leaves such gaps;
        a missing original is left for the next scan to remove."""
        if self.index_path is None:
            return 0
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


def _decode_or_reason(source: str | bytes, preprocess: PreprocessSpec, name: str = "") -> DecodedImage | str:
    """Decodes one file (a path, or bytes read from `name`), or says why it cannot be used: one file never
    stops the run."""
    try:
        return decode_bytes(source, preprocess) if isinstance(source, bytes) else decode_image(source, preprocess)
    except DecodeError as error:
        return str(error)
    except Exception as error:  # whatever a crafted file makes a decoder raise
        # Logged with its traceback, since a bug in decode would land here too.
        log.warning("unexpected error decoding %s", name or source, exc_info=error)
        detail = " ".join(str(error).split())
        return f"cannot be decoded ({type(error).__name__}{': ' + detail if detail else ''})"
