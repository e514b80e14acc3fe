"""The `viewfinder` command: argument parsing and output only; behaviour lives in the library."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from viewfinder.errors import ViewfinderError
from viewfinder.version import __version__

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with the project's exit code for them."""

    def error(self, message: str) -> None:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"viewfinder: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="viewfinder", description="Semantic search over your own photos, offline.")
    parser.add_argument("--version", action="version", version=f"viewfinder {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_index_command(commands)
    _add_search_command(commands)
    _add_serve_command(commands)
    _add_info_command(commands)
    _add_sample_command(commands)
    _add_bench_command(commands)
    return parser


def _add_index_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder index SOURCE...`: incremental indexing."""
    index = commands.add_parser("index", help="index folders of images (incremental)")
    index.add_argument("sources", nargs="+", metavar="SOURCE", help="folders to index, searched recursively")
    _index_option(index)
    index.add_argument(
        "--model",
        help="open_clip NAME:TAG, hf-hub:org/name, a weights path, test:tiny or test:shapes"
        " (default: the index's model, else ViT-B-32:openai)",
    )
    index.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    _runtime_option(index)
    index.add_argument("--batch-size", type=int, default=32, metavar="N")
    index.add_argument("--workers", type=int, default=None, metavar="N", help="decode threads (default: cores)")
    index.add_argument("--json", action="store_true", help="print a JSON summary")
    index.set_defaults(run=_index)


def _add_search_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder search`: text, images and weighted terms."""
    search = commands.add_parser("search", help="search an index by text, image or both")
    search.add_argument("text", nargs="?", metavar="TEXT", help="what to look for")
    search.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="PATH_OR_ID",
        help="an image file or an indexed image id to find similar images to (repeatable)",
    )
    search.add_argument(
        "--not",
        dest="negatives",
        action="append",
        default=[],
        metavar="TEXT",
        help="a text to steer away from (repeatable)",
    )
    search.add_argument(
        "--weight",
        action="append",
        type=float,
        default=[],
        metavar="W",
        help="weights of TEXT then each --image, in order (default 1 each)",
    )
    search.add_argument(
        "--not-weight",
        type=float,
        default=1.0,
        metavar="W",
        help="how strongly each --not term is subtracted (default 1)",
    )
    search.add_argument("-k", type=int, default=20, metavar="K", help="number of results (default 20)")
    _index_option(search)
    search.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    _runtime_option(search)
    search.add_argument("--json", action="store_true", help="print JSON")
    search.set_defaults(run=_search)


def _add_serve_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder serve`: the HTTP API and the web UI."""
    serve = commands.add_parser("serve", help="serve the HTTP search API and the web UI")
    _index_option(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on; 0 picks a free one (default 8000)")
    serve.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    _runtime_option(serve)
    serve.add_argument(
        "--source",
        dest="sources",
        action="append",
        default=[],
        metavar="DIR",
        help="folder POST /admin/reindex scans (repeatable; default: the folders the index was built from)",
    )
    serve.add_argument(
        "--cors-origin",
        dest="cors_origins",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a web origin allowed to call the API from a browser (repeatable; default $VIEWFINDER_CORS_ORIGINS)",
    )
    serve.add_argument(
        "--allowed-host",
        dest="allowed_hosts",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the server is reached by, besides loopback (and IP addresses when --host is not"
        " loopback); '*' allows any (repeatable; default $VIEWFINDER_ALLOWED_HOSTS)",
    )
    serve.set_defaults(run=_serve)


def _add_info_command(commands: argparse._SubParsersAction) -> None:
    """`viewfinder info`: what an index holds."""
    info = commands.add_parser("info", help="describe an index")
    _index_option(info)
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(run=_info)


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
    benches = bench.add_subparsers(dest="bench", required=True, parser_class=_Parser)
    bench_search = benches.add_parser("search", help="latency, recall@50, build time and size of index options")
    bench_search.add_argument("--n", type=int, metavar="N", help="database size (synthetic clustered vectors)")
    bench_search.add_argument("--dim", type=int, default=512, help="vector dimension (default 512)")
    bench_search.add_argument(
        "--vectors", metavar="FILE.npy", help="real unit vectors instead; the last 1000 rows are the queries"
    )
    bench_search.add_argument("--queries", type=int, default=1000, metavar="N", help="synthetic queries (1000)")
    bench_search.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="run only index rows starting with NAME"
    )
    bench_embed = benches.add_parser("embed", help="images/s of decoding, the model and the indexing pipeline")
    bench_embed.add_argument("--model", default="random:ViT-B-32", help="model (default random:ViT-B-32)")
    bench_embed.add_argument("--count", type=int, default=128, metavar="N", help="images per size (default 128)")
    bench_embed.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    _runtime_option(bench_embed)
    bench_embed.add_argument("--batch-size", type=int, default=32, metavar="N")
    bench_serve = benches.add_parser("serve", help="start-up and HTTP text-query latency of `viewfinder serve`")
    bench_serve.add_argument("--n", type=int, default=100_000, metavar="N", help="index size (default 100000)")
    bench_serve.add_argument("--model", default="random:ViT-B-32", help="model (default random:ViT-B-32)")
    bench_serve.add_argument(
        "--runtime",
        action="append",
        choices=["torch", "onnx", "onnx-int8"],
        help="runtimes to compare (repeatable; default all three, torch being the baseline)",
    )
    bench_serve.add_argument("--queries", type=int, default=200, metavar="N", help="queries per figure (200)")
    bench_serve.add_argument("--index", metavar="DIR", help="keep the generated index here for later runs")
    for sub in (bench_search, bench_embed, bench_serve):
        sub.add_argument("--json", action="store_true", help="print JSON")
    bench.set_defaults(run=_bench)


def _runtime_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runtime",
        default="auto",
        choices=["auto", "torch", "onnx", "onnx-int8"],
        help="embedding runtime (default auto: torch with --device cuda, and for index on a GPU it finds; "
        "else ONNX Runtime)",
    )


def _index_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index", metavar="DIR", help="index directory (default: $VIEWFINDER_INDEX or ./viewfinder-index)"
    )


def _index(args: argparse.Namespace) -> int:
    from viewfinder.pipeline.indexer import run_index
    from viewfinder.store.indexdir import default_index_path

    with _progress_bar() as progress:
        report = run_index(
            default_index_path(args.index),
            args.sources,
            model=args.model,
            device=args.device,
            batch_size=args.batch_size,
            workers=args.workers,
            progress=progress,
            runtime=args.runtime,
        )
    if args.json:
        print(json.dumps(asdict(report)))
        return EXIT_OK
    for item in report.skipped:
        print(f"skipped {item['path']}: {item['reason']}", file=sys.stderr)
    print(
        f"{report.added} added, {report.updated} updated, {report.removed} removed, {report.unchanged} unchanged, "
        f"{len(report.skipped)} skipped; {report.total} images in the index "
        f"({report.seconds:.1f} s, {report.images_per_second:.1f} images/s)"
    )
    if report.total == 0 and not report.skipped:
        from viewfinder.sources import IMAGE_SUFFIXES

        suffixes = " ".join(sorted(IMAGE_SUFFIXES))
        print(f"No image files under {', '.join(args.sources)} (looked for {suffixes}).", file=sys.stderr)
    return EXIT_OK


def _search(args: argparse.Namespace) -> int:
    from viewfinder.search.engine import SearchEngine
    from viewfinder.search.query import Term
    from viewfinder.store.indexdir import IndexDir, default_index_path

    positives: list[Term] = []
    if args.text is not None:
        positives.append(Term(text=args.text))
    for value in args.image:
        if os.path.exists(value):
            positives.append(Term(image_path=value))
        elif value.isascii() and value.isdigit():
            positives.append(Term(image_id=value))
        else:
            raise ViewfinderError(f"--image {value}: no such file (an indexed image id is a number).")
    if not positives:
        raise ViewfinderError("Give a TEXT to search for or an --image (a file or an indexed image id).")
    if len(args.weight) > len(positives):
        raise ViewfinderError(
            f"{len(args.weight)} --weight values for {len(positives)} terms (TEXT, then each --image)."
        )
    weights = args.weight + [1.0] * (len(positives) - len(args.weight))
    terms = [Term(**{**vars(term), "weight": weight}) for term, weight in zip(positives, weights, strict=True)]
    terms += [Term(text=text, weight=-abs(args.not_weight)) for text in args.negatives]
    engine = SearchEngine(IndexDir(default_index_path(args.index)), device=args.device, runtime=args.runtime)
    try:
        result = engine.search(terms, k=args.k)
    finally:
        engine.close()
    if args.json:
        results = [
            {
                "rank": h.rank,
                "image_id": str(h.image.id),
                "path": h.image.path,
                "similarity": round(h.similarity, 6),
            }
            for h in result.hits
        ]
        output = {
            "query": result.query,
            "count": len(results),
            "results": results,
            "timings_ms": result.timings_ms,
        }
        print(json.dumps(output))
        return EXIT_OK
    for hit in result.hits:
        print(f"{hit.rank:>4}  {hit.similarity:.4f}  {hit.image.path}")
    print(
        f"{len(result.hits)} results for {result.query!r} in {result.timings_ms['total']:.1f} ms",
        file=sys.stderr,
    )
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from viewfinder.serve.server import serve
    from viewfinder.store.indexdir import default_index_path

    serve(
        default_index_path(args.index),
        host=args.host,
        port=args.port,
        device=args.device,
        sources=args.sources,
        cors_origins=args.cors_origins,
        runtime=args.runtime,
        allowed_hosts=args.allowed_hosts,
    )
    return EXIT_OK


def _info(args: argparse.Namespace) -> int:
    from viewfinder.search.engine import SearchEngine
    from viewfinder.store.indexdir import IndexDir, default_index_path

    index_dir = IndexDir(default_index_path(args.index))
    engine = SearchEngine(index_dir)
    try:
        params = engine.vectors.params
        summary = {
            "index": str(index_dir.path.resolve()),
            "images": engine.catalog.count(),
            "skipped": len(engine.catalog.skipped()),
            "model": engine.manifest.model,
            "dim": engine.manifest.dim,
            "index_type": params.kind,
            "nlist": params.nlist,
            "nprobe": params.nprobe,
            "bytes_on_disk": index_dir.bytes_on_disk(),
            "generation": engine.generation,
        }
    finally:
        engine.close()
    if args.json:
        print(json.dumps(summary))
        return EXIT_OK
    for key, value in summary.items():
        print(f"{key:>14}: {value}")
    return EXIT_OK


def _bench(args: argparse.Namespace) -> int:
    from viewfinder import bench

    if args.bench == "search":
        vectors = bench.load_vectors(args.vectors) if args.vectors else None
        result = bench.bench_search(args.n, args.dim, vectors, args.queries, args.only)
    elif args.bench == "embed":
        result = bench.bench_embed(args.model, args.count, args.runtime, args.device, args.batch_size)
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


def _sample(args: argparse.Namespace) -> int:
    from viewfinder.images.synthetic import generate_library

    if args.count < 1:
        raise ViewfinderError("--count must be at least 1.")
    written = generate_library(Path(args.folder), args.count, seed=args.seed)
    print(f"wrote {len(written)} pictures and captions.jsonl to {args.folder}")
    return EXIT_OK


class _progress_bar:
    """A tqdm bar on stderr when it is a terminal; otherwise nothing."""

    def __enter__(self):
        self.bar = None
        if not sys.stderr.isatty():
            return None
        from tqdm import tqdm

        def update(done: int, total: int) -> None:
            if self.bar is None:
                self.bar = tqdm(total=total, unit="img", desc="indexing", file=sys.stderr)
            self.bar.n = done
            self.bar.refresh()

        return update

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit code (0 ok, 2 usage or configuration error, 1 failure)."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ViewfinderError as error:
        print(f"viewfinder: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("viewfinder: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if os.environ.get("VIEWFINDER_DEBUG"):
            raise
        print(
            f"viewfinder: unexpected error: {type(error).__name__}: {error} "
            "(set VIEWFINDER_DEBUG=1 for a traceback, and please report it)",
            file=sys.stderr,
        )
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
