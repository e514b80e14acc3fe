"""open_clip models whose text tower is a Hugging Face transformer (XLM-RoBERTa), built without the hub.

open_clip's HFTextEncoder asks the hub for the transformer's config (`AutoConfig.from_pretrained("xlm-roberta-
base")`) and its HFTokenizer for the tokenizer, even when the CLIP weights are local. Viewfinder ships those
configs (hf_configs/NAME/config.json, the published values), so the tower is built offline and gets its
weights from the CLIP checkpoint, and it reads the tokenizer from a `tokenizer.json`: beside a local weights
file, else in the Hugging Face cache, else downloaded when the hub is reachable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from viewfinder.errors import ModelUnavailableError, needs_extra
from viewfinder.models.hf_tokenizer import TOKENIZER_FILE, HfTokenizer
from viewfinder.models.hub import HUB_HOST, cached_file, hub_cache_dir, hub_reachable
from viewfinder.models.registry import PACKAGE_DIR, ModelSpec

if TYPE_CHECKING:
    import torch

HF_CONFIG_DIR = PACKAGE_DIR / "hf_configs"
DEFAULT_CONTEXT_LENGTH = 77  # open_clip's, for text configs that name none (as XLM-R's do)
# Where the hub now keeps the repositories open_clip's configs name by their old short names.
CANONICAL_REPOS = {name: f"FacebookAI/{name}" for name in ("xlm-roberta-base", "xlm-roberta-large")}


def hf_text_cfg(arch: str) -> dict | None:
    """The text config of a built-in open_clip architecture whose text tower is a HF transformer Viewfinder
    ships the config of, else None (other HF towers, such as NLLB-CLIP's, load as open_clip loads them)."""
    import open_clip

    config = open_clip.get_model_config(arch) if not arch.startswith(("hf-hub:", "local-dir:")) else None
    text_cfg = (config or {}).get("text_cfg", {})
    shipped = text_cfg.get("hf_model_name") and (hf_config_dir(text_cfg) / "config.json").is_file()
    return text_cfg if shipped else None


def hf_config_dir(text_cfg: dict) -> Path:
    """The shipped folder holding the transformer's config.json."""
    return HF_CONFIG_DIR / text_cfg["hf_model_name"]


def model_overrides(text_cfg: dict) -> dict:
    """open_clip.create_model keyword arguments that build the text tower from the shipped config, unweighted
    (the CLIP checkpoint, or the seeded random init, gives its weights)."""
    with needs_extra(f"The text tower of {text_cfg['hf_model_name']}"):
        import transformers  # noqa: F401 (open_clip's HFTextEncoder builds on it)
    return {"text_cfg": {**text_cfg, "hf_model_name": str(hf_config_dir(text_cfg)), "hf_model_pretrained": False}}


def tokenizer_repo(text_cfg: dict) -> str:
    name = text_cfg.get("hf_tokenizer_name") or text_cfg["hf_model_name"]
    return CANONICAL_REPOS.get(name, name)


def find_tokenizer(spec: ModelSpec, text_cfg: dict, weights_repo: str | None = None) -> Path:
    """The model's tokenizer.json: beside its weights file, in the HF cache (the CLIP repository's or the
    transformer's), or downloaded; a one-line error saying what to download otherwise."""
    if spec.weights_file is not None:
        beside = Path(spec.weights_file).parent / TOKENIZER_FILE
        if beside.is_file():
            return beside
    repo = tokenizer_repo(text_cfg)
    short = text_cfg.get("hf_tokenizer_name") or ""
    for candidate in (weights_repo, repo, short):
        found = candidate and cached_file(candidate, TOKENIZER_FILE)
        if found:
            return Path(found)
    if spec.weights_file is None and hub_reachable():
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo, TOKENIZER_FILE))
    where = f"beside {spec.weights_file}" if spec.weights_file is not None else "beside the weights file"
    raise ModelUnavailableError(
        f"The tokenizer of {spec.name} is not found and {HUB_HOST} cannot be reached: download {TOKENIZER_FILE} "
        f"from https://{HUB_HOST}/{repo} and put it {where} (or into the Hugging Face cache, {hub_cache_dir()})."
    )


def tokenizer_hint(text_cfg: dict) -> str:
    """What to download with the CLIP weights, for the weights-missing error of an HF-text model."""
    return f" with {TOKENIZER_FILE} from https://{HUB_HOST}/{tokenizer_repo(text_cfg)} beside it"


class TorchHfTokenizer(HfTokenizer):
    """HfTokenizer giving torch tensors, as open_clip's tokenizers do, for the torch runtime."""

    def __call__(self, texts: Sequence[str], trim: bool = False) -> torch.Tensor:
        import torch

        return torch.from_numpy(super().__call__(texts, trim=trim))


def load_tokenizer(spec: ModelSpec, text_cfg: dict, weights_repo: str | None = None) -> TorchHfTokenizer:
    """The tokenizer of an HF-text model, checked against the transformer's vocabulary and pad id."""
    config = json.loads((hf_config_dir(text_cfg) / "config.json").read_text())
    path = find_tokenizer(spec, text_cfg, weights_repo)
    context = int(text_cfg.get("context_length", DEFAULT_CONTEXT_LENGTH))
    tokenizer = TorchHfTokenizer(path, context, int(config["pad_token_id"]))
    if tokenizer.vocab_size > config["vocab_size"]:
        raise ModelUnavailableError(
            f"{path} has {tokenizer.vocab_size} tokens but {spec.name}'s text tower only {config['vocab_size']}; "
            f"it is not this model's tokenizer."
        )
    return tokenizer


def weights_repo_of(spec: ModelSpec) -> str | None:
    """The hub repository open_clip downloads a tagged model's weights from (it may hold the tokenizer too)."""
    from open_clip.pretrained import get_pretrained_cfg

    if spec.pretrained is None or spec.weights_file is not None:
        return None
    hub = get_pretrained_cfg(spec.arch, spec.pretrained).get("hf_hub", "")
    return os.path.split(hub)[0] or None
