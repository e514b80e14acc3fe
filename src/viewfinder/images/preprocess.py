"""What a model wants of its input images (open_clip's eval transform, as plain data) and the last step to it:
pixels to the model's normalised input."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
RESAMPLE = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
}
RESIZE_MODES = ("shortest", "longest", "squash")


@dataclass(frozen=True)
class PreprocessSpec:
    """How a model wants its input images: open_clip's eval transform, as plain data."""

    image_size: int
    resize_mode: str = "shortest"
    interpolation: str = "bicubic"
    mean: tuple[float, float, float] = OPENAI_MEAN
    std: tuple[float, float, float] = OPENAI_STD

    def __post_init__(self) -> None:
        if self.image_size < 1:
            raise ValueError(f"image_size must be positive, not {self.image_size}")
        if self.resize_mode not in RESIZE_MODES:
            raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, not {self.resize_mode!r}")
        if self.interpolation not in RESAMPLE:
            raise ValueError(f"interpolation must be one of {tuple(RESAMPLE)}, not {self.interpolation!r}")

    @classmethod
    def from_open_clip(cls, config: dict) -> PreprocessSpec:
        """From open_clip's preprocess config (`get_model_preprocess_cfg`, or a preprocess_cfg.json file)."""
        size = config["size"]
        return cls(
            image_size=int(size if isinstance(size, int) else size[0]),
            resize_mode=config.get("resize_mode", "shortest"),
            interpolation=config.get("interpolation", "bicubic"),
            mean=tuple(config["mean"]),
            std=tuple(config["std"]),
        )


def to_model_input(pixels: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Turns uint8 (N, S, S, 3) or (S, S, 3) pixels into the model's float32 (N, 3, S, S) input."""
    batch = pixels[np.newaxis] if pixels.ndim == 3 else pixels
    side = spec.image_size
    if batch.ndim != 4 or batch.shape[1:] != (side, side, 3) or batch.dtype != np.uint8:
        raise ValueError(f"expected uint8 (N, {side}, {side}, 3) pixels, got {pixels.dtype} {pixels.shape}")
    # The same float32 operations in the same order as ToTensor (x / 255) then Normalize ((x - mean) / std),
    # so the result is bit-identical to open_clip's.
    x = batch.astype(np.float32) / np.float32(255)
    x -= np.asarray(spec.mean, dtype=np.float32)
    x /= np.asarray(spec.std, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
