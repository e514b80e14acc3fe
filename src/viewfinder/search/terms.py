"""One part of a query (search/query.py composes them), on its own so that an answer can say its terms without
depending on the whole query algebra."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """One part of a query: a text, an indexed image (by id), or an image given by path or bytes."""

    weight: float = 1.0
    text: str | None = None
    image_id: str | None = None
    image_path: str | None = None
    image_bytes: bytes | None = None

    def label(self) -> str:
        if self.text is not None:
            return self.text
        if self.image_id is not None:
            return f"image {self.image_id}"
        if self.image_path is not None:
            return f"image {self.image_path}"
        return "uploaded image"
