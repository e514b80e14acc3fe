"""Local folders as a source: walks them safely and reports what it finds, with a reason for what it can't use.

Symbolic links are followed where they lead inside the source folder; a link that leads out of it (a linked
file or a linked folder alike) is reported, not indexed, and an original whose real path has come to lead out
of it is not served (sources/originals.py): one rule for both. A folder elsewhere is indexed as a source of
its own.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from viewfinder.errors import ViewfinderError
from viewfinder.sources.base import IMAGE_SUFFIXES, Indexed, LocalFile, Source, SourceFile, Unusable
from viewfinder.sources.originals import open_checked, within

OUT_OF_SOURCE = "symbolic link leading out of the source folder (index its target as a source of its own)"


class FolderSource(Source):
    """A folder tree of images; links inside it are followed, loops, dangling links and links out reported."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.abspath(os.path.expanduser(root))

    @classmethod
    def claims(cls, location: str) -> bool:
        return True  # a folder is what any location that names no other kind of source is taken to be

    def check(self) -> None:
        if not os.path.isdir(self.root):
            raise ViewfinderError(f"Source folder {self.root} does not exist or is not a folder.")

    def available(self) -> bool:
        return os.path.isdir(self.root)

    def key_prefix(self) -> str:
        return self.root.rstrip(os.sep) + os.sep

    def contains(self, location: str) -> bool:
        if "://" in location:  # a URL names another kind of source, never a path under this folder
            return False
        return os.path.abspath(os.path.expanduser(location)).startswith(self.key_prefix())

    def still_there(self, key: str) -> bool:
        return os.path.exists(key)

    def gone(self, keys: Iterable[str]) -> set[str]:
        return {key for key in keys if not os.path.exists(key)}

    def open(self, key: str, version: str = "") -> BinaryIO:
        """Opens the file a scan listed as `key` (its path) for reading (a folder's listing names no version)."""
        return open(key, "rb")

    def open_indexed(self, entry: Indexed) -> BinaryIO:
        return open_checked(entry)

    def original(self, entry: Indexed, ttl_seconds: int) -> LocalFile:
        return LocalFile(open_checked(entry), entry.path)

    def scan(self, exclude: str | None = None) -> Iterator[SourceFile | Unusable]:
        """Yields every image-named file under the root, in sorted order, skipping hidden folders and `exclude`."""
        try:
            # By identity, not by name: through a linked folder the index has another path than the one given.
            info = os.stat(exclude) if exclude else None
        except OSError:  # not there, so nothing to leave out
            info = None
        excluded = (info.st_dev, info.st_ino) if info else None
        yield from self._walk(self.root, os.path.realpath(self.root), visited=set(), exclude=excluded)

    def _walk(
        self, folder: str, real_root: str, visited: set[tuple[int, int]], exclude: tuple[int, int] | None
    ) -> Iterator[SourceFile | Unusable]:
        try:
            info = os.stat(folder)
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as error:
            yield Unusable(folder, self.root, _reason(error, "folder"))
            return
        if (info.st_dev, info.st_ino) == exclude:
            return
        if (info.st_dev, info.st_ino) in visited:
            yield Unusable(folder, self.root, "symbolic link loop (folder already visited)")
            return
        visited = visited | {(info.st_dev, info.st_ino)}
        for entry in entries:
            if entry.name.startswith("."):
                continue
            is_image_name = Path(entry.name).suffix.lower() in IMAGE_SUFFIXES
            if _undecodable(entry.name):  # the catalog (and JSON) hold text: such a path cannot be recorded as is
                if is_image_name or entry.is_dir():
                    what = "folder" if entry.is_dir() else "file"
                    reason = f"{what} name is not valid UTF-8; rename the {what} to index it"
                    yield Unusable(_printable(entry.path), self.root, reason)
                continue
            if entry.is_symlink() and not within(os.path.realpath(entry.path), real_root):
                if is_image_name or entry.is_dir():
                    yield Unusable(entry.path, self.root, OUT_OF_SOURCE)
                continue
            try:
                is_dir = entry.is_dir()
                if not is_dir and is_image_name:
                    stat = entry.stat()
            except OSError as error:
                if is_image_name or entry.is_symlink():
                    yield Unusable(entry.path, self.root, _reason(error, "file"))
                continue
            if is_dir:
                yield from self._walk(entry.path, real_root, visited, exclude)
            elif is_image_name:
                if not entry.is_file():
                    yield Unusable(entry.path, self.root, "not a regular file")
                    continue
                yield SourceFile(entry.path, self.root, stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns)
            elif entry.is_symlink() and not os.path.exists(entry.path):
                yield Unusable(entry.path, self.root, "dangling symbolic link")


def _undecodable(name: str) -> bool:
    """Whether a name holds bytes the file system encoding could not decode (Python keeps them as surrogates)."""
    return _printable(name) != name


def _printable(path: str) -> str:
    """The path with each undecodable byte shown as U+FFFD."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _reason(error: OSError, what: str) -> str:
    if error.errno == errno.ELOOP:
        return "symbolic link loop"
    if error.errno == errno.ENOENT:
        return "dangling symbolic link" if what == "file" else "folder does not exist"
    if error.errno == errno.EACCES:
        return "permission denied"
    return f"cannot read {what}: {error.strerror or error}"
