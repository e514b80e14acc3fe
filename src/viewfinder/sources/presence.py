"""Whether indexed entries are still there, each source asked once: what a search needs per query.

With a source unplugged (its rows kept, as documented), checking each hit's path one by one makes a search
stat the whole index and return nothing. A Presence asks each source root once whether it is there and
answers for the rows under an absent one without a file-system call; it is made per query (a disk may be
plugged back in between two queries) and is not shared between threads.
"""

from __future__ import annotations

from collections.abc import Iterable

from viewfinder.sources.base import Source
from viewfinder.sources.registry import source_for


class Presence:
    """Source availability, asked once per root for the life of this object (one query)."""

    def __init__(self) -> None:
        self._known: dict[str, Source | None] = {}  # by root: its source while there, None when absent

    def _present(self, root: str) -> Source | None:
        try:
            return self._known[root]
        except KeyError:
            source = source_for(root)
            present = self._known[root] = source if source.available() else None
            return present

    def available(self, root: str) -> bool:
        """Whether the source recorded as `root` is there (asked once)."""
        return self._present(root) is not None

    def absent(self, roots: Iterable[str]) -> list[str]:
        """The roots, among these, whose source is not there: the rows under them can be left out whole."""
        return [root for root in roots if self._present(root) is None]

    def still_there(self, path: str, root: str) -> bool:
        """Whether an indexed entry is still there: never under an absent source (no call made), else as
        cheaply as its source can tell (a stat for a file, taken as there for an object)."""
        source = self._present(root)
        return source is not None and source.still_there(path)
