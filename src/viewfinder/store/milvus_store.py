"""A vector store in Milvus: Milvus Lite (a local `.db` folder, served in-process on 127.0.0.1) or a Milvus
server (`http://host:19530`).

The catalog stays the source of truth. Each row carries the catalog's `indexed_at` stamp and the metadata the
search filters need, so filters run inside Milvus, and the collection records the catalog generation it
reflects as a property. A crash between a catalog commit and the store write leaves that property behind the
catalog; `reconcile` then repairs the collection by comparing (id, stamp) pairs with the catalog.

A collection searches exactly (FLAT) until it holds FLAT_MAX vectors; from there a server's collection gets the
search structure measured fastest at the recall target (`milvus_choice`: FLAT or an HNSW graph with its M,
efConstruction and ef), chosen again when the collection doubles or shrinks, and recorded beside the generation.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from viewfinder.errors import ViewfinderError, needs_extra
from viewfinder.store import milvus_choice
from viewfinder.store.catalog import Catalog, CatalogDamagedError
from viewfinder.store.catalog_rows import relative_folder
from viewfinder.store.faiss_index import FLAT_MAX, GROWTH_BEFORE_RETRAIN
from viewfinder.store.filters import Filters
from viewfinder.store.vector_store import IndexParams, Queries, StoreAddress, VectorStore, pairs

GENERATION_PROPERTY = "viewfinder.generation"
WRITTEN_PROPERTY = "viewfinder.written_at"  # the Unix time of the last write the saved generation holds
INDEX_PROPERTY = "viewfinder.index"  # the chosen structure's IndexParams as JSON, saved with the generation
INDEX_NAME = "embedding"
WRITE_CHUNK = 2000
MAX_LIMIT = 16_384  # the most results one Milvus search returns
# Every read sees every write acknowledged before it; a request's level also covers collections made with the
# server's default level, "Bounded".
STRONG = {"consistency_level": "Strong"}
# A read at Strong waits for the server's clock to pass the request's time: one to two time ticks of 200 ms
# (~180-380 ms a search, BENCHMARKS.md). At Bounded it answers at once from every write older than the server's
# grace time (common.gracefulTime, 5 s by default). So a store reads at Strong only within SETTLE_S of the
# last write it knows of (its own, or the save of the generation it opened), and at Bounded after: a serving
# process then searches without the wait and still sees every write of its generation. A minute leaves room
# for a longer grace time and for the clocks of the indexing and the serving machines to differ.
SETTLE_S = 60.0
# The chooser searches rows flushed and loaded before it starts, so it need not wait, and then times the
# structure rather than that clock.
MEASURING = "Eventually"
LITE_FILE = "milvus.db"  # `--store milvus` alone: a Milvus Lite database inside the index directory
_SERVER_SCHEMES = ("http://", "https://", "tcp://", "unix:")


def _require_libraries(uri: str) -> None:
    """Fails, naming the extra, where pymilvus (or, for a Milvus Lite file, milvus-lite) is not installed."""
    with needs_extra("--store milvus"):
        import pymilvus  # noqa: F401

        if not uri.startswith(_SERVER_SCHEMES):  # a Milvus Lite file: pymilvus starts it, when it is installed
            import milvus_lite  # noqa: F401


def _client(uri: str):
    _require_libraries(uri)
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    try:
        return MilvusClient(uri)
    except MilvusException as error:
        raise ViewfinderError(
            f"Cannot open Milvus at {uri}: {error.message}. A Milvus Lite database is usable by one process at a"
            " time (is a `viewfinder serve` or `index` using it?)."
        ) from error


class MilvusStore(VectorStore):
    """Unit vectors keyed by catalog ids in one Milvus collection (inner product; FLAT, or on a server of
    FLAT_MAX vectors and more the HNSW graph measured fastest at the recall target)."""

    kind = "milvus"
    in_index_dir = False

    def __init__(
        self,
        client,
        uri: str,
        collection: str,
        dim: int,
        catalog: Catalog | None = None,
        params: IndexParams | None = None,
        written_at: float = math.inf,
    ) -> None:
        self.client = client
        self.uri = uri
        self.collection = collection
        self.dim = dim
        self.catalog = catalog  # where add() reads each row's metadata
        self.params = params or IndexParams(self.kind)
        self._count: int | None = None
        self.written_at = written_at  # Unix time of the last write this store knows of

    def consistency(self) -> dict[str, str]:
        """The level a search or a read of vectors asks: Strong while writes may be newer than the server's
        grace time (SETTLE_S), then Bounded."""
        return {"consistency_level": "Strong" if time.time() - self.written_at < SETTLE_S else "Bounded"}

    @classmethod
    def location(cls, text: str, index_path: Path) -> str:
        """A server address, or the absolute path of a Milvus Lite database (a name ending in .db; none: one
        inside the index directory). Without the libraries to open it, a MissingExtraError."""
        if not text:
            location = str((Path(index_path) / LITE_FILE).resolve())
        elif text.startswith(_SERVER_SCHEMES):
            location = text
        elif text.endswith(".db"):
            location = str(Path(text).expanduser().resolve())
        else:
            raise ViewfinderError(
                f"--store milvus:{text}: a Milvus Lite path must end in .db (or give http://host:19530)."
            )
        _require_libraries(location)
        return location

    @classmethod
    def open(cls, address: StoreAddress, catalog: Catalog) -> tuple[MilvusStore, int | None]:
        """The collection (created when missing) and its generation: 0 for a new, empty one, which reflects an
        empty catalog; None when rows were written but never saved."""
        store = cls.create(address, catalog)
        generation = store.generation()
        return store, 0 if generation is None and store.count == 0 else generation

    @classmethod
    def create(cls, address: StoreAddress, catalog: Catalog) -> MilvusStore:
        return cls.connect(address.location, address.collection, address.dim, catalog)

    @classmethod
    def connect(
        cls, uri: str, collection: str, dim: int, catalog: Catalog | None = None, index_type: str = "FLAT"
    ) -> MilvusStore:
        """Opens (creating when missing) the collection, with the structure recorded for it, and loads it.

        A new collection is FLAT (exact); `index_type` HNSW (M 16, efConstruction 200) is for `bench search`.
        """
        client = _client(uri)
        if not client.has_collection(collection):
            _create_collection(client, collection, dim, index_type)
        client.load_collection(collection)  # a reopened collection starts released
        properties = client.describe_collection(collection).get("properties", {})
        # A collection saved by an earlier version carries no write time: its writes may be fresh.
        written_at = float(properties.get(WRITTEN_PROPERTY, math.inf))
        return cls(client, uri, collection, dim, catalog, _params(properties.get(INDEX_PROPERTY)), written_at)

    @property
    def count(self) -> int:
        if self._count is None:
            rows = self.client.query(self.collection, filter="", output_fields=["count(*)"], **self.consistency())
            self._count = int(rows[0]["count(*)"])
        return self._count

    def generation(self) -> int | None:
        """The catalog generation the collection reflects; None before the first save."""
        value = self.client.describe_collection(self.collection).get("properties", {}).get(GENERATION_PROPERTY)
        return None if value is None else int(value)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Writes (inserts or replaces) rows, with their metadata read from the catalog (a store opened
        without one, as `bench search` does, stores neutral metadata)."""
        for start in range(0, len(ids), WRITE_CHUNK):
            part = [int(i) for i in ids[start : start + WRITE_CHUNK]]
            records = self.catalog.images(part) if self.catalog is not None else dict.fromkeys(part)
            rows = [
                _row(image_id, vector, records[image_id])
                for image_id, vector in zip(part, vectors[start : start + WRITE_CHUNK], strict=True)
                if image_id in records  # deleted from the catalog since: nothing to store
            ]
            if rows:
                self.client.upsert(self.collection, rows)
                self.written_at = time.time()
        self._count = None

    def outgrown(self, count: int) -> bool:
        """A server's collection is measured again on reaching FLAT_MAX vectors, doubling, or shrinking below
        half of FLAT_MAX; Milvus Lite stays exact (it searches by brute force whatever its index)."""
        if not self.uri.startswith(_SERVER_SCHEMES):
            return False
        if not self.params.trained_size:
            return count >= FLAT_MAX
        return count > GROWTH_BEFORE_RETRAIN * self.params.trained_size or count < FLAT_MAX // 2

    def choose_index(self, ids: np.ndarray, vectors: np.ndarray, queries: Queries = None) -> list:
        """Measures FLAT and HNSW shapes on the collection (which holds these ids and vectors) and keeps the
        fastest reaching the recall target (`milvus_choice.choose`); returns every candidate's measurement."""
        queries = queries() if callable(queries) else queries
        self.params, measured = milvus_choice.choose(self, ids, vectors, queries)
        return measured

    def build_index(self, shape: tuple[int, int]) -> None:
        """Replaces the collection's index: FLAT for (0, 0), else HNSW with (M, efConstruction)."""
        self.client.release_collection(self.collection)
        for name in self.client.list_indexes(self.collection):
            self.client.drop_index(self.collection, name)
        self.client.create_index(self.collection, _index_params(self.client, *shape))
        self.client.load_collection(self.collection)

    def search_ids(self, queries: np.ndarray, k: int, ef: int | None = None, level: str = MEASURING) -> np.ndarray:
        """The top-k ids per query at a consistency level, searching a graph at breadth `ef` (None: the chosen
        one; FLAT ignores it)."""
        return self._search(queries, k, "", ef, level)[1]

    def remove(self, ids: np.ndarray) -> None:
        for start in range(0, len(ids), WRITE_CHUNK):
            self.client.delete(self.collection, ids=[int(i) for i in ids[start : start + WRITE_CHUNK]])
            self.written_at = time.time()
        self._count = None

    def ids(self) -> np.ndarray:
        return np.array(sorted(self._scan("id")), np.int64)

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        found: dict[int, list[float]] = {}
        for start in range(0, len(ids), WRITE_CHUNK):
            part = [int(i) for i in ids[start : start + WRITE_CHUNK]]
            rows = self.client.get(self.collection, ids=part, output_fields=["embedding"], **self.consistency())
            found.update((int(row["id"]), row["embedding"]) for row in rows)
        missing = [int(i) for i in ids if int(i) not in found]
        if missing:
            raise KeyError(f"the Milvus collection holds no vector for ids {missing[:5]}")
        return np.array([found[int(i)] for i in ids], np.float32).reshape(len(ids), self.dim)

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (similarities, ids) per query, padded with -1 ids; `allowed` is sent as `id in [...]`."""
        expression = "" if allowed is None else f"id in [{','.join(str(int(i)) for i in allowed)}]"
        return self._search(queries, k, expression)

    def top(self, query: np.ndarray, k: int, filters: Filters | None, catalog: Catalog) -> list[tuple[int, float]]:
        """The filters run inside Milvus, on the metadata each row carries (at most MAX_LIMIT pairs); a place and
        quoted phrases, which rows do not carry (GPS positions, the words kept in the catalog), as the ids of the
        photos the catalog finds for them."""
        expression = filter_expression(filters) if filters is not None else ""
        if filters is not None and (filters.place is not None or filters.words):
            there = catalog.ids_matching(Filters(place=filters.place, words=filters.words)).tolist()
            if not there:
                return []
            expression = " and ".join(part for part in (expression, f"(id in {there})") if part)
        scores, ids = self._search(query, k, expression)
        return pairs(scores[0], ids[0])

    def near(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self._search(queries, k, "")  # at the chosen breadth: no cheaper setting for near neighbours

    def _search(
        self, queries: np.ndarray, k: int, expression: str, ef: int | None = None, level: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, MAX_LIMIT))
        ef = self.params.ef_search if ef is None else ef
        params = {"ef": max(ef, k)} if ef else {}  # a graph searches at least k wide
        found = self.client.search(
            self.collection,
            data=queries.tolist(),
            anns_field="embedding",
            limit=k,
            filter=expression,
            output_fields=["id"],
            search_params={"metric_type": "IP", "params": params},
            consistency_level=level or self.consistency()["consistency_level"],
        )
        scores = np.full((len(queries), k), -np.inf, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        for row, hits in enumerate(found):
            for column, hit in enumerate(hits):
                scores[row, column], ids[row, column] = hit["distance"], hit["id"]
        return scores, ids

    def save(self, folder: Path, generation: int) -> None:
        """Makes the writes durable and searchable (flush), then records the catalog generation they reflect
        and the structure chosen for them."""
        self.client.flush(self.collection)
        self.written_at = min(self.written_at, time.time())  # nothing newer than now: an unknown time ends here
        recorded = {
            GENERATION_PROPERTY: str(generation),
            INDEX_PROPERTY: json.dumps(asdict(self.params)),
            WRITTEN_PROPERTY: repr(self.written_at),
        }
        self.client.alter_collection_properties(self.collection, properties=recorded)

    def reconciled(self, catalog: Catalog, queries: Queries = None) -> MilvusStore:
        """Brings the collection to the catalog's state: rows missing or stale (another stamp) are rewritten
        from the catalog, rows the catalog no longer has are deleted. A server's collection that outgrew its
        structure is measured again on `queries` (`choose_index`). Then records the generation."""
        self.catalog = catalog
        stored = self._scan("stamp")
        # indexed_at changes whenever a row's vector is rewritten, so equal stamps mean equal rows.
        wanted = catalog.stamps()
        stale = np.array(sorted(i for i, stamp in wanted.items() if stored.get(i) != stamp), np.int64)
        extra = np.array(sorted(set(stored) - set(wanted)), np.int64)
        self.remove(extra)
        for start in range(0, len(stale), WRITE_CHUNK):
            part = stale[start : start + WRITE_CHUNK]
            self.add(part, np.stack([_catalog_vector(catalog, int(i), self.dim) for i in part]))
        if self.outgrown(len(wanted)):
            self._rechoose(catalog, queries)
        self.save(Path(), catalog.generation())
        return self

    def close(self) -> None:
        self.client.close()

    def _rechoose(self, catalog: Catalog, queries: Queries) -> None:
        """Exact search below FLAT_MAX, else the structure measured fastest on the catalog's vectors."""
        if len(catalog.stamps()) < FLAT_MAX:
            self.build_index(milvus_choice.EXACT)
            self.params = IndexParams(self.kind)
            return
        self.client.flush(self.collection)  # the rows just written are measured in sealed segments
        chunks = list(catalog.vectors(self.dim))
        ids = np.concatenate([chunk[0] for chunk in chunks])
        self.choose_index(ids, np.concatenate([chunk[1] for chunk in chunks]), queries)

    def _scan(self, field: str) -> dict[int, object]:
        """Every row's id with one of its fields, read in pages."""
        iterator = self.client.query_iterator(
            self.collection, batch_size=WRITE_CHUNK, filter="id >= 0", output_fields=sorted({"id", field}), **STRONG
        )
        found: dict[int, object] = {}
        while rows := iterator.next():
            found.update((int(row["id"]), row[field]) for row in rows)
        iterator.close()
        return found


def _create_collection(client, collection: str, dim: int, index_type: str) -> None:
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("folder", DataType.VARCHAR, max_length=16_384)  # relative to the root, ending in /
    schema.add_field("taken_at", DataType.VARCHAR, max_length=64)  # '' when unknown
    schema.add_field("width", DataType.INT64)
    schema.add_field("height", DataType.INT64)
    schema.add_field("stamp", DataType.DOUBLE)  # the catalog's indexed_at
    shape = (16, 200) if index_type == "HNSW" else milvus_choice.EXACT
    client.create_collection(collection, schema=schema, index_params=_index_params(client, *shape), **STRONG)


def _index_params(client, m: int, ef_construction: int):
    """The embedding field's index: FLAT when m is 0, else HNSW with these M and efConstruction."""
    index = client.prepare_index_params()
    if m:
        params = {"M": m, "efConstruction": ef_construction}
        index.add_index(
            field_name="embedding", index_name=INDEX_NAME, index_type="HNSW", metric_type="IP", params=params
        )
    else:
        index.add_index(field_name="embedding", index_name=INDEX_NAME, index_type="FLAT", metric_type="IP")
    return index


def _params(recorded: str | None) -> IndexParams:
    """The IndexParams a collection's INDEX_PROPERTY records (fields a newer version added are dropped)."""
    if recorded is None:
        return IndexParams(MilvusStore.kind)
    known = {field.name for field in fields(IndexParams)}
    return IndexParams(**{key: value for key, value in json.loads(recorded).items() if key in known})


def _row(image_id: int, vector: np.ndarray, record) -> dict:
    row = {"id": image_id, "embedding": np.asarray(vector, np.float32).tolist()}
    if record is None:
        return row | {"folder": "", "taken_at": "", "width": 0, "height": 0, "stamp": 0.0}
    folder = relative_folder(record.path, record.root)
    return row | {
        "folder": folder + "/" if folder else "",
        "taken_at": record.taken_at or "",
        "width": int(record.width),
        "height": int(record.height),
        "stamp": float(record.indexed_at),
    }


def filter_expression(filters: Filters) -> str:
    """A Milvus boolean expression for the search filters, with the catalog's rules (`Catalog.ids_matching`)."""
    clauses = []
    if filters.taken_after:
        clauses.append(f"taken_at >= {_literal(filters.taken_after)}")
    if filters.taken_before:
        bound = filters.taken_before + ("T23:59:59" if len(filters.taken_before) == 10 else "")
        clauses.append(f'taken_at != "" and taken_at <= {_literal(bound)}')
    if filters.folder:
        # An exact, case-sensitive prefix, as in the catalog's SQL, written as the range of strings that start
        # with it ('/' + 1 is '0'): LIKE's wildcards need escapes, which Milvus 2.3 servers do not understand.
        prefix = filters.folder.strip("/") + "/"
        clauses.append(f"folder >= {_literal(prefix)} and folder < {_literal(prefix[:-1] + '0')}")
    if filters.min_width:
        clauses.append(f"width >= {int(filters.min_width)}")
    if filters.min_height:
        clauses.append(f"height >= {int(filters.min_height)}")
    return " and ".join(f"({clause})" for clause in clauses)


def _literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _catalog_vector(catalog: Catalog, image_id: int, dim: int) -> np.ndarray:
    """The vector of an image the catalog lists: one it lists without a vector is damage, which check repairs."""
    vector = catalog.vector_of(image_id, dim)
    if vector is None:
        raise CatalogDamagedError(
            f"The catalog {catalog.path} lists image {image_id} without its vector; run `viewfinder check --repair"
            f" --index {catalog.path.parent}`, then `viewfinder index SOURCE...` embeds it again."
        )
    return vector
