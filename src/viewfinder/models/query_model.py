"""M-CLIP's text encoder on torch (transformers' XLM-RoBERTa), its weights, and its ONNX export.

The architecture is M-CLIP's MultilingualCLIP: the transformer's last hidden states, averaged over the
attention mask (tokens != pad id), through a linear layer to the image model's dimension. Viewfinder builds
it from the shipped transformer config and loads the repository's weights into it (`transformer.*`,
`LinearTransformation.*`), so no `multilingual-clip` package or hub config is needed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from viewfinder.errors import ModelUnavailableError, needs_extra
from viewfinder.models.embedder import TextEncoder
from viewfinder.models.hf_tokenizer import TOKENIZER_FILE, HfTokenizer
from viewfinder.models.hub import HUB_HOST, cached_file, hub_cache_dir, hub_reachable
from viewfinder.models.query_registry import WEIGHT_FILES, QuerySpec
from viewfinder.models.registry import PACKAGE_DIR, RANDOM_SEED

CONTEXT_LENGTH = 512  # XLM-R's 514 positions less the two its position ids skip
# Keys a checkpoint may hold that the text encoder does not use: the transformer's unused pooler (M-CLIP
# loaded XLM-R with it) and the position-id buffer older transformers saved.
IGNORED_KEYS = ("transformer.pooler.", "transformer.embeddings.position_ids")


def _import_transformers():
    with needs_extra("Query models"):
        import transformers
    return transformers


def base_config(spec: QuerySpec) -> dict:
    """The shipped config of the query model's transformer."""
    return json.loads((PACKAGE_DIR / "hf_configs" / spec.arch.base / "config.json").read_text())


def build_module(spec: QuerySpec):
    """The MultilingualCLIP module with random weights (seeded), in eval mode."""
    import torch

    transformers = _import_transformers()
    config = transformers.XLMRobertaConfig(**base_config(spec))

    class MultilingualClip(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pad_id = int(config.pad_token_id)
            self.transformer = transformers.XLMRobertaModel(config, add_pooling_layer=False)
            self.LinearTransformation = torch.nn.Linear(config.hidden_size, spec.arch.dim)

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            mask = (tokens != self.pad_id).long()
            states = self.transformer(input_ids=tokens, attention_mask=mask)[0]
            pooled = (states * mask.unsqueeze(2)).sum(dim=1) / mask.sum(dim=1)[:, None]
            return torch.nn.functional.normalize(self.LinearTransformation(pooled), dim=-1)

    torch.manual_seed(RANDOM_SEED)
    return MultilingualClip().eval()


def _repo_file(spec: QuerySpec, names: Sequence[str], repos: Sequence[str]) -> Path | None:
    """The first of `names` in the local folder, else in the HF cache of one of `repos`, else downloaded."""
    if spec.folder is not None:
        return next((spec.folder / name for name in names if (spec.folder / name).is_file()), None)
    for repo in repos:
        found = next((cached_file(repo, name) for name in names if cached_file(repo, name)), None)
        if found:
            return Path(found)
    if hub_reachable():
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repos[0], names[-1]))
    return None


def find_tokenizer(spec: QuerySpec) -> Path:
    repos = [repo for repo in (spec.arch.repo, spec.arch.tokenizer_repo) if repo]
    found = _repo_file(spec, (TOKENIZER_FILE,), repos)
    if found is None:
        raise ModelUnavailableError(
            f"The tokenizer of {spec.name} is not found and {HUB_HOST} cannot be reached: download "
            f"{TOKENIZER_FILE} from https://{HUB_HOST}/{repos[0]} into the model's folder "
            f"(or the Hugging Face cache, {hub_cache_dir()})."
        )
    return found


def find_weights(spec: QuerySpec) -> Path:
    if spec.arch.repo is None:  # the test models: random weights, published nowhere
        raise ModelUnavailableError(f"{spec.name} has random weights only: no repository publishes its weights.")
    weights = _repo_file(spec, WEIGHT_FILES, [spec.arch.repo])
    if weights is None:
        raise ModelUnavailableError(
            f"Weights for {spec.name} are not cached and {HUB_HOST} cannot be reached: from https://{HUB_HOST}/"
            f"{spec.arch.repo}, download {' or '.join(WEIGHT_FILES)} and {TOKENIZER_FILE} into a folder and pass "
            f"--query-model {spec.arch.repo}:/path/to/folder."
        )
    return weights


def load_weights(weights: Path, module) -> None:
    """Loads an M-CLIP checkpoint into the module; a one-line error when it does not fit."""
    import torch

    if weights.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(weights))
    else:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    state = {key: value for key, value in state.items() if not key.startswith(IGNORED_KEYS)}
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ModelUnavailableError(
            f"{weights} is not an M-CLIP checkpoint of this architecture (missing {missing[:3]}, unexpected "
            f"{unexpected[:3]})."
        )


def load_module(spec: QuerySpec):
    """The text encoder with its weights (random ones for a random spec); the weights are found first, so
    that a missing file fails before the transformer is built (seconds for XLM-R large)."""
    weights = None if spec.is_random else find_weights(spec)
    module = build_module(spec)
    if weights is not None:
        load_weights(weights, module)
    return module


def load_tokenizer(spec: QuerySpec) -> HfTokenizer:
    return HfTokenizer(find_tokenizer(spec), CONTEXT_LENGTH, int(base_config(spec)["pad_token_id"]))


class TorchQueryEncoder(TextEncoder):
    """A query model on torch: texts to unit vectors in the aligned image model's space."""

    runtime = "torch"

    def __init__(self, spec: QuerySpec, device: str = "cpu") -> None:
        self.spec = spec
        self.dim = spec.arch.dim
        self.device = "cuda" if device == "cuda" else "cpu"
        self.module = load_module(spec).to(self.device)  # first: a missing weights file names both to fetch
        self.tokenizer = load_tokenizer(spec)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        tokens = torch.from_numpy(self.tokenizer(texts, trim=True)).to(self.device)
        with torch.inference_mode():
            return self.module(tokens).float().cpu().numpy()
