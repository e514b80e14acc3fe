"""Half-precision vectors for a published snapshot's index: the same index (the same graph, lists or exact scan,
the same ids and search settings) with each vector stored as float16 instead of float32.

The vectors are most of a FAISS index (205 MB of a 100k-vector HNSW index's 232 MB), and a server that follows
a snapshot downloads, hashes and maps all of them at its cold start. float16 keeps ~3 significant digits of a
unit vector's components: similarities move by ~1e-4, and recall@50 against exact search stays as the float32
index measured it (BENCHMARKS.md). Only `publish` makes this form; a local index, which is added to and
rebuilt, keeps float32 vectors. FAISS stores float16 as IEEE binary16, as numpy does, so the vectors of a
half-precision index can be read as a numpy view (`VectorIndex._stored`).
"""

from __future__ import annotations

import numpy as np

from viewfinder.store.faiss_index import FLOAT16, VectorIndex


def half_precision(index: VectorIndex) -> VectorIndex:
    """`index` with its vectors stored as float16; the index itself is left as it is."""
    if index.precision == FLOAT16:
        return index
    kind = index.params.kind
    halved = {"hnsw": _hnsw, "ivf": _ivf, "flat": _flat}[kind](index.index, index.dim)
    return VectorIndex(halved, index.params, index.dim, precision=FLOAT16)


def _hnsw(index, dim: int):
    """An IndexIDMap2 over an HNSW graph: the graph copied as it is, its vectors stored as float16."""
    import faiss

    graph = faiss.downcast_index(index.index)
    half = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, graph.hnsw.nb_neighbors(1), faiss.METRIC_INNER_PRODUCT)
    wrapped = faiss.IndexIDMap2(half)  # made while empty, as FAISS requires
    half.hnsw = graph.hnsw  # a copy of the links, the entry point and efSearch
    storage = faiss.downcast_index(graph.storage)
    half.storage.add(faiss.rev_swig_ptr(storage.get_xb(), graph.ntotal * dim).reshape(graph.ntotal, dim))
    half.ntotal = graph.ntotal
    faiss.copy_array_to_vector(faiss.vector_to_array(index.id_map), wrapped.id_map)
    wrapped.ntotal = index.ntotal
    wrapped.construct_rev_map()
    return wrapped


def _ivf(index, dim: int):
    """An IVF index with the same coarse quantizer and the same lists, each list's vectors as float16."""
    import faiss

    ivf = faiss.extract_index_ivf(index)
    half = faiss.IndexIVFScalarQuantizer(
        faiss.clone_index(ivf.quantizer), dim, ivf.nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT,
        False,  # the raw vectors, as IndexIVFFlat keeps them, not their residuals from the list's centroid
    )  # fmt: skip
    lists = ivf.invlists
    for number in range(ivf.nlist):
        size = lists.list_size(number)
        if not size:
            continue
        ids = faiss.rev_swig_ptr(lists.get_ids(number), size).copy()
        vectors = faiss.rev_swig_ptr(lists.get_codes(number), size * dim * 4).view(np.float32).reshape(size, dim)
        codes = np.ascontiguousarray(vectors.astype(np.float16)).view(np.uint8)
        half.invlists.add_entries(number, size, faiss.swig_ptr(ids), faiss.swig_ptr(codes))
    half.ntotal = ivf.ntotal
    half.is_trained = True  # its quantizer is trained, and float16 codes need no training
    half.nprobe = ivf.nprobe
    return half


def _flat(index, dim: int):
    """An IndexIDMap2 over an exact scan of float16 vectors."""
    import faiss

    flat = faiss.downcast_index(index.index)
    half = faiss.IndexIDMap2(faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT))
    vectors = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * dim).reshape(flat.ntotal, dim)
    half.add_with_ids(vectors, faiss.vector_to_array(index.id_map))
    return half
