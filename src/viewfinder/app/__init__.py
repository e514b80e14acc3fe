"""The application layer: `Index`, the one owner of an index, and what every front asks of it.

The CLI, the HTTP service, the Lambda handler, the watcher and the public Python API parse their input, call
this layer and render its typed records (`app.records`); none of them assembles an index from its parts.
"""

from viewfinder.app.index import Index
from viewfinder.app.live import LiveIndex
from viewfinder.app.query import Filters, Query, Rerank, Term

__all__ = ["Filters", "Index", "LiveIndex", "Query", "Rerank", "Term"]
