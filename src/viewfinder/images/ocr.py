"""Reading the words in a photo (`index --ocr`): PP-OCRv4 text detection and recognition on ONNX Runtime,
from rapidocr-onnxruntime (the [ocr] extra), whose models ship inside its wheel, so nothing is downloaded."""

from __future__ import annotations

import os
import threading

import numpy as np

from viewfinder.errors import needs_extra
from viewfinder.images.decode import open_oriented

# The longest side OCR sees: a photo's words stay legible at this size, and detection costs grow with the
# pixels, so a 24 MP original is read as fast as a screen-sized one.
OCR_SIDE = 1280
# Recognitions less sure than this are mostly texture read as letters (foliage, gravel, brick).
MIN_SCORE = 0.6


class WordReader:
    """One loaded OCR engine; `read` is safe to call from several threads (they take turns: ONNX Runtime
    already runs each model on all the cores)."""

    def __init__(self) -> None:
        with needs_extra("--ocr"):
            from rapidocr_onnxruntime import RapidOCR
        self._engine = RapidOCR()
        self._turn = threading.Lock()

    def read(self, source: str | os.PathLike | bytes) -> str:
        """The words in an image file or its bytes, in reading order, one space between detected lines ("" when
        it shows none); raises DecodeError for an image that cannot be decoded."""
        image = open_oriented(source)
        image.thumbnail((OCR_SIDE, OCR_SIDE))
        pixels = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])  # the engine takes OpenCV's BGR order
        with self._turn:
            found, _ = self._engine(pixels, use_cls=False)  # photos' words are upright or nearly: no angle model
        return " ".join(" ".join(text.split()) for _, text, score in found or () if float(score) >= MIN_SCORE)
