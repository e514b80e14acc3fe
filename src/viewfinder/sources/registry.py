"""The registry of source kinds: which implementation a location's form names (a folder, or s3://bucket/prefix)."""

from __future__ import annotations

from viewfinder.sources.base import Source
from viewfinder.sources.local import FolderSource
from viewfinder.sources.s3 import S3Source, is_s3

# Asked in order; the first kind that claims a location makes its source. A folder claims whatever is left.
KINDS: tuple[type[Source], ...] = (S3Source, FolderSource)


def source_class(location: str) -> type[Source]:
    """The kind of source a location (a source root or an entry key) has the form of; no I/O."""
    return next(kind for kind in KINDS if kind.claims(str(location)))


def source_for(location: str) -> Source:
    """The source a recorded root names, made without asking it anything (no I/O, no request)."""
    return source_class(location)(str(location))


def open_source(location: str) -> Source:
    """The source a user-given location names (a folder, or s3://bucket/prefix), checked to be readable now;
    raises ViewfinderError when it cannot be one."""
    source = source_for(location)
    source.check()
    return source


def is_remote(location: str) -> bool:
    """Whether a source location or entry key lives in a remote store (read over the network) rather than on
    this machine; no I/O."""
    return source_class(location).remote


def is_object_store_url(location: str) -> bool:
    """Whether an index location (`--index`, VIEWFINDER_INDEX) names published snapshots in object storage
    rather than a local index directory: it must stay a URL (a Path would fold its '//')."""
    return is_s3(location)
