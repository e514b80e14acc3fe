"""Near-duplicate groups: bursts, resized or recompressed copies, light edits and crops of one photo.

Each stored vector is searched against the vector store for its nearest neighbours (`VectorStore.near`: k-NN,
never all pairs; any store),
pairs at or above the similarity threshold are joined with union-find, and the connected groups returned.
Byte-identical copies (same content hash) are grouped as well, whatever their similarity.

Each group names the copy to keep (`suggest_keep`): the one with the most pixels, then the most camera data
(EXIF fields), then the largest file, then the oldest, then the first path, so the same group always gets the
same suggestion; the others' bytes are what resolving the group frees.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from viewfinder.errors import BadQueryError
from viewfinder.images.decode import exif_field_count
from viewfinder.store.catalog import Catalog
from viewfinder.store.catalog_rows import ImageRecord
from viewfinder.store.vector_store import VectorStore

# Chosen by a stated rule on the demo library with the demo model (scripts/duplicates_threshold.py; the method
# and figures are in BENCHMARKS.md, "Duplicates threshold"); not measured with CLIP.
DEFAULT_THRESHOLD = 0.98
# "Similar shots": crops and brightened copies are found nine times in ten at 0.96, where pictures of like
# content are joined too, for a person to sort (BENCHMARKS.md, "Duplicates threshold").
SIMILAR_THRESHOLD = 0.96
Kind = Literal["exact", "near", "similar"]
# The thresholds in words: exact copies (the same bytes: no threshold), near-identical, similar shots.
KINDS: dict[str, float | None] = {"exact": None, "near": DEFAULT_THRESHOLD, "similar": SIMILAR_THRESHOLD}
NEIGHBOURS = 16  # a group larger than this still joins up: members link through each other
MAX_GROUPS = 1000


@dataclass(frozen=True)
class DuplicateGroup:
    """Images that look like one photo; `similarity` is the weakest link that joined the group."""

    images: list[ImageRecord]
    similarity: float
    exact: bool  # every member has the same bytes
    keep: ImageRecord  # the suggested copy to keep (suggest_keep)

    @property
    def others(self) -> list[ImageRecord]:
        """The members but the suggested one: those resolving the group moves away."""
        return [image for image in self.images if image.id != self.keep.id]

    @property
    def recoverable_bytes(self) -> int:
        return sum(image.size for image in self.others)


def threshold_of(kind: Kind) -> float | None:
    """The threshold of a kind of duplicate; None for exact copies (the same bytes, whatever the similarity)."""
    if kind not in KINDS:
        raise BadQueryError(f"Unknown kind of duplicates {kind!r}; choose one of {', '.join(KINDS)}.")
    return KINDS[kind]


def suggest_keep(images: list[ImageRecord]) -> ImageRecord:
    """The copy to keep: most pixels, then most EXIF fields, then largest file, then oldest, then first path.

    EXIF is read (headers only) for the members tied on pixels, of local files only: an object store's copies
    tie on it.
    """
    most = max(image.width * image.height for image in images)
    tied = [image for image in images if image.width * image.height == most]

    def camera_data(image: ImageRecord) -> int:
        return exif_field_count(image.path) if len(tied) > 1 and os.path.isfile(image.path) else 0

    return min(tied, key=lambda image: (-camera_data(image), -image.size, image.mtime_ns, image.path))


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.weakest: dict[int, float] = {}

    def find(self, item: int) -> int:
        root = self.parent.setdefault(item, item)
        while root != self.parent[root]:
            self.parent[root] = self.parent[self.parent[root]]  # path halving keeps the trees flat
            root = self.parent[root]
        return root

    def union(self, a: int, b: int, similarity: float) -> None:
        ra, rb = self.find(a), self.find(b)
        weakest = min(similarity, self.weakest.get(ra, 1.0), self.weakest.get(rb, 1.0))
        if ra != rb:
            self.parent[rb] = ra
        self.weakest[ra] = weakest


def find_duplicates(
    catalog: Catalog, vectors: VectorStore, dim: int, threshold: float = DEFAULT_THRESHOLD
) -> list[DuplicateGroup]:
    """Groups of near-identical images (largest first), found by k-NN search per stored vector."""
    if not 0.0 < threshold <= 1.0:
        raise BadQueryError("threshold must be above 0 and at most 1.")
    groups = _UnionFind()
    for ids, chunk in catalog.vectors(dim, chunk=2048):
        scores, found = vectors.near(chunk, NEIGHBOURS + 1)
        for own, row_scores, row_ids in zip(ids, scores, found, strict=True):
            for score, other in zip(row_scores, row_ids, strict=True):
                if other >= 0 and other != own and score >= threshold:
                    groups.union(int(own), int(other), float(score))
    for copies in catalog.exact_copies():
        for image in copies[1:]:
            groups.union(copies[0].id, image.id, 1.0)
    members: dict[int, list[int]] = {}
    for item in list(groups.parent):
        members.setdefault(groups.find(item), []).append(item)
    return _records(catalog, [(ids, groups.weakest.get(root, 1.0)) for root, ids in members.items() if len(ids) > 1])


def exact_groups(catalog: Catalog) -> list[DuplicateGroup]:
    """Groups of byte-identical copies only (same content hash)."""
    return [DuplicateGroup(images, 1.0, True, suggest_keep(images)) for images in catalog.exact_copies()]


def _records(catalog: Catalog, found: Iterable[tuple[list[int], float]]) -> list[DuplicateGroup]:
    found = sorted(found, key=lambda group: (-len(group[0]), -group[1]))[:MAX_GROUPS]
    records = catalog.images([i for ids, _ in found for i in ids])
    hashes = catalog.content_hashes([i for ids, _ in found for i in ids])
    result = []
    for ids, similarity in found:
        images = sorted((records[i] for i in ids if i in records), key=lambda image: image.path)
        if len(images) < 2:  # rows moved out of the catalog while the vector store still had them
            continue
        exact = len({hashes.get(image.id) for image in images}) == 1 and hashes.get(images[0].id) is not None
        result.append(DuplicateGroup(images, round(similarity, 6), exact, suggest_keep(images)))
    return result
