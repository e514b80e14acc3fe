"""Synthetic benchmark vectors: a clustered mixture that behaves like embeddings, and real ones from .npy files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from viewfinder.errors import ViewfinderError

CLUSTERS = 317  # prime, so it matches no nlist any index picks
SUBTOPICS = 24
LOCAL_DIMS = 16
SUBTOPIC_RADIUS = 0.9
POINT_RADIUS = 0.65
NOISE_RADIUS = 0.2


def clustered_vectors(n: int, dim: int = 512, seed: int = 0) -> np.ndarray:
    """n unit vectors drawn from a mixture shaped like CLIP embeddings of a photo library.

    Two levels: CLUSTERS topics around a direction all vectors share (unrelated photos still have a positive
    cosine in CLIP space), each with SUBTOPICS sub-topics. Topic sizes are log-normal (the largest ~30× the
    smallest) and each topic has its own spread (0.7–1.4×), so some are dense and tight, others sparse and
    diffuse. Within a topic, vectors vary mostly along LOCAL_DIMS directions of its own, plus a little
    isotropic noise: real embeddings have a low intrinsic dimension, which is what makes ANN search work.
    The constants put the seed's IVF1264/nprobe=32 at recall@50 ≈ 0.987 at n = 100k, as measured on real
    embeddings before (issue 6). A mixture is fixed by its seed: queries drawn with
    `mixture_sample(n, dim, seed, other_seed)` come from the same mixture without being in the database.
    """
    return mixture_sample(n, dim, seed, seed)


def mixture_sample(n: int, dim: int, mixture_seed: int, sample_seed: int) -> np.ndarray:
    """n unit vectors from the mixture `mixture_seed` defines, drawn with `sample_seed`."""
    shape = np.random.default_rng(mixture_seed)
    common = unit(shape.standard_normal(dim, dtype=np.float32))
    topics = unit(common + unit(shape.standard_normal((CLUSTERS, dim), dtype=np.float32)))
    weights = shape.lognormal(0.0, 0.85, CLUSTERS)
    spreads = shape.uniform(0.7, 1.4, CLUSTERS).astype(np.float32)
    local = dim if dim <= LOCAL_DIMS else LOCAL_DIMS
    bases = np.linalg.qr(shape.standard_normal((CLUSTERS, dim, local), dtype=np.float32))[0]
    offsets = shape.standard_normal((CLUSTERS, SUBTOPICS, local), dtype=np.float32) / math.sqrt(local)
    subtopics = unit(
        topics[:, None, :] + SUBTOPIC_RADIUS * spreads[:, None, None] * (offsets @ bases.transpose(0, 2, 1))
    )
    rng = np.random.default_rng(sample_seed)
    topic = rng.choice(CLUSTERS, n, p=weights / weights.sum())
    subtopic = rng.integers(0, SUBTOPICS, n)
    out = np.empty((n, dim), np.float32)
    for t in range(CLUSTERS):
        rows = np.flatnonzero(topic == t)
        along = rng.standard_normal((len(rows), local), dtype=np.float32) @ bases[t].T / math.sqrt(local)
        noise = rng.standard_normal((len(rows), dim), dtype=np.float32) / math.sqrt(dim)
        out[rows] = unit(subtopics[t, subtopic[rows]] + spreads[t] * (POINT_RADIUS * along + NOISE_RADIUS * noise))
    return out


def load_vectors(path: str | Path) -> np.ndarray:
    """Real embeddings from a .npy file of unit rows; a clear error when they are not."""
    try:
        vectors = np.load(path)
    except (OSError, ValueError) as error:
        raise ViewfinderError(f"Cannot read {path} as a .npy array ({error}).") from error
    if vectors.ndim != 2 or not np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3):
        raise ViewfinderError(f"{path} must hold a 2-D array of unit-length rows; normalise the vectors first.")
    return vectors.astype(np.float32, copy=False)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)
