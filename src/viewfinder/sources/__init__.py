"""Where images come from: the Source interface and the factory that picks an implementation by location."""

from __future__ import annotations

from pathlib import Path

from viewfinder.errors import ViewfinderError
from viewfinder.sources.base import IMAGE_SUFFIXES, Source, SourceFile, Unusable
from viewfinder.sources.local import FolderSource

__all__ = [
    "IMAGE_SUFFIXES",
    "FolderSource",
    "Source",
    "SourceFile",
    "Unusable",
    "is_remote",
    "open_source",
    "source_missing",
]


def is_remote(location: str) -> bool:
    """Whether a source location or entry key is a URL (object storage) rather than a local path."""
    return "://" in location


def source_missing(location: str) -> bool:
    """Whether a source the index was built from cannot be found now (an unmounted drive); an object store
    is taken as there, since asking costs a request."""
    return not is_remote(location) and not Path(location).is_dir()


def open_source(location: str) -> Source:
    """The source a user-given location names (a folder, or s3://bucket/prefix); raises ViewfinderError when it
    cannot be one."""
    if location.startswith("s3://"):
        from viewfinder.sources.s3 import S3Source

        source = S3Source(location)
        source.check()
        return source
    if not Path(location).expanduser().is_dir():
        raise ViewfinderError(f"Source folder {location} does not exist or is not a folder.")
    return FolderSource(location)
