"""Benchmarks behind `viewfinder bench`: vector search, embedding throughput and the HTTP service.

Each figure is measured in the same run as its baseline, because these machines are shared and noisy:
compare ratios, not absolute numbers. One module per benchmark; `vectors` makes their synthetic data.
"""

from viewfinder.bench.embed import bench_embed
from viewfinder.bench.report import format_table
from viewfinder.bench.search import bench_search
from viewfinder.bench.serve import bench_serve, make_vector_index
from viewfinder.bench.vectors import clustered_vectors, load_vectors, mixture_sample

__all__ = [
    "bench_embed",
    "bench_search",
    "bench_serve",
    "clustered_vectors",
    "format_table",
    "load_vectors",
    "make_vector_index",
    "mixture_sample",
]
