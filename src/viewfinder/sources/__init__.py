"""Where images come from: the Source interface, and the registry that picks an implementation by the form of
a location (a folder, or s3://bucket/prefix). No other package tells one kind of location from another."""

from __future__ import annotations

from viewfinder.sources.base import (
    IMAGE_SUFFIXES,
    Indexed,
    LocalFile,
    OriginalChangedError,
    Redirect,
    Source,
    SourceFile,
    Unusable,
)
from viewfinder.sources.local import FolderSource
from viewfinder.sources.presence import Presence
from viewfinder.sources.registry import (
    KINDS,
    is_object_store_url,
    is_remote,
    open_source,
    source_class,
    source_for,
)
from viewfinder.sources.s3 import S3Source

__all__ = [
    "IMAGE_SUFFIXES",
    "KINDS",
    "FolderSource",
    "Indexed",
    "LocalFile",
    "OriginalChangedError",
    "Presence",
    "Redirect",
    "S3Source",
    "Source",
    "SourceFile",
    "Unusable",
    "is_object_store_url",
    "is_remote",
    "open_source",
    "source_class",
    "source_for",
]
