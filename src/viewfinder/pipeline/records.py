"""The records that travel through the indexing pipeline, from the change plan to the catalog commit.

A `PlannedFile` is what the plan asks to embed (or to check by content hash); decoding it gives a `Decoded`
or a `Reason`; an `EmbeddedBatch` is what either engine (local threads or Ray actors) hands back for one
commit: `NewImage` rows (the catalog's input) and `Skip` rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from viewfinder.images.decode import DecodedImage
from viewfinder.sources import SourceFile
from viewfinder.store.catalog_rows import FileState, NewImage


@dataclass(frozen=True)
class PlannedFile:
    """A file the plan found new or changed, with the catalog's state of its path (None for a new path) and,
    once hashed, its content hash."""

    file: SourceFile
    known: FileState | None = None
    content_hash: str | None = None

    @property
    def replaces(self) -> int | None:
        """The id of the indexed image this file replaces, if any."""
        return None if self.known is None else self.known.id


@dataclass(frozen=True)
class Reason:
    """Why an entry cannot be indexed. `retry`: it could not be read at all (gone for a moment, not permitted),
    so the next run tries it again; otherwise it was read and is no usable image until the file changes."""

    text: str
    retry: bool = False


@dataclass(frozen=True)
class Skip:
    """A file left out of the index, as the catalog records it: with the size and version stamp it failed at,
    which keep it skipped while they hold, or without them (None), so that the next run tries it again."""

    path: str
    root: str
    reason: str
    size: int | None = None
    mtime_ns: int | None = None

    @classmethod
    def of(cls, file: SourceFile, why: Reason) -> Skip:
        if why.retry:
            return cls(file.path, file.root, why.text)
        return cls(file.path, file.root, why.text, file.size, file.mtime_ns)

    def row(self) -> tuple[str, str, int | None, int | None, str]:
        """The catalog's skipped row."""
        return (self.path, self.root, self.size, self.mtime_ns, self.reason)

    def report(self) -> dict[str, str]:
        """The index report's entry (the contract's --json shape)."""
        return {"path": self.path, "reason": self.reason}


# eq=False: the pixels are a numpy array, which the generated __eq__ cannot compare.
@dataclass(frozen=True, eq=False)
class Decoded:
    """An entry decoded for the model, with the thumbnail (and for a format browsers cannot show, the display
    rendition) made from its fetched bytes when it was read through its source (object storage), so that the
    service never fetches the original for the result grid or the detail view."""

    image: DecodedImage
    thumbnail: bytes | None = None
    rendition: bytes | None = None


@dataclass(eq=False)
class EmbeddedBatch:
    """One batch an engine finished: images to commit, their thumbnails and renditions by path, and the files
    skipped."""

    images: list[NewImage] = field(default_factory=list)
    thumbnails: dict[str, bytes] = field(default_factory=dict)
    renditions: dict[str, bytes] = field(default_factory=dict)
    skips: list[Skip] = field(default_factory=list)


def new_image(
    planned: PlannedFile,
    vector: np.ndarray,
    width: int,
    height: int,
    format: str,
    taken_at: str | None,
    gps: tuple[float, float] | None = None,
) -> NewImage:
    """The catalog row of a planned file: its file facts, what decoding found, and its vector."""
    file = planned.file
    return NewImage(
        path=file.path,
        root=file.root,
        size=file.size,
        mtime_ns=file.mtime_ns,
        width=width,
        height=height,
        format=format,
        taken_at=taken_at,
        latitude=gps[0] if gps else None,
        longitude=gps[1] if gps else None,
        vector=np.asarray(vector, np.float32),
        id=planned.replaces,
        content_hash=planned.content_hash,
        inode=file.inode,
        ctime_ns=file.ctime_ns,
    )
