"""Viewfinder: self-hosted semantic image search, as a library.

    import viewfinder

    viewfinder.index_folders(["~/Pictures"], "my-index", model="ViT-B-32:openai")
    with viewfinder.open_index("my-index") as index:
        for hit in index.search([viewfinder.Term(text="sunset over the sea")], k=10).hits:
            print(hit.rank, hit.similarity, hit.image.path)

The command line and the HTTP service are thin fronts over these same calls. Names are imported on first
use, so `import viewfinder` (and `viewfinder --help`) stays fast and needs none of the model libraries.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from viewfinder.errors import BadQueryError, IndexMismatchError, ModelUnavailableError, ViewfinderError
from viewfinder.version import __version__

__all__ = [
    "Answer",
    "BadQueryError",
    "Filters",
    "Hit",
    "Index",
    "IndexMismatchError",
    "IndexReport",
    "ModelUnavailableError",
    "Query",
    "Rerank",
    "SearchEngine",
    "SearchResult",
    "Term",
    "UpgradeReport",
    "ViewfinderError",
    "__version__",
    "abort_upgrade",
    "index_folders",
    "open_index",
    "rollback_model",
    "upgrade_index",
]

# Where each lazily imported public name lives. SearchEngine and SearchResult are the names `Index` and
# `Answer` had before the application layer; they stay for code written against them.
_LAZY = {
    "Answer": ("viewfinder.app.records", "Answer"),
    "Filters": ("viewfinder.app.query", "Filters"),
    "Hit": ("viewfinder.app.records", "Hit"),
    "Index": ("viewfinder.app.index", "Index"),
    "IndexReport": ("viewfinder.app.records", "IndexReport"),
    "Query": ("viewfinder.app.query", "Query"),
    "Rerank": ("viewfinder.app.query", "Rerank"),
    "SearchEngine": ("viewfinder.app.index", "Index"),
    "SearchResult": ("viewfinder.app.records", "Answer"),
    "Term": ("viewfinder.app.query", "Term"),
    "UpgradeReport": ("viewfinder.app.upgrade", "UpgradeReport"),
}

if TYPE_CHECKING:
    from viewfinder.app.index import Index
    from viewfinder.app.query import Filters, Query, Rerank, Term
    from viewfinder.app.records import Answer, Hit, IndexReport
    from viewfinder.app.upgrade import UpgradeReport


def __getattr__(name: str) -> object:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        return getattr(import_module(module), attribute)
    raise AttributeError(f"module 'viewfinder' has no attribute {name!r}")


def open_index(path: str, device: str = "auto", runtime: str = "auto", query_model: str | None = None) -> Index:
    """Opens an index directory for searching; close it (or use it in a `with` block) when done.

    The `Index` answers exactly as the CLI and the HTTP API do (relevance, rerank, filters). `query_model`
    encodes text queries with a multilingual model aligned to the index's model (README, "Multilingual
    search"); an index built with another model is refused (IndexMismatchError).
    """
    from viewfinder.app.index import Index

    return Index(path, device, runtime, query_model)


def index_folders(
    sources: list[str],
    index: str,
    model: str | None = None,
    device: str = "auto",
    runtime: str = "auto",
    engine: str = "local",
    store: str | None = None,
    ocr: bool = False,
) -> IndexReport:
    """Brings an index up to date with its sources (folders or s3:// prefixes), creating it with `model` when new.

    `engine` is "local" or "ray" (Ray Data, on the cluster `ray.init` finds); `store` picks the vector store of
    a new index: "faiss" (the default) or "milvus[:URI]". `ocr` also reads the words in the photos (the [ocr]
    extra), in this run and every later one, so that a quoted phrase in a search finds them.
    """
    from pathlib import Path

    from viewfinder.app import library

    return library.update(Path(index), sources, model, device, runtime=runtime, engine=engine, store=store, ocr=ocr)


def upgrade_index(index: str, model: str, device: str = "auto", runtime: str = "auto") -> UpgradeReport:
    """Re-embeds an index with another `model` (any dimension) beside the live one, then swaps it in: servers
    of the index keep answering throughout and answer with the new model from the swap on. Resumes an
    interrupted upgrade to the same model without embedding anything twice; the replaced model is kept for
    `rollback_model`."""
    from pathlib import Path

    from viewfinder.app import upgrade

    return upgrade.upgrade(Path(index), model, device, runtime)


def rollback_model(index: str) -> str:
    """Brings back the model the last upgrade replaced; returns the model the index has now."""
    from pathlib import Path

    from viewfinder.app import upgrade

    return upgrade.rollback_model(Path(index))


def abort_upgrade(index: str) -> str:
    """Drops a half-built upgrade of the index; returns the model it was for."""
    from pathlib import Path

    from viewfinder.app import upgrade

    return upgrade.abort_upgrade(Path(index))
