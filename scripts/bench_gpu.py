"""Indexing speed on a GPU, JPEG decode included: bytes from disk → decode → resize and normalise → image
tower in half precision → unit vectors, in img/s end to end and per stage.

    PYTHONPATH=src python scripts/bench_gpu.py --device cuda --images 4096 --batch 256 [--folder JPEGS] [--json OUT]
    PYTHONPATH=src python scripts/bench_gpu.py --device cpu --images 8 --batch 4      # the plumbing, anywhere

On CUDA the JPEGs are decoded on the GPU by nvJPEG (`torchvision.io.decode_jpeg(list_of_bytes, device="cuda")`,
one batched call), resized (shortest side, bicubic, antialiased), centre-cropped and normalised there with
torch, and embedded by open_clip's ViT-B/32 image tower with random weights (`random:ViT-B-32`, built as
the project builds it: the real architecture and compute) in fp16. On a CPU, or without torchvision (PyPI's
wheel does not import beside some torch builds), the decoder falls back to torchvision's CPU decoder or Pillow;
the report names the decoder and precision used. Without --folder, photo-like JPEGs (640×480, quality 90) are
made once in a temporary folder; making them is not timed.

The stages run one after another per batch, each synchronised, so the per-stage rates add up to the end-to-end
one; a pipeline overlapping them would approach the slowest stage's rate. The report sets the figure beside
clip-retrieval's published 2,500 img/s per A100 and this project's aim of at least 5,000 img/s per H100.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

MODEL = "random:ViT-B-32"
REFERENCE = {"clip-retrieval, A100 (published)": 2500, "aim, H100": 5000}
STAGES = ("read", "decode", "preprocess", "model")


def make_jpegs(folder: Path, count: int, size: tuple[int, int] = (640, 480), seed: int = 0) -> list[Path]:
    """`count` photo-like JPEGs (smooth colour fields with noise, so they compress like photos)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    paths = []
    for number in range(count):
        phase = rng.uniform(0, 2 * np.pi, 3)
        colour = [128 + 100 * np.sin(xs / rng.uniform(40, 200) + ys / rng.uniform(40, 200) + p) for p in phase]
        pixels = np.stack(colour, axis=-1) + rng.normal(0, 12, (height, width, 3))
        path = folder / f"{number:06d}.jpg"
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=90)
        paths.append(path)
    return paths


def pick_decoder(device: str, wanted: str = "auto") -> tuple[str, Callable[[list[bytes]], list]]:
    """The decoder's name and a function from JPEG bytes to (3, H, W) uint8 tensors on `device`:
    nvJPEG on CUDA, torchvision's CPU decoder, else Pillow."""
    torchvision = _torchvision() if wanted in ("auto", "torchvision") else None
    if wanted == "torchvision" and torchvision is None:
        raise SystemExit("--decoder torchvision: torchvision does not import here")
    if torchvision is not None:
        import torch
        from torchvision.io import decode_jpeg

        def with_torchvision(blobs: list[bytes]) -> list:
            data = [torch.frombuffer(bytearray(blob), dtype=torch.uint8) for blob in blobs]
            return decode_jpeg(data, device=device)

        name = "nvJPEG (torchvision.io.decode_jpeg, device=cuda)" if device == "cuda" else "torchvision (CPU libjpeg)"
        return name, with_torchvision
    return "Pillow (CPU)", lambda blobs: [_pillow(blob, device) for blob in blobs]


def _torchvision():
    try:
        import torchvision.io

        return torchvision
    except (ImportError, RuntimeError):  # RuntimeError: "operator torchvision::nms does not exist"
        return None


def _pillow(blob: bytes, device: str):
    import torch
    from PIL import Image

    with Image.open(io.BytesIO(blob)) as image:
        pixels = np.asarray(image.convert("RGB"))
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1).to(device)


def preprocess(images: list, side: int, mean, std, dtype):
    """open_clip's eval transform on the device: shortest side to `side` (bicubic, antialiased), centre crop,
    scale to [0, 1], normalise; one (N, 3, side, side) batch in `dtype`."""
    import torch
    import torch.nn.functional as functional

    out = []
    for image in images:
        height, width = image.shape[-2:]
        scale = side / min(height, width)
        size = (max(side, round(height * scale)), max(side, round(width * scale)))
        resized = functional.interpolate(image[None].float(), size=size, mode="bicubic", antialias=True)
        top, left = (size[0] - side) // 2, (size[1] - side) // 2
        out.append(resized[0, :, top : top + side, left : left + side])
    batch = torch.stack(out).clamp_(0, 255).div_(255)
    mean_t = torch.tensor(mean, device=batch.device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=batch.device).view(1, 3, 1, 1)
    return ((batch - mean_t) / std_t).to(dtype)


def load_tower(model_name: str, device: str, dtype):
    """The open_clip model `model_name` names (default ViT-B/32 with the project's deterministic random
    weights), as the project builds it, in eval mode and `dtype`; and its preprocessing."""
    from viewfinder.models.registry import resolve_model
    from viewfinder.models.torch_runtime import create_model, preprocess_spec_of

    model, _ = create_model(resolve_model(model_name), device)
    spec = preprocess_spec_of(model)
    return model.to(dtype), spec


def run(
    paths: list[Path], device: str, batch: int, precision: str, decoder: str = "auto", model_name: str = MODEL
) -> dict:
    """Embeds the JPEGs at `paths` and returns the seconds and img/s of each stage and end to end."""
    import torch

    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[precision]
    decoder_name, decode = pick_decoder(device, decoder)
    model, spec = load_tower(model_name, device, dtype)
    seconds = dict.fromkeys(STAGES, 0.0)
    vectors = []

    def timed(stage: str, work: Callable):
        started = time.perf_counter()
        made = work()
        if device == "cuda":
            torch.cuda.synchronize()
        seconds[stage] += time.perf_counter() - started
        return made

    with torch.inference_mode():
        _embed_batch(paths[:batch], decode, model, spec, dtype, lambda stage, work: work())  # warm up, untimed
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        for start in range(0, len(paths), batch):
            vectors.append(_embed_batch(paths[start : start + batch], decode, model, spec, dtype, timed))
        total = time.perf_counter() - started
    found = np.concatenate(vectors)
    count = len(paths)
    return {
        "device": device,
        "gpu": torch.cuda.get_device_name() if device == "cuda" else None,
        "decoder": decoder_name,
        "precision": precision,
        "model": model_name,
        "images": count,
        "batch": batch,
        "dim": int(found.shape[1]),
        "finite": bool(np.isfinite(found).all()),
        "end_to_end_img_s": round(count / total, 1),
        "seconds": {stage: round(spent, 6) for stage, spent in seconds.items()},
        "stage_img_s": {stage: round(count / spent, 1) if spent else None for stage, spent in seconds.items()},
        "reference_img_s": REFERENCE,
    }


def _embed_batch(paths: list[Path], decode, model, spec, dtype, timed) -> np.ndarray:
    blobs = timed("read", lambda: [path.read_bytes() for path in paths])
    images = timed("decode", lambda: decode(blobs))
    pixels = timed("preprocess", lambda: preprocess(images, spec.image_size, spec.mean, spec.std, dtype))
    features = timed("model", lambda: model.encode_image(pixels, normalize=True).float().cpu().numpy())
    return features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--images", type=int, default=4096, help="how many JPEGs to make (without --folder)")
    parser.add_argument("--folder", type=Path, help="embed the .jpg files here instead")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument(
        "--precision", choices=("auto", "fp16", "bf16", "fp32"), default="auto", help="auto: fp16 on cuda, fp32 on cpu"
    )
    parser.add_argument("--decoder", choices=("auto", "torchvision", "pillow"), default="auto")
    parser.add_argument("--model", default=MODEL, help="an open_clip model as --model names it")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA GPU here (try --device cpu for the plumbing)")
    precision = args.precision if args.precision != "auto" else ("fp16" if args.device == "cuda" else "fp32")
    with tempfile.TemporaryDirectory(prefix="viewfinder-bench-gpu-") as scratch:
        if args.folder:
            paths = sorted(args.folder.glob("*.jpg"))
            if not paths:
                raise SystemExit(f"{args.folder} holds no .jpg files")
        else:
            paths = make_jpegs(Path(scratch), args.images)
        report = run(paths, args.device, args.batch, precision, args.decoder, args.model)
    text = json.dumps(report, indent=2)
    if args.json:
        args.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
