"""What every image source provides: entries with a stable key, a size and a version stamp, and their bytes.

A source is a place images come from (a local folder today; object storage and watched folders plug in
here). The pipeline lists a source's entries, compares their size and version stamp with the catalog to
find what changed, and reads the bytes of the ones it embeds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

IMAGE_SUFFIXES = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".webp",
        ".gif",
        ".bmp",
        ".dib",
        ".tif",
        ".tiff",
        ".heic",
        ".heif",
        ".avif",
    }
)


@dataclass(frozen=True)
class SourceFile:
    """A candidate image entry and the facts that tell whether it changed since the last run."""

    path: str  # the stable key: for a folder, the absolute path as found under the root (links not resolved)
    root: str  # the source it was found under
    size: int
    mtime_ns: int  # the version stamp: for a folder, the modification time
    inode: int = 0  # with ctime_ns, tells a file replaced in place (same size and mtime) from an untouched one
    ctime_ns: int = 0


@dataclass(frozen=True)
class Unusable:
    """A path that looks like an image but cannot be read at all."""

    path: str
    root: str
    reason: str


class Source(Protocol):
    """A place images come from."""

    root: str  # the location the user named, as recorded in the catalog

    def scan(self, exclude: str | None = None) -> Iterator[SourceFile | Unusable]:
        """Every image entry under the root, in a stable order; `exclude` is a location to leave out."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The bytes of an entry a scan listed, by its key."""
        ...
