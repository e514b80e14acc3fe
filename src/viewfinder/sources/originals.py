"""Opening an indexed file for serving: only the regular file that was indexed, inside its source folder.

Whoever can write to the library can replace an indexed file after indexing: by a symbolic link to a secret
(/etc/passwd served as a photo), or by a FIFO, whose open() blocks a server thread forever. So the file type
is checked before opening, the final path component is opened without following links, and the opened file
must still have the size, modification time and inode the catalog recorded.

Links inside a library are followed; where the real path leads out of the source folder (through a linked
file or a linked folder alike) the file is not given: the scan does not index such a file either.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from viewfinder.sources.base import Indexed, OriginalChangedError

# O_NONBLOCK: should a FIFO appear between the type check and the open, the open returns at once.
_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
OUT_OF_FOLDER = "a symbolic link out of its folder"


def within(real_path: str, real_root: str) -> bool:
    """Whether a resolved path lies inside a resolved folder (or is that folder)."""
    return os.path.commonpath((real_path, real_root)) == real_root


def open_checked(entry: Indexed) -> BinaryIO:
    """The indexed file, opened for reading, while it is still the file indexed; raises OriginalChangedError."""
    path = _target(entry)
    try:
        descriptor = os.open(path, _FLAGS)
    except OSError as error:
        raise OriginalChangedError(_reason(error)) from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise OriginalChangedError("not a regular file")
        if (info.st_size, info.st_mtime_ns) != (entry.size, entry.mtime_ns) or entry.inode not in (None, info.st_ino):
            raise OriginalChangedError("changed since it was indexed")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _target(entry: Indexed) -> str:
    """The real path to open: where the indexed path leads, when that stays inside the source folder."""
    path = os.path.realpath(entry.path)
    if not within(path, os.path.realpath(entry.root)):
        raise OriginalChangedError(OUT_OF_FOLDER)
    try:
        info = os.lstat(path)
    except OSError as error:
        raise OriginalChangedError(_reason(error)) from None
    if not stat.S_ISREG(info.st_mode):
        raise OriginalChangedError("not a regular file")
    return path


def _reason(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "no longer there"
    if isinstance(error, PermissionError):
        return "not readable (permission denied)"
    return f"cannot be opened ({error.strerror or error})"
