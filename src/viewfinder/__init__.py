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
    "BadQueryError",
    "Filters",
    "Hit",
    "IndexMismatchError",
    "IndexReport",
    "ModelUnavailableError",
    "SearchEngine",
    "SearchResult",
    "Term",
    "ViewfinderError",
    "__version__",
    "index_folders",
    "open_index",
]

# Where each lazily imported public name lives.
_LAZY = {
    "Filters": "viewfinder.store.filters",
    "Hit": "viewfinder.search.engine",
    "SearchEngine": "viewfinder.search.engine",
    "SearchResult": "viewfinder.search.engine",
    "Term": "viewfinder.search.query",
    "IndexReport": "viewfinder.pipeline.indexer",
}

if TYPE_CHECKING:
    from viewfinder.pipeline.indexer import IndexReport
    from viewfinder.search.engine import Filters, Hit, SearchEngine, SearchResult
    from viewfinder.search.query import Term


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'viewfinder' has no attribute {name!r}")


def open_index(path: str, device: str = "auto", runtime: str = "auto", query_model: str | None = None) -> SearchEngine:
    """Opens an index directory for searching; close it (or use it in a `with` block) when done.

    `query_model` encodes text queries with a multilingual model aligned to the index's model (README,
    "Multilingual search"); an index built with another model is refused (IndexMismatchError).
    """
    from viewfinder.search.engine import SearchEngine

    return SearchEngine.open(path, device, runtime, query_model)


def index_folders(
    sources: list[str],
    index: str,
    model: str | None = None,
    device: str = "auto",
    runtime: str = "auto",
    engine: str = "local",
    store: str | None = None,
) -> IndexReport:
    """Brings an index up to date with its sources (folders or s3:// prefixes), creating it with `model` when new.

    `engine` is "local" or "ray" (Ray Data, on the cluster `ray.init` finds); `store` picks the vector store of
    a new index: "faiss" (the default) or "milvus[:URI]".
    """
    from pathlib import Path

    from viewfinder.pipeline.indexer import run_index

    roots = [str(source) for source in sources]
    return run_index(Path(index).expanduser(), roots, model, device, runtime=runtime, engine=engine, store=store)
