"""Light edits of a picture that a photo library holds as near-duplicates of it: the true pairs that the
duplicates threshold is measured on (scripts/duplicates_threshold.py, tests/test_duplicates.py)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageEnhance

VARIANTS = ("original", "resized", "recompressed", "cropped", "brighter")


def write_variants(source: Path, folder: Path) -> list[Path]:
    """The picture and four light edits of it, named STEM__VARIANT: half size, JPEG quality 40, an 8% crop on
    each side, +20% light. Returns the five files in VARIANTS order."""
    image = Image.open(source).convert("RGB")
    width, height = image.size
    dx, dy = int(width * 0.08), int(height * 0.08)
    edits = {
        "original": (image, "png"),
        "resized": (image.resize((width // 2, height // 2), Image.Resampling.LANCZOS), "png"),
        "recompressed": (image, "jpg"),
        "cropped": (image.crop((dx, dy, width - dx, height - dy)), "png"),
        "brighter": (ImageEnhance.Brightness(image).enhance(1.2), "png"),
    }
    written = []
    for variant in VARIANTS:
        edited, suffix = edits[variant]
        path = folder / f"{source.stem}__{variant}.{suffix}"
        edited.save(path, **({"quality": 40} if suffix == "jpg" else {}))
        written.append(path)
    return written
