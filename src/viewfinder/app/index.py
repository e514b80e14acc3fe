"""`Index`: the one owner of an index. Every front (CLI, HTTP, Lambda, watcher, Python API) opens one and asks it.

An `Index` holds one generation of an index directory read-only: its manifest, catalog, vector store, the
models that encode queries and the relevance calibration. `LiveIndex` (app/live.py) swaps generations for a
server; the write side (indexing, removing, checking, publishing) is in app/library.py, which these methods
call with the index's own directory.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from viewfinder.app import library
from viewfinder.app.limits import OncePerKey, decode_budget, decoding_terms, original_cost
from viewfinder.app.originals import LocalFile, Redirect, open_original_of
from viewfinder.app.records import IndexInfo, SourceInfo
from viewfinder.errors import BadQueryError, ImageGoneError, UnknownImageError, ViewfinderError
from viewfinder.images.decode import DecodeError
from viewfinder.models.embedder import Embedder
from viewfinder.models.prompts import calibration_prompts
from viewfinder.models.registry import example_queries
from viewfinder.pipeline.indexer import IndexReport
from viewfinder.pipeline.maintenance import RemoveReport
from viewfinder.pipeline.review import ReviewReport, UndoReport
from viewfinder.search import engine, relevance
from viewfinder.search.duplicates import DEFAULT_THRESHOLD, DuplicateGroup, exact_groups, find_duplicates
from viewfinder.search.encoding import TermEncoder, parse_image_id
from viewfinder.search.query import DEFAULT_K, Query, Term
from viewfinder.search.ranking import Rerank
from viewfinder.search.results import Answer
from viewfinder.search.typed import read_line
from viewfinder.settings import Sort
from viewfinder.sources import OriginalChangedError, Presence, source_for
from viewfinder.store.catalog_rows import ImageRecord
from viewfinder.store.check import CheckReport
from viewfinder.store.filters import Filters
from viewfinder.store.indexdir import IndexDir, Manifest

if TYPE_CHECKING:
    import numpy as np
from viewfinder.store.overview import MAX_RECENT, Overview, overview
from viewfinder.store.staging import PREVIOUS, read_progress
from viewfinder.store.thumbnails import FOLDER as THUMBNAILS_FOLDER
from viewfinder.store.thumbnails import NOT_FOR_BROWSERS as NOT_FOR_BROWSERS
from viewfinder.store.thumbnails import (
    RENDITION_SIDE,
    THUMBNAIL_SIDE,
    Thumbnail,
    cached_thumbnail,
    etag_of,
    sized_folder,
    thumbnail,
)
from viewfinder.store.thumbnails import RENDITION_SIDES as RENDITION_SIDES
from viewfinder.store.thumbnails import RENDITIONS as RENDITIONS_FOLDER
from viewfinder.store.thumbnails import THUMBNAIL_SIDES as THUMBNAIL_SIDES
from viewfinder.store.words import words_of

# Thumbnails and renditions being made, in this process: concurrent requests for one share its decode.
_PICTURES_MADE = OncePerKey()
WARM_BATCH = 256  # catalog rows read at a time while making missing thumbnails


class Index:
    """One generation of an index, opened read-only; safe to share between threads."""

    def __init__(
        self,
        path: str | Path,
        device: str = "auto",
        runtime: str = "auto",
        query_model: str | None = None,
        *,
        embedder: Embedder | None = None,
        encoder: TermEncoder | None = None,
    ) -> None:
        """`query_model`: a text encoder aligned to the index's model that encodes text terms (README,
        "Multilingual search"). `encoder`: the one of an earlier generation, whose loaded models are shared."""
        self.index_dir = IndexDir(Path(path))
        self.manifest: Manifest = self.index_dir.read_manifest()
        if encoder is None:
            encoder = TermEncoder(
                self.manifest.model,
                self.manifest.identity,
                self.manifest.dim,
                device,
                runtime,
                query_model,
                self.index_dir.check_model,
                embedder,
            )
        else:
            encoder = encoder.for_index(
                self.manifest.model, self.manifest.identity, self.manifest.dim, self.index_dir.check_model
            )
        self.encoder = encoder
        # Taken before the catalog opens: if the index is replaced in between, the next check sees a change.
        self.identity = self.index_dir.identity(self.manifest)
        self.catalog = self.index_dir.open_catalog(readonly=True)
        self.vectors, self.vectors_rebuilt = self.index_dir.load_vectors(self.catalog, self.manifest.dim)
        self.generation = self.catalog.generation()
        self._calibration: relevance.Calibration | None = None
        self._calibration_lock = threading.Lock()
        self._source_counts: dict[str, int] | None = None
        self._source_counts_lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.index_dir.path

    @property
    def query_model(self) -> str | None:
        return self.encoder.query_model

    @property
    def embedder(self) -> Embedder:
        """The index's model, loaded on first use (searches by indexed image id never need it)."""
        return self.encoder.embedder

    def reopen(self) -> Index:
        """The index's current files as a new Index, sharing this one's loaded models and text cache."""
        return Index(self.index_dir.path, encoder=self.encoder)

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Reading

    def search(
        self,
        query: Query | Sequence[Term] | str,
        k: int = DEFAULT_K,
        filters: Filters | None = None,
        rerank: Rerank | None = None,
        min_relevance: float | None = None,
        sort: Sort = "relevance",
    ) -> Answer:
        """Ranks the index for a query (a `Query`, or a typed line as `search.typed` reads it, or terms, with the
        other arguments) and rates the hits; `sort="date"` gives the hits that pass the cut newest first, each
        keeping its relevance rank."""
        if isinstance(query, str):
            line = read_line(query)  # its dates narrow the date filters
            query, filters = line.terms, line.filters(filters)
        if not isinstance(query, Query):
            query = Query(tuple(query), k, filters, rerank, min_relevance, sort)
        # Each source is asked once per query whether it is there: an unplugged one costs no stat per row, and
        # the search knows at once how much of the index it can find.
        presence = Presence()
        counts = self._images_per_source()
        absent = set(presence.absent(counts))
        total = sum(counts.values())
        share = sum(n for root, n in counts.items() if root not in absent) / total if total else 1.0
        with decoding_terms(query.terms):  # an upload's decode waits for its memory (app/limits.py)
            return engine.run(
                query,
                self.encoder,
                self.catalog,
                self.vectors,
                self.calibration,
                lambda image: presence.still_there(image.path, image.root),
                share,
            )

    def _images_per_source(self) -> dict[str, int]:
        """The images of each source, counted once per generation (a search asks on every query)."""
        with self._source_counts_lock:
            if self._source_counts is None:
                self._source_counts = self.catalog.source_counts()
            return self._source_counts

    def warm(self) -> None:
        """Loads the text encoder and searches once, before a server reports ready (the first user query is
        then not the slow one)."""
        engine.warm(self.encoder, self.vectors)

    def calibration(self, prompt_vectors: np.ndarray | None = None) -> relevance.Calibration:
        """The index's relevance calibration, read from its directory or measured once for this generation;
        `prompt_vectors`, the text vectors of the model's calibration prompts when they are encoded already (a
        snapshot's server encodes them while the snapshot downloads)."""
        with self._calibration_lock:
            if self._calibration is None:
                self._calibration = relevance.calibrate(
                    self.index_dir,
                    self.encoder.text_identity,
                    calibration_prompts(self.manifest.model),
                    self.catalog.count(),
                    lambda size: self.catalog.sample_vectors(size, self.manifest.dim),
                    self.encoder.text_vectors if prompt_vectors is None else lambda texts: prompt_vectors,
                )
            return self._calibration

    def catalog_state(self) -> tuple[object, ...]:
        """What an answer depends on: this index, the generation loaded and the catalog's generation now (rows
        read live from the catalog change while a writer works, before the index is swapped)."""
        return self.identity, self.generation, self.catalog.generation()

    def image(self, image_id: str | int) -> ImageRecord:
        """The catalog row of an indexed image; UnknownImageError when there is none."""
        record = self.catalog.images([parse_image_id(image_id)]).get(parse_image_id(image_id))
        if record is None:
            raise UnknownImageError(f"No indexed image has id {image_id!r}.")
        return record

    def overview(self, folder: str | None = None, recent: int = 24) -> Overview:
        """The newest photos in `folder` (None: the whole library) and the folders inside it, for a home page."""
        if isinstance(recent, bool) or not 1 <= recent <= MAX_RECENT:
            raise BadQueryError(f"recent must be between 1 and {MAX_RECENT}.")
        return overview(self.catalog, folder, recent)

    def words(self, image_id: str | int) -> str | None:
        """The words read in an indexed image (`index --ocr`); None when none were read or it shows none."""
        return words_of(self.catalog.db, [self.image(image_id).id]).get(parse_image_id(image_id))

    def info(self) -> IndexInfo:
        """What the index holds: size, model, vector index, sources (missing ones flagged), folders, dates."""
        params = self.vectors.params
        return IndexInfo(
            index=str(self.index_dir.path.resolve()),
            images=self.catalog.count(),
            searchable=self.vectors.count,
            skipped=len(self.catalog.skipped()),
            model=self.manifest.model,
            dim=self.manifest.dim,
            index_type=params.kind,
            nlist=params.nlist,
            nprobe=params.nprobe,
            index_family=params.family,
            ef_search=params.ef_search,
            recall_at_50=params.recall_at_50,
            calibrated_on=params.calibrated_on,
            bytes_on_disk=self.index_dir.bytes_on_disk(),
            generation=self.generation,
            sources=[
                SourceInfo(root, count, not source_for(root).available())
                for root, count in self._images_per_source().items()
            ],
            folders=self.catalog.folders(),
            taken_range=self.catalog.taken_range(),
            example_queries=example_queries(self.manifest.model),
            query_model=self.query_model,
            upgrade=self.upgrade_status(),
            previous_model=self._previous_model(),
        )

    def upgrade_status(self) -> dict[str, Any] | None:
        """The progress of a model upgrade of this index (`viewfinder upgrade`), or None when none is staged."""
        return read_progress(self.index_dir.path)

    def _previous_model(self) -> str | None:
        kept = IndexDir(self.index_dir.path / PREVIOUS)
        try:
            return kept.read_manifest().model if kept.exists() else None
        except ViewfinderError:
            return None

    def duplicates(self, threshold: float | None = None, exact: bool = False) -> list[DuplicateGroup]:
        """Groups of near-identical photos at `threshold` (default 0.98), or only byte-identical copies."""
        if exact:
            return exact_groups(self.catalog)
        limit = DEFAULT_THRESHOLD if threshold is None else threshold
        return find_duplicates(self.catalog, self.vectors, self.manifest.dim, limit)

    def etag(self, image_id: str | int) -> str:
        """The validator of the image's thumbnail and rendition: it changes exactly when the indexed file does."""
        return etag_of(self.image(image_id))

    def thumbnail(self, image_id: str | int, side: int = THUMBNAIL_SIDE) -> Thumbnail:
        """The image's JPEG thumbnail (longest side at most `side`), made once and cached; ImageGoneError when
        its file cannot be read."""
        return self._sized(self.image(image_id), side, THUMBNAIL_SIDE, THUMBNAILS_FOLDER)

    def rendition(self, image_id: str | int, side: int = RENDITION_SIDE) -> Thumbnail:
        """A JPEG of the image for display on a screen (longest side at most `side`), made once and cached."""
        return self._sized(self.image(image_id), side, RENDITION_SIDE, RENDITIONS_FOLDER)

    def renders(self, image_id: str | int) -> bool:
        """Whether `rendition` can answer: False only for a photo in object storage that got no rendition at
        index time (a format browsers show), whose original is then the picture to show."""
        image = self.image(image_id)
        remote = source_for(image.root).remote
        return not remote or cached_thumbnail(self.index_dir.path, image, RENDITIONS_FOLDER) is not None

    def original(self, image_id: str | int, presign_ttl: int) -> LocalFile | Redirect:
        """How the original is given: the indexed file, opened and checked, or a presigned redirect."""
        return open_original_of(self.image(image_id), presign_ttl)

    def _sized(self, image: ImageRecord, side: int, default_side: int, folder: str) -> Thumbnail:
        """The picture of a size; an image in object storage has only the default size, made at index time
        (the service never fetches its original), so that one answers for every size."""
        if source_for(image.root).remote:
            side = default_side
        return self._picture(image, side, sized_folder(folder, side, default_side))

    def _picture(self, image: ImageRecord, side: int, folder: str) -> Thumbnail:
        """The cached picture, else one made once for every concurrent request of it, within the decode budget."""
        cached = cached_thumbnail(self.index_dir.path, image, folder)
        if cached is not None:
            return cached
        key = (str(self.index_dir.path), folder, image.id, image.size, image.mtime_ns)
        try:
            return _PICTURES_MADE.run(key, lambda: self._make_picture(image, side, folder))
        except (DecodeError, OriginalChangedError) as error:
            raise ImageGoneError(f"Image {image.id} can no longer be read ({error}); re-run indexing.") from None

    def warm_thumbnails(self, stop: threading.Event) -> int:
        """Makes the thumbnails that local photos lack, the last indexed first, until all are made or `stop` is
        set; returns how many it made. Photos in object storage have theirs from indexing. A server runs this in
        the background, so that the first search after indexing finds its thumbnails made."""
        made = 0
        ids = self.catalog.ids_matching()[::-1].tolist()
        for start in range(0, len(ids), WARM_BATCH):
            for image in self.catalog.images(ids[start : start + WARM_BATCH]).values():
                if stop.is_set():
                    return made
                if source_for(image.root).remote or cached_thumbnail(self.index_dir.path, image) is not None:
                    continue
                try:
                    self._picture(image, THUMBNAIL_SIDE, THUMBNAILS_FOLDER)
                    made += 1
                except ViewfinderError:  # gone or unreadable: its own request will say so
                    continue
        return made

    def _make_picture(self, image: ImageRecord, side: int, folder: str) -> Thumbnail:
        with decode_budget.reserve(original_cost(image), f"image {image.id}"):
            return thumbnail(self.index_dir.path, image, side, folder)

    # Writing (each a run over the index's directory; reopen, or let a LiveIndex swap, to see the result)

    def update(self, sources: Sequence[str] = ()) -> IndexReport:
        """Brings the index up to date with `sources` (default: those it was built from), with its own model."""
        roots = list(sources) or self.catalog.roots()
        return library.update(self.index_dir.path, roots, embedder=self.encoder.embedder)

    def remove(self, sources: Sequence[str]) -> RemoveReport:
        return library.remove(self.index_dir.path, sources)

    def check(self, repair: bool = False) -> CheckReport:
        return library.check(self.index_dir.path, repair)

    def resolve(self, keep: str | int, images: Sequence[str | int], review_folder: Path) -> ReviewReport:
        """Keeps one image of a group and moves the others' files to `review_folder` (library.move_to_review)."""
        kept, members = parse_image_id(keep), [parse_image_id(image) for image in images]
        if kept not in members or len(set(members)) < 2:
            raise BadQueryError("Name the image to keep among two or more images of the group.")
        return library.move_to_review(self.index_dir.path, [i for i in members if i != kept], review_folder)

    def resolve_all(self, groups: Sequence[DuplicateGroup], review_folder: Path, dry_run: bool = False) -> ReviewReport:
        """Resolves every group with its suggestion: the others of each group move to `review_folder`."""
        others = [image.id for group in groups for image in group.others]
        return library.move_to_review(self.index_dir.path, others, review_folder, dry_run)

    def undo_resolve(self) -> UndoReport:
        """Moves the files of the latest resolve back and indexes them again (library.undo_move_to_review)."""
        return library.undo_move_to_review(self.index_dir.path)

    def publish(self, to: str, keep: int | None = None, thumbnails: bool = True) -> str:
        return library.publish(self.index_dir.path, to, keep, thumbnails)
