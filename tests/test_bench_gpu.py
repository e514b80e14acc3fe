"""scripts/bench_gpu.py's plumbing on the CPU: JPEG bytes → decode → preprocess → image tower → unit vectors,
with the decoder it used named (the GPU figure itself needs a GPU: BENCHMARKS.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import bench_gpu


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory) -> list[Path]:
    return bench_gpu.make_jpegs(tmp_path_factory.mktemp("jpegs"), 5, size=(96, 64))


@pytest.mark.slow  # loads torch and open_clip: ~30 s on two busy cores
@pytest.mark.parametrize("decoder", ["auto", "pillow"])
def test_the_cpu_run_embeds_every_jpeg_and_times_every_stage(jpegs, decoder):
    report = bench_gpu.run(jpegs, "cpu", batch=2, precision="fp32", decoder=decoder, model_name="test:tiny")
    assert report["images"] == 5 and report["finite"] and report["dim"] > 0
    assert set(report["seconds"]) == set(bench_gpu.STAGES) and all(s > 0 for s in report["seconds"].values())
    assert report["end_to_end_img_s"] > 0
    if decoder == "pillow":
        assert report["decoder"] == "Pillow (CPU)"
    else:
        assert report["decoder"] in ("torchvision (CPU libjpeg)", "Pillow (CPU)")


@pytest.mark.slow
def test_both_decoders_and_the_preprocessing_match_the_indexers_pixels(jpegs):
    """The bench embeds what indexing embeds: its decode and resize give the indexer's model input, to
    interpolation rounding (torch's bicubic beside Pillow's)."""
    import torch

    from viewfinder.images.decode import decode_image
    from viewfinder.images.preprocess import PreprocessSpec, to_model_input

    spec = PreprocessSpec(image_size=32)
    blobs = [path.read_bytes() for path in jpegs]
    expected = to_model_input(np.stack([decode_image(path, spec).pixels for path in jpegs]), spec)
    for name in ("auto", "pillow"):
        _, decode = bench_gpu.pick_decoder("cpu", name)
        got = bench_gpu.preprocess(decode(blobs), spec.image_size, spec.mean, spec.std, torch.float32).numpy()
        assert got.shape == expected.shape
        assert np.abs(got - expected).mean() < 0.05
