"""What every image source provides: entries with a stable key, a size and a version stamp, their bytes,
whether the source is there, and how an indexed original is given to a client.

A source is a place images come from (a local folder, an S3 prefix). The pipeline lists a source's entries,
compares their size and version stamp with the catalog to find what changed, and reads the bytes of the ones
it embeds. The service asks the source of an indexed image how to give its original: a local file opened
safely, or a redirect to a presigned URL, so no other layer tells a folder from a bucket by its location.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, ClassVar, Protocol

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
    # The version as the source itself names it, for reading exactly the entry listed (an object's ETag; the
    # stamp above is its hash); "" where the source names none (a folder: a file is read as it is).
    version: str = ""


@dataclass(frozen=True)
class Unusable:
    """A path that looks like an image but cannot be read at all."""

    path: str
    root: str
    reason: str


class Indexed(Protocol):
    """What the catalog recorded about an entry (the catalog's ImageRecord is one): enough to tell whether the
    entry is still the one indexed."""

    @property
    def path(self) -> str: ...

    @property
    def root(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def mtime_ns(self) -> int: ...

    @property
    def inode(self) -> int | None: ...


class OriginalChangedError(Exception):
    """The indexed entry is gone or is no longer the one that was indexed; str(e) says how."""


@dataclass(frozen=True)
class LocalFile:
    """An original given as a file on this machine, already opened and checked: send these bytes, not
    whatever is at `path` by the time the body is sent. The receiver closes `handle`."""

    handle: BinaryIO
    path: str


@dataclass(frozen=True)
class Redirect:
    """An original given as a URL the client fetches itself (a presigned GET), valid for `ttl_seconds`."""

    url: str
    ttl_seconds: int


class Source(abc.ABC):
    """A place images come from."""

    root: str  # the location the user named, normalised, as recorded in the catalog
    # Whether entries are fetched over the network (object storage): they are read through open() and decoded
    # from memory, their thumbnails made at index time, their content named by the listing's version stamp,
    # and no file-system events announce changes to them. A local source's entries are files read by path.
    remote: ClassVar[bool] = False

    @abc.abstractmethod
    def __init__(self, location: str) -> None:
        """The source a location names, made without asking it anything (no I/O, no request)."""

    @classmethod
    @abc.abstractmethod
    def claims(cls, location: str) -> bool:
        """Whether a location (a source root or an entry key) has this kind of source's form."""

    @abc.abstractmethod
    def scan(self, exclude: str | None = None) -> Iterator[SourceFile | Unusable]:
        """Every image entry under the root, in a stable order; `exclude` is a location to leave out."""

    @abc.abstractmethod
    def open(self, key: str, version: str = "") -> BinaryIO:
        """The bytes of an entry a scan listed, by its key; with the `version` the scan listed (SourceFile.version),
        only while the entry is still that version: OriginalChangedError when it was replaced since."""

    @abc.abstractmethod
    def check(self) -> None:
        """Raises ViewfinderError saying why the source cannot be indexed now (it may cost a request)."""

    @abc.abstractmethod
    def available(self) -> bool:
        """Whether the source is there, as far as can be told without a network request: a folder exists (its
        disk is mounted); object storage is taken as there, its requests say otherwise when they fail."""

    @abc.abstractmethod
    def key_prefix(self) -> str:
        """What the key of every entry under this source starts with: its root and a separator."""

    def contains(self, location: str) -> bool:
        """Whether a location (an entry key or another source's root) lies under this source's root."""
        return self.claims(location) and str(location).startswith(self.key_prefix())

    @abc.abstractmethod
    def still_there(self, key: str) -> bool:
        """Whether an indexed entry is still there, as far as can be told without a network request (what a
        search asks per hit)."""

    @abc.abstractmethod
    def gone(self, keys: Iterable[str]) -> set[str]:
        """Of these indexed keys, those no longer there, asked thoroughly (a listing for object storage);
        ViewfinderError when the source cannot be read at all."""

    @abc.abstractmethod
    def open_indexed(self, entry: Indexed) -> BinaryIO:
        """The bytes of an indexed entry, only while it is still the entry indexed; OriginalChangedError."""

    @abc.abstractmethod
    def original(self, entry: Indexed, ttl_seconds: int) -> LocalFile | Redirect:
        """How the original of an indexed entry is given to a client: a checked local file, or a redirect
        valid for `ttl_seconds`; OriginalChangedError when it cannot be given."""
