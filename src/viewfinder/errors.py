"""The project's own exception types, turned into exit codes and HTTP statuses at the edges."""


class ViewfinderError(Exception):
    """A problem the user can fix; the message is one sentence that names the fix."""


class ModelUnavailableError(ViewfinderError):
    """The model's weights cannot be loaded (not downloaded, unreachable hub, bad file)."""


class IndexMismatchError(ViewfinderError):
    """The index was built with another model, or its files are not a Viewfinder index."""


class BadQueryError(ViewfinderError):
    """A query that cannot be run: empty, unknown image id, bad weights."""


class UnknownImageError(BadQueryError):
    """An image id that names no indexed image (HTTP 404)."""


class ImageGoneError(UnknownImageError):
    """An indexed image whose file can no longer be read or is no longer the one indexed (HTTP 404)."""


class BusyError(ViewfinderError):
    """Work refused for the moment because the server is at one of its limits (HTTP 503); a retry may pass."""


class TooLargeError(ViewfinderError):
    """Work larger than this server takes at all, whatever else it is doing (HTTP 413)."""


def full_disk_cause(error: BaseException) -> BaseException | None:
    """The error in `error`'s chain (itself, its cause or context) that says a disk or quota is full, or None.

    A full disk reaches a command as an OSError (ENOSPC, EDQUOT), as SQLite's "database or disk is full", or as
    a FAISS RuntimeError quoting strerror(ENOSPC); it is the user's to fix wherever it happens.
    """
    import errno
    import os
    import sqlite3

    words = (os.strerror(errno.ENOSPC), os.strerror(errno.EDQUOT))
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, OSError) and link.errno in (errno.ENOSPC, errno.EDQUOT):
            return link
        if isinstance(link, sqlite3.OperationalError) and "database or disk is full" in str(link):
            return link
        if isinstance(link, RuntimeError) and any(word in str(link) for word in words):
            return link
        link = link.__cause__ or link.__context__
    return None
