"""Opening an indexed image's original file for serving: only the regular file that was indexed.

Whoever can write to the library can replace an indexed file after indexing: by a symbolic link to a secret
(/etc/passwd served as a photo), or by a FIFO, whose open() blocks a server thread forever. So the file type
is checked before opening, the final path component is opened without following links, and the opened file
must still have the size, modification time and inode the catalog recorded.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from viewfinder.store.catalog import ImageRecord

# O_NONBLOCK: should a FIFO appear between the type check and the open, the open returns at once.
_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class OriginalChangedError(Exception):
    """The indexed file is gone or is no longer the file that was indexed; str(e) says how."""


def open_original(image: ImageRecord) -> BinaryIO:
    """The original file of an indexed image, opened for reading; raises OriginalChangedError."""
    path = _target(image)
    try:
        descriptor = os.open(path, _FLAGS)
    except OSError as error:
        raise OriginalChangedError(_reason(error)) from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise OriginalChangedError("not a regular file")
        if (info.st_size, info.st_mtime_ns) != (image.size, image.mtime_ns) or image.inode not in (None, info.st_ino):
            raise OriginalChangedError("changed since it was indexed")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _target(image: ImageRecord) -> str:
    """The path to open: the indexed one, or where its symbolic link leads when that stays inside the root.

    Links are followed when indexing, so a library may hold linked photos; one leading out of the folder the
    image was indexed from is refused, since it may have replaced a photo to expose another file.
    """
    path = image.path
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            path, root = os.path.realpath(path), os.path.realpath(image.root)
            if os.path.commonpath((path, root)) != root:
                raise OriginalChangedError("a symbolic link out of its folder")
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
