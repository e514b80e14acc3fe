"""A vector store in Milvus: Milvus Lite (a local `.db` folder, served in-process on 127.0.0.1) or a Milvus
server (`http://host:19530`).

The catalog stays the source of truth. Each row carries the catalog's `indexed_at` stamp and the metadata the
search filters need, so filters run inside Milvus, and the collection records the catalog generation it
reflects as a property. A crash between a catalog commit and the store write leaves that property behind the
catalog; `reconcile` then repairs the collection by comparing (id, stamp) pairs with the catalog.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Self

import numpy as np

from viewfinder.errors import ViewfinderError
from viewfinder.store.catalog import Catalog, relative_folder
from viewfinder.store.faiss_index import IndexParams

MILVUS_HINT = "the Milvus store needs pymilvus and milvus-lite: pip install 'viewfinder[milvus]'"
GENERATION_PROPERTY = "viewfinder.generation"
WRITE_CHUNK = 2000
ID_FILTER_MAX = 20_000  # allowed-id lists longer than this are searched unfiltered and post-filtered


def _client(uri: str):
    try:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException
    except ImportError as error:
        raise ViewfinderError(f"--store milvus: {MILVUS_HINT}.") from error
    try:
        return MilvusClient(uri)
    except MilvusException as error:
        raise ViewfinderError(
            f"Cannot open Milvus at {uri}: {error.message}. A Milvus Lite database is usable by one process at a"
            " time (is a `viewfinder serve` or `index` using it?)."
        ) from error


class MilvusStore:
    """Unit vectors keyed by catalog ids in one Milvus collection (FLAT, inner product: exact search)."""

    pushes_down_filters = True  # search() also takes the search filters themselves, as a Milvus expression

    def __init__(self, client, uri: str, collection: str, dim: int, catalog: Catalog | None = None) -> None:
        self.client = client
        self.uri = uri
        self.collection = collection
        self.dim = dim
        self.catalog = catalog  # where add() reads each row's metadata
        self.params = IndexParams("milvus")
        self._count: int | None = None

    @classmethod
    def connect(
        cls, uri: str, collection: str, dim: int, catalog: Catalog | None = None, index_type: str = "FLAT"
    ) -> MilvusStore:
        """Opens (creating when missing) the collection and loads it for search.

        Indexes use FLAT (exact, like FAISS below its IVF size); `index_type` HNSW is for `bench search`.
        """
        client = _client(uri)
        if not client.has_collection(collection):
            _create_collection(client, collection, dim, index_type)
        client.load_collection(collection)  # a reopened collection starts released
        return cls(client, uri, collection, dim, catalog)

    @property
    def count(self) -> int:
        if self._count is None:
            self._count = int(self.client.query(self.collection, filter="", output_fields=["count(*)"])[0]["count(*)"])
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
        self._count = None

    def remove(self, ids: np.ndarray) -> None:
        for start in range(0, len(ids), WRITE_CHUNK):
            self.client.delete(self.collection, ids=[int(i) for i in ids[start : start + WRITE_CHUNK]])
        self._count = None

    def search(self, queries: np.ndarray, k: int, allowed: object = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (similarities, ids) per query, padded with -1 ids like FAISS.

        `allowed` is an id array (sent as `id in [...]`) or the search filters (evaluated by Milvus).
        """
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        expression = ""
        if isinstance(allowed, np.ndarray):
            expression = f"id in [{','.join(str(int(i)) for i in allowed)}]"
        elif allowed is not None:
            expression = filter_expression(allowed)
        k = max(1, min(k, 16_384))  # Milvus's largest limit
        found = self.client.search(
            self.collection,
            data=queries.tolist(),
            anns_field="embedding",
            limit=k,
            filter=expression,
            output_fields=["id"],
            search_params={"metric_type": "IP", "params": {}},
        )
        scores = np.full((len(queries), k), -np.inf, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        for row, hits in enumerate(found):
            for column, hit in enumerate(hits):
                scores[row, column], ids[row, column] = hit["distance"], hit["id"]
        return scores, ids

    def save(self, folder: Path, generation: int) -> None:
        """Makes the writes durable and searchable (flush), then records the catalog generation they reflect."""
        self.client.flush(self.collection)
        self.client.alter_collection_properties(self.collection, properties={GENERATION_PROPERTY: str(generation)})

    @classmethod
    def load(cls, folder: Path) -> tuple[Self, int] | None:
        """The store an index directory's manifest names, and its generation; None when it has none yet."""
        manifest = json.loads((Path(folder) / "manifest.json").read_text())
        uri = manifest["store"].removeprefix("milvus:")
        store = cls.connect(uri, manifest["store_collection"], int(manifest["dim"]))
        generation = store.generation()
        return None if generation is None else (store, generation)

    def reconcile(self, catalog: Catalog) -> None:
        """Brings the collection to the catalog's state: rows missing or stale (another stamp) are rewritten
        from the catalog, rows the catalog no longer has are deleted. Then records the generation."""
        self.catalog = catalog
        stored = self._stamps()
        # indexed_at changes whenever a row's vector is rewritten, so equal stamps mean equal rows.
        wanted = dict(catalog.db.execute("SELECT id, indexed_at FROM images"))
        stale = np.array(sorted(i for i, stamp in wanted.items() if stored.get(i) != stamp), np.int64)
        extra = np.array(sorted(set(stored) - set(wanted)), np.int64)
        self.remove(extra)
        for start in range(0, len(stale), WRITE_CHUNK):
            part = stale[start : start + WRITE_CHUNK]
            self.add(part, np.stack([catalog.vector_of(int(i), self.dim) for i in part]))
        self.save(Path(), catalog.generation())

    def close(self) -> None:
        self.client.close()

    def _stamps(self) -> dict[int, float]:
        iterator = self.client.query_iterator(
            self.collection, batch_size=WRITE_CHUNK, filter="id >= 0", output_fields=["id", "stamp"]
        )
        stamps: dict[int, float] = {}
        while rows := iterator.next():
            stamps.update((int(row["id"]), float(row["stamp"])) for row in rows)
        iterator.close()
        return stamps


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
    index = client.prepare_index_params()
    params = {"M": 16, "efConstruction": 200} if index_type == "HNSW" else {}
    index.add_index(field_name="embedding", index_type=index_type, metric_type="IP", params=params)
    client.create_collection(collection, schema=schema, index_params=index)


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


def filter_expression(filters) -> str:
    """A Milvus boolean expression for the search filters (`search.engine.Filters`: same rules as its SQL)."""
    clauses = []
    if filters.taken_after:
        clauses.append(f"taken_at >= {_literal(filters.taken_after)}")
    if filters.taken_before:
        bound = filters.taken_before + ("T23:59:59" if len(filters.taken_before) == 10 else "")
        clauses.append(f'taken_at != "" and taken_at <= {_literal(bound)}')
    if filters.folder:
        # An exact, case-sensitive prefix, as in the catalog's SQL.
        folder = filters.folder.strip("/")
        escaped = folder.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append(f"folder like {_literal(escaped + '/%')}")
    if filters.min_width:
        clauses.append(f"width >= {int(filters.min_width)}")
    if filters.min_height:
        clauses.append(f"height >= {int(filters.min_height)}")
    return " and ".join(f"({clause})" for clause in clauses)


def _literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
