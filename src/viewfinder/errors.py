"""The project's own exception types, turned into exit codes and HTTP statuses at the edges."""

from collections.abc import Iterator
from contextlib import contextmanager

# The top-level modules each optional extra (pyproject.toml [project.optional-dependencies]) installs, so a
# missing one is named by the extra that brings it; tests/test_extras.py holds the table to pyproject.toml.
# onnx, serve, watch and s3 install nothing now: their packages are dependencies of every install.
EXTRA_MODULES = {
    "torch": ("torch", "torchvision", "open_clip", "onnxscript"),
    "lambda": ("mangum",),
    "ray": ("ray",),
    "milvus": ("pymilvus", "milvus_lite"),
    "multilingual": ("transformers",),
    "ocr": ("rapidocr_onnxruntime",),
    "places": ("reverse_geocode",),
}
# The top-level modules of the packages every install has ([project] dependencies) that a command imports only
# when it needs them: missing, the install itself is broken.
CORE_MODULES = (
    "onnxruntime",
    "onnx",
    "ftfy",
    "regex",
    "tokenizers",
    "huggingface_hub",
    "fastapi",
    "uvicorn",
    "multipart",
    "watchdog",
    "boto3",
    "botocore",
)
CORE = "core"  # what MissingExtraError names for a module of CORE_MODULES


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


class MissingExtraError(ViewfinderError):
    """An optional library is not installed; the message names the extra that installs it (or, for a library
    every install has, says to reinstall)."""

    def __init__(self, extra: str, module: str, purpose: str = "This") -> None:
        self.extra, self.module = extra, module
        if extra == CORE:
            message = (
                f"{purpose} needs {module}, which every install of viewfinder has, and it is not installed here: "
                "pip install --force-reinstall viewfinder"
            )
        else:
            message = (
                f"{purpose} needs the [{extra}] extra ({module} is not installed): pip install 'viewfinder[{extra}]'"
            )
        super().__init__(message)


def extra_of(module: str) -> str | None:
    """The extra that installs `module` (a dotted name: its top-level package counts), CORE for a package every
    install has, or None."""
    top = module.partition(".")[0]
    if top in CORE_MODULES:
        return CORE
    return next((extra for extra, modules in EXTRA_MODULES.items() if top in modules), None)


def missing_extra(error: BaseException, purpose: str = "This") -> MissingExtraError | None:
    """The MissingExtraError for the first module of an extra found missing in `error`'s chain, or None."""
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, MissingExtraError):
            return link
        if isinstance(link, ModuleNotFoundError) and link.name:
            extra = extra_of(link.name)
            if extra is not None:
                return MissingExtraError(extra, link.name.partition(".")[0], purpose)
        link = link.__cause__ or link.__context__
    return None


@contextmanager
def needs_extra(purpose: str) -> Iterator[None]:
    """Imports inside that fail for a module of an extra raise MissingExtraError, naming `purpose` and the extra.

    with needs_extra("The Ray engine"):
        import ray
    """
    try:
        yield
    except ModuleNotFoundError as error:
        missing = missing_extra(error, purpose)
        if missing is None:
            raise
        raise missing from error


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
