"""The catalog's rows as Python values: an indexed image, what is remembered of a path, an image to write and
new file facts for one whose content did not change; and an image's folder relative to its source root."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class ImageRecord:
    """An indexed image as the catalog knows it."""

    id: int
    path: str
    root: str
    size: int
    mtime_ns: int
    width: int
    height: int
    format: str
    taken_at: str | None
    indexed_at: float
    inode: int | None = None  # None for rows indexed before inodes were recorded
    latitude: float | None = None  # where it was taken (EXIF GPS), in degrees; None when unknown
    longitude: float | None = None

    @property
    def file_name(self) -> str:
        return os.path.basename(self.path)

    @property
    def folder(self) -> str:
        """The image's folder relative to its source root ('' at the root), so absolute paths stay private."""
        return relative_folder(self.path, self.root)


@dataclass(frozen=True)
class FileState:
    """What the catalog remembers of a path, to tell whether it changed."""

    size: int
    mtime_ns: int
    id: int | None = None  # set for indexed images
    reason: str | None = None  # set for skipped files
    inode: int = 0  # -1 when not recorded yet (a catalog from before version 2)
    ctime_ns: int = 0
    content_hash: str | None = None


@dataclass(frozen=True)
class NewImage:
    """An embedded image ready to be written; `id` is set when it replaces an indexed one."""

    path: str
    root: str
    size: int
    mtime_ns: int
    width: int
    height: int
    format: str
    taken_at: str | None
    vector: np.ndarray
    id: int | None = None
    content_hash: str | None = None
    inode: int | None = None
    ctime_ns: int | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Restat:
    """New file facts for an indexed image whose content did not change (touched, copied back, upgraded)."""

    id: int
    size: int
    mtime_ns: int
    inode: int
    ctime_ns: int
    content_hash: str


def relative_folder(path: str, root: str) -> str:
    """The folder of `path` relative to `root`, with '/' separators ('' for the root itself)."""
    return _relative_directory(os.path.dirname(path), root)


@lru_cache(maxsize=4096)
def _relative_directory(directory: str, root: str) -> str:
    # Cached: an answer names the folder of each of its 50 images, mostly the same few, and relpath costs
    # 4-12 us a call (0.2-0.8 ms an answer).
    folder = os.path.relpath(directory, root)
    return "" if folder == "." else folder.replace(os.sep, "/")
