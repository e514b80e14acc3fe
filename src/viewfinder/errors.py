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
