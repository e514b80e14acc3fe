"""The open_clip runtime on torch: loads real CLIP weights, hub models, local files and the test models."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from viewfinder.errors import ModelUnavailableError, ViewfinderError, needs_extra
from viewfinder.images.preprocess import PreprocessSpec, to_model_input
from viewfinder.models import hf_text
from viewfinder.models.embedder import Embedder
from viewfinder.models.hub import HUB_HOST, cached_file, first_line, hub_cache_dir, hub_reachable
from viewfinder.models.quiet_logging import quiet_logging
from viewfinder.models.registry import MODEL_CONFIG_DIR, RANDOM_SEED, ModelSpec

HUB_WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


class OpenClipEmbedder(Embedder):
    """An open_clip model on torch, in eval mode, on CPU or CUDA."""

    runtime = "torch"

    def __init__(self, spec: ModelSpec, device: str = "auto") -> None:
        with needs_extra(f"Running {spec.name} on torch"):
            import open_clip  # noqa: F401 (create_model's, imported here to name the extra before any work)
            import torch

        self.spec = spec
        self.device = _pick_device(device)
        self.model, self.tokenizer = create_model(spec, self.device)
        self.preprocess = preprocess_spec_of(self.model)
        with torch.inference_mode():
            probe = self.model.encode_text(self.tokenizer(["a photo"]).to(self.device))
        self.dim = int(probe.shape[-1])

    def encode_images(self, pixels: np.ndarray) -> np.ndarray:
        import torch

        batch = torch.from_numpy(to_model_input(pixels, self.preprocess)).to(self.device)
        with torch.inference_mode():
            features = self.model.encode_image(batch, normalize=True)
        return features.float().cpu().numpy()

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        tokens = self.tokenizer(list(texts)).to(self.device)
        with torch.inference_mode():
            features = self.model.encode_text(tokens, normalize=True)
        return features.float().cpu().numpy()


def _pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ViewfinderError("--device cuda was asked for, but torch sees no CUDA GPU; use --device cpu.")
    if device not in ("cpu", "cuda"):
        raise ViewfinderError(f"Unknown device {device!r}; use auto, cpu or cuda.")
    return device


def create_model(spec: ModelSpec, device: str):
    import open_clip
    import torch

    open_clip.add_model_config(MODEL_CONFIG_DIR)
    if not spec.arch.startswith(("hf-hub:", "local-dir:")) and spec.arch not in open_clip.list_models():
        raise ViewfinderError(f"Unknown open_clip architecture {spec.arch!r} in model {spec.name!r}.")
    text_cfg = hf_text.hf_text_cfg(spec.arch)
    _check_weights_reachable(spec, text_cfg)
    # An HF text tower is built from the shipped transformer config and reads its tokenizer.json itself,
    # where open_clip would ask the hub for both.
    overrides = hf_text.model_overrides(text_cfg) if text_cfg else {}
    tokenizer = hf_text.load_tokenizer(spec, text_cfg, hf_text.weights_repo_of(spec)) if text_cfg else None
    if spec.is_random:
        torch.manual_seed(RANDOM_SEED)
    try:
        with quiet_logging():
            model = open_clip.create_model(spec.arch, pretrained=spec.pretrained, device=device, **overrides)
            tokenizer = tokenizer or open_clip.get_tokenizer(spec.arch)
    except Exception as error:
        raise ModelUnavailableError(f"Cannot load model {spec.name}: {first_line(error)}") from error
    model.eval()
    return model, tokenizer


def _check_weights_reachable(spec: ModelSpec, text_cfg: dict | None = None) -> None:
    """Fails fast, with the fix, when weights are neither cached nor downloadable."""
    from open_clip.pretrained import get_pretrained_cfg, list_pretrained_tags_by_model

    if spec.is_random or spec.weights_file is not None or spec.arch.startswith("local-dir:"):
        if spec.weights_file is not None and not Path(spec.weights_file).is_file():
            raise ModelUnavailableError(f"Weights file {spec.weights_file} is missing; reinstall or re-download.")
        return
    if spec.arch.startswith("hf-hub:"):
        repo, filename = spec.arch.removeprefix("hf-hub:"), None
    else:
        config = get_pretrained_cfg(spec.arch, spec.pretrained or "")
        if not config:
            tags = ", ".join(list_pretrained_tags_by_model(spec.arch)) or "none"
            raise ViewfinderError(f"{spec.arch} has no pretrained tag {spec.pretrained!r}; known tags: {tags}.")
        # As open_clip reads it: "org/repo/" names a repository, "org/repo/file.bin" one file in it.
        repo, filename = os.path.split(config.get("hf_hub", ""))
        filename = filename or None
    names = (filename,) if filename else HUB_WEIGHT_FILES
    if any(cached_file(repo, name) for name in names) or hub_reachable():
        return
    wanted = filename or " or ".join(HUB_WEIGHT_FILES)
    if spec.arch.startswith("hf-hub:"):  # the architecture is in the repository's config, so take both
        fix = f"download open_clip_config.json and {wanted} into a folder and pass --model /path/to/folder"
    else:
        tokenizer = hf_text.tokenizer_hint(text_cfg) if text_cfg else ""
        fix = f"download {wanted}{tokenizer} and pass --model {spec.arch}:/path/to/{wanted.split(' ')[0]}"
    raise ModelUnavailableError(
        f"Weights for {spec.name} are not cached and {HUB_HOST} cannot be reached: from https://{HUB_HOST}/{repo}, "
        f"{fix} (or put the repository in the Hugging Face cache, {hub_cache_dir()})."
    )


def preprocess_spec_of(model) -> PreprocessSpec:
    """Reads the eval-time image transform open_clip attached to a model."""
    import open_clip

    return PreprocessSpec.from_open_clip(open_clip.get_model_preprocess_cfg(model))
