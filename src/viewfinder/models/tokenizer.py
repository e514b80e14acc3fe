"""CLIP's byte-pair tokenizer without torch: the same ids as open_clip's SimpleTokenizer, as numpy arrays.

open_clip's tokenizer module imports torch at import time (seconds), which a server running the ONNX text
tower must not pay. This is the same algorithm over the same vocabulary file, which ships inside open_clip
and is copied next to each ONNX export so that loading needs no open_clip either.
"""

from __future__ import annotations

import gzip
import html
import os
from collections.abc import Sequence
from functools import cache, lru_cache
from itertools import islice, pairwise
from pathlib import Path

import numpy as np

VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
MERGES = 49152 - 256 - 2  # the vocabulary size CLIP was trained with, less bytes and the special tokens
START, END = "<start_of_text>", "<end_of_text>"


@cache
def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters, so BPE never sees whitespace or controls."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, codes), strict=True))


def clip_tokenizer(vocab_path: str | Path, context_length: int = 77) -> ClipTokenizer:
    """The tokenizer of a vocabulary file, built once per process while the file is unchanged: reading and
    splitting its 49k merges takes ~0.04 s of CPU, which every index, generation and model a process opens with the
    same vocabulary would otherwise pay again (the tokenizer keeps nothing between texts but its cache of
    encoded words)."""
    stat = os.stat(vocab_path)
    return _built(os.fspath(vocab_path), context_length, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _built(vocab_path: str, context_length: int, mtime_ns: int, size: int) -> ClipTokenizer:
    return ClipTokenizer(vocab_path, context_length)


class ClipTokenizer:
    """Turns texts into CLIP token ids: start token, BPE pieces of the cleaned lower-case text, end token."""

    def __init__(self, vocab_path: str | Path, context_length: int = 77) -> None:
        import regex

        # Only the merges CLIP uses are read: the first fifth of the file (which holds 262k), and kept as the
        # file writes them ("first second"), not as pairs: a third of the time the tables took (~0.1 s of CPU
        # on every cold start of a server, BENCHMARKS.md).
        with gzip.open(vocab_path, "rt", encoding="utf-8") as handle:
            merges = [line.rstrip("\n") for line in islice(handle, 1, MERGES + 1)]
        vocab = list(_bytes_to_unicode().values())
        vocab += [piece + "</w>" for piece in vocab]
        vocab += [merge.replace(" ", "") for merge in merges] + [START, END]
        self.encoder = dict(zip(vocab, range(len(vocab)), strict=True))
        self.ranks = dict(zip(merges, range(len(merges)), strict=True))  # "first second": the merge's rank
        self.start_id, self.end_id = self.encoder[START], self.encoder[END]
        self.context_length = context_length
        # The special tokens are whole words, as in open_clip, not pieces to merge.
        self._cache: dict[str, list[int]] = {START: [self.start_id], END: [self.end_id]}
        self._pattern = regex.compile(
            rf"{START}|{END}|'s|'t|'re|'ve|'m|'ll|'d|[\p{{L}}]+|[\p{{N}}]|[^\s\p{{L}}\p{{N}}]+", regex.IGNORECASE
        )

    def encode(self, text: str) -> list[int]:
        """The BPE ids of a text, without start and end tokens."""
        import ftfy

        text = " ".join(html.unescape(html.unescape(ftfy.fix_text(text))).strip().split()).lower()
        byte_map = _bytes_to_unicode()
        ids: list[int] = []
        for word in self._pattern.findall(text):
            ids += self._word_ids("".join(byte_map[b] for b in word.encode("utf-8")))
        return ids

    def token_lists(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text as [start, ids..., end], cut to the context length with the end token kept last."""
        lists = []
        for text in texts:
            tokens = [self.start_id, *self.encode(text), self.end_id]
            if len(tokens) > self.context_length:
                tokens = [*tokens[: self.context_length - 1], self.end_id]
            lists.append(tokens)
        return lists

    def __call__(self, texts: Sequence[str], trim: bool = False) -> np.ndarray:
        """(N, length) int64 ids, zero-padded to the context length as open_clip pads them, or with `trim` only
        to the longest text's length."""
        lists = self.token_lists(texts)
        length = max(map(len, lists)) if trim else self.context_length
        out = np.zeros((len(lists), length), dtype=np.int64)
        for row, tokens in enumerate(lists):
            out[row, : len(tokens)] = tokens
        return out

    def _word_ids(self, word: str) -> list[int]:
        if word in self._cache:
            return self._cache[word]
        parts = [*word[:-1], word[-1] + "</w>"]
        while len(parts) > 1:
            # Merge the pair the vocabulary learnt first, everywhere it occurs, until no known pair is left.
            first, second = min(pairwise(parts), key=lambda pair: self.ranks.get(f"{pair[0]} {pair[1]}", MERGES))
            if f"{first} {second}" not in self.ranks:
                break
            merged: list[str] = []
            i = 0
            while i < len(parts):
                if i < len(parts) - 1 and parts[i] == first and parts[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        ids = [self.encoder[part] for part in parts]
        self._cache[word] = ids
        return ids


def open_clip_vocab() -> Path:
    """The vocabulary file inside the installed open_clip package, found without importing it."""
    from importlib.util import find_spec

    found = find_spec("open_clip")
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError("open_clip is not installed")
    return Path(next(iter(found.submodule_search_locations))) / VOCAB_FILE
