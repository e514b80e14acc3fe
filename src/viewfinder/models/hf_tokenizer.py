"""Hugging Face `tokenizer.json` tokenizers (XLM-RoBERTa's SentencePiece Unigram) without torch or transformers.

open_clip's HFTokenizer runs transformers' AutoTokenizer, which imports torch and reaches the hub. This reads
the same `tokenizer.json` with the small `tokenizers` library and gives the same ids: open_clip's whitespace
cleaning, the file's own normaliser, pieces and `<s> … </s>` template, cut to the context length with the
end token kept, then padded with the pad id (the text tower masks exactly the positions holding it).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from viewfinder.errors import needs_extra

TOKENIZER_FILE = "tokenizer.json"


def import_tokenizers():
    """The `tokenizers` module, or a one-line error naming the extra that installs it."""
    with needs_extra("Multilingual text towers"):
        import tokenizers
    return tokenizers


def clean(text: str) -> str:
    """open_clip's "whitespace" cleaning for HF tokenizers: mojibake and HTML entities fixed, spaces collapsed,
    case kept (XLM-R's vocabulary is cased)."""
    import ftfy

    return " ".join(html.unescape(html.unescape(ftfy.fix_text(text))).split())


class HfTokenizer:
    """Texts to (N, length) int64 ids as open_clip's HFTokenizer makes them, as numpy arrays."""

    def __init__(self, path: str | Path, context_length: int, pad_id: int) -> None:
        tokenizers = import_tokenizers()
        self.path = Path(path)
        self.context_length = context_length
        self.pad_id = pad_id
        self._tokenizer = tokenizers.Tokenizer.from_file(str(path))
        self._tokenizer.no_padding()
        # Counts the template's special tokens, so `<s>` and `</s>` survive the cut as in transformers.
        self._tokenizer.enable_truncation(max_length=context_length)

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def token_lists(self, texts: Sequence[str]) -> list[list[int]]:
        return [encoding.ids for encoding in self._tokenizer.encode_batch([clean(text) for text in texts])]

    def __call__(self, texts: Sequence[str], trim: bool = False) -> np.ndarray:
        """Ids padded to the context length, as open_clip pads them, or with `trim` to the longest text: the
        padding is masked out of attention and pooling, so the vectors do not change."""
        lists = self.token_lists(texts)
        length = max(map(len, lists)) if trim else self.context_length
        out = np.full((len(lists), length), self.pad_id, dtype=np.int64)
        for row, ids in enumerate(lists):
            out[row, : len(ids)] = ids
        return out
