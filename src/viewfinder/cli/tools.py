"""`sample` and `bench`: the demo library and the benchmarks."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from viewfinder.cli.options import EXIT_OK, Parser
from viewfinder.errors import ViewfinderError
from viewfinder.settings import RUNTIMES, add_option


def add_commands(commands: argparse._SubParsersAction) -> None:
    _add_sample_command(commands)
    _add_bench_command(commands)


def _add_sample_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder sample`: a generated library of shape pictures."""
    sample = commands.add_parser("sample", help="generate a sample library of synthetic shape pictures (demo)")
    sample.add_argument("folder", metavar="FOLDER", help="where to write the pictures")
    sample.add_argument("--count", type=int, default=300, metavar="N", help="number of pictures (default 300)")
    sample.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (same seed, same pictures)")
    sample.set_defaults(run=_sample)


def _add_bench_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder bench search|embed|serve`."""
    bench = commands.add_parser("bench", help="measure search, embedding and service speed (see BENCHMARKS.md)")
    benches = bench.add_subparsers(dest="bench", required=True, parser_class=Parser)
    bench_search = benches.add_parser("search", help="latency, recall@50, build time and size of index options")
    bench_search.add_argument("--n", type=int, metavar="N", help="database size (synthetic clustered vectors)")
    bench_search.add_argument("--dim", type=int, default=512, help="vector dimension (default 512)")
    bench_search.add_argument(
        "--vectors", metavar="FILE.npy", help="real unit vectors instead; the last 1000 rows are the queries"
    )
    bench_search.add_argument("--queries", type=int, default=1000, metavar="N", help="synthetic queries (1000)")
    bench_search.add_argument(
        "--store", default="faiss", choices=["faiss", "milvus"], help="milvus: add Milvus Lite rows (FLAT, HNSW)"
    )
    bench_search.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="run only index rows starting with NAME"
    )
    bench_embed = benches.add_parser("embed", help="images/s of decoding, the model and the indexing pipeline")
    bench_embed.add_argument("--model", default="random:ViT-B-32", help="model (default random:ViT-B-32)")
    bench_embed.add_argument("--count", type=int, default=128, metavar="N", help="images per size (default 128)")
    add_option(bench_embed, "device")
    add_option(bench_embed, "runtime")
    add_option(bench_embed, "batch_size")
    add_option(bench_embed, "engine", help="ray: also run the pipeline on a local Ray")
    bench_serve = benches.add_parser("serve", help="start-up and HTTP text-query latency of `viewfinder serve`")
    bench_serve.add_argument("--n", type=int, default=100_000, metavar="N", help="index size (default 100000)")
    bench_serve.add_argument("--model", default="random:ViT-B-32", help="model (default random:ViT-B-32)")
    bench_serve.add_argument(
        "--runtime",
        action="append",
        choices=[runtime for runtime in RUNTIMES if runtime != "auto"],
        help="runtimes to compare (repeatable; default all three, torch being the baseline)",
    )
    bench_serve.add_argument("--queries", type=int, default=200, metavar="N", help="queries per figure (200)")
    bench_serve.add_argument("--index", metavar="DIR", help="keep the generated index here for later runs")
    for sub in (bench_search, bench_embed, bench_serve):
        sub.add_argument("--json", action="store_true", help="print JSON")
    bench.set_defaults(run=_bench)


def _sample(args: argparse.Namespace) -> int:
    from viewfinder.app import library

    if args.count < 1:
        raise ViewfinderError("--count must be at least 1.")
    written = library.make_sample(Path(args.folder), args.count, seed=args.seed)
    print(f"wrote {written} pictures and captions.jsonl to {args.folder}")
    return EXIT_OK


def _bench(args: argparse.Namespace) -> int:
    from viewfinder import bench

    if args.bench == "search":
        vectors = bench.load_vectors(args.vectors) if args.vectors else None
        result = bench.bench_search(args.n, args.dim, vectors, args.queries, args.only, store=args.store)
    elif args.bench == "embed":
        result = bench.bench_embed(
            args.model, args.count, args.runtime, args.device, args.batch_size, engine=args.engine
        )
    else:
        runtimes = args.runtime or ["torch", "onnx", "onnx-int8"]
        index = Path(args.index) if args.index else None
        result = bench.bench_serve(args.n, args.model, runtimes, args.queries, index)
    if args.json:
        print(json.dumps(result))
        return EXIT_OK
    print(bench.format_table(result["results"]))
    summary = {key: value for key, value in result.items() if key != "results"}
    print("  ".join(f"{key}={value}" for key, value in summary.items()), file=sys.stderr)
    return EXIT_OK
