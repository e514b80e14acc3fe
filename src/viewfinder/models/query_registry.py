"""Query models: text-only encoders trained into an existing image model's space (`--query-model`).

M-CLIP's XLM-RoBERTa-large was distilled to give, for a text in any of its languages, the vector OpenAI's
ViT-B-32 CLIP gives the English text: an index built with ViT-B-32:openai answers multilingual queries
through it, without embedding any image again. Each query model declares the image model whose space it
shares; an index built with another model, or of another dimension, is refused.

Accepted forms:
- `M-CLIP/XLM-Roberta-Large-Vit-B-32`          from the Hugging Face cache (or downloaded when the hub answers)
- `M-CLIP/XLM-Roberta-Large-Vit-B-32:/folder`  a downloaded copy of the repository
- `random:M-CLIP/XLM-Roberta-Large-Vit-B-32`   the same architecture, random weights (plumbing, benchmarks)
- `test:mclip-tiny`                            a tiny random M-CLIP declared aligned with `test:tiny` (tests)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from viewfinder.errors import IndexMismatchError, ModelUnavailableError, ViewfinderError
from viewfinder.models.registry import file_sha256


@dataclass(frozen=True)
class QueryArch:
    """An M-CLIP-style text encoder: an XLM-R (a shipped hf_configs name), mean pooling, a linear projection."""

    base: str  # the transformer's config, models/hf_configs/BASE/config.json
    dim: int  # the projection's output, the image model's dimension
    aligned_model: str  # the image model (its --model name) whose space the vectors are in
    repo: str | None  # the hub repository of the real weights and tokenizer
    tokenizer_repo: str  # where the tokenizer is looked for when the weights' repository does not hold it


KNOWN: dict[str, QueryArch] = {
    "M-CLIP/XLM-Roberta-Large-Vit-B-32": QueryArch(
        "xlm-roberta-large", 512, "ViT-B-32:openai", "M-CLIP/XLM-Roberta-Large-Vit-B-32", "FacebookAI/xlm-roberta-large"
    ),
}
TEST: dict[str, QueryArch] = {
    "test:mclip-tiny": QueryArch("viewfinder-xlmr-tiny", 32, "test:tiny", None, "FacebookAI/xlm-roberta-large"),
}
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class QuerySpec:
    """What to load for a `--query-model` string."""

    name: str
    arch: QueryArch
    folder: Path | None = None  # a downloaded copy of the repository
    is_random: bool = False

    def identity(self) -> str:
        """Differs whenever the vectors would: a local copy is known by its weights' checksum."""
        weights = self.weights_file()
        return f"query:{self.arch.repo}@sha256:{file_sha256(weights)}" if weights else f"query:{self.name}"

    def weights_file(self) -> Path | None:
        if self.folder is None:
            return None
        return next((self.folder / name for name in WEIGHT_FILES if (self.folder / name).is_file()), None)


def resolve_query_model(text: str) -> QuerySpec:
    """Turns a `--query-model` string into a QuerySpec; raises ViewfinderError for unknown names."""
    text = text.strip()
    if text in TEST:
        return QuerySpec(text, TEST[text], is_random=True)
    name, _, folder = text.removeprefix("random:").partition(":")
    if name not in KNOWN:
        known = ", ".join([*KNOWN, *TEST])
        raise ViewfinderError(f"Unknown query model {text!r}; known: {known} (optionally NAME:/path/to/folder).")
    if text.startswith("random:"):
        if folder:
            raise ViewfinderError(f"{text!r}: random weights take no folder.")
        return QuerySpec(text, KNOWN[name], is_random=True)
    if not folder:
        return QuerySpec(name, KNOWN[name])
    path = Path(folder).expanduser().resolve()
    spec = QuerySpec(f"{name}:{path}", KNOWN[name], folder=path)
    if spec.weights_file() is None:
        raise ModelUnavailableError(
            f"{path} holds neither {' nor '.join(WEIGHT_FILES)}; download them from https://huggingface.co/{name}."
        )
    return spec


def check_aligned(spec: QuerySpec, model: str, dim: int) -> None:
    """Refuses an index whose vectors are not in the query model's space (another model or dimension)."""
    if model != spec.arch.aligned_model or dim != spec.arch.dim:
        raise IndexMismatchError(
            f"Query model {spec.name} makes {spec.arch.dim}-d vectors in the space of {spec.arch.aligned_model}, "
            f"but this index was built with {model} ({dim}-d); search it without --query-model, or index with "
            f"--model {spec.arch.aligned_model}."
        )
