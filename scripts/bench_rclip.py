"""Side-by-side indexing benchmark of Viewfinder and rclip on the same photos, model and cores.

Run by scripts/bench_rclip.sh with Viewfinder's Python (it needs torch and open_clip to export the model):

    python scripts/bench_rclip.py --rclip /path/to/venv/bin/rclip --work DIR [--rounds 3]

1. photos: DIR/photos holds --count ~4 MP photos: the real photographs scikit-image ships (read from its wheel,
   given by --skimage-wheel; upscaled to ~4 MP), the rest generated camera-like pictures (bench.embed.photo_like:
   12 generated, each reused shifted, mirrored and tinted, so that every file is a different
   picture), saved in turn as JPEG, PNG and WebP.
2. rclip's model folder (RCLIP_DATADIR): visual.onnx and textual.onnx exported from the same random-weight
   open_clip model Viewfinder uses (torch.onnx with dynamo=False, opset 18, input "input", as rclip's own export),
   the tokenizer vocabulary and the legal files rclip checks for before it would download anything.
3. rounds: each round runs every tool once, in turn, on a fresh index, as its own process under /usr/bin/time -v
   (wall time and peak RSS); the table gives the median and the range over the rounds, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

MODEL = "random:ViT-B-32-256"
RCLIP_SUBDIR = "ViT-B-32-256-datacomp_s34b_b86k"  # rclip/model_download.py MODEL_SUBDIR
RCLIP_LEGAL = ("LICENSE", "OPENAI-CLIP-MIT.txt", "README.md", "THIRD_PARTY_NOTICES.md")
SKIMAGE_PHOTOS = (
    "astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "grass.png",
    "gravel.png", "hubble_deep_field.jpg", "moon.png", "motorcycle_left.png", "motorcycle_right.png",
    "retina.jpg", "rocket.jpg", "page.png", "text.png", "clock_motion.png",
)  # fmt: skip
# Fast encoder settings (the set is made in minutes); they change file sizes, not how decoding works.
FORMATS = (
    ("JPEG", ".jpg", {"quality": 92}),
    ("PNG", ".png", {"compress_level": 1}),
    ("WEBP", ".webp", {"quality": 90, "method": 0}),
)
SIZE = (2304, 1728)  # 4.0 MP, 4:3


def make_photos(folder: Path, count: int, wheel: Path | None) -> list[str]:
    """Writes the photo set once; returns a description of where each picture came from."""
    from PIL import Image

    from viewfinder.bench.embed import DISTINCT_IMAGES, photo_like

    folder.mkdir(parents=True, exist_ok=True)
    pictures: list[tuple[str, Image.Image]] = []
    if wheel is not None:
        with zipfile.ZipFile(wheel) as archive:
            for name in SKIMAGE_PHOTOS:
                with archive.open(f"skimage/data/{name}") as file:
                    image = Image.open(file).convert("RGB")
                pictures.append((f"skimage {name} {image.width}x{image.height}", image))
    rng = np.random.default_rng(131)
    bases: list[np.ndarray] = []
    described: list[str] = []
    for number in range(count):
        fmt, ext, options = FORMATS[number % len(FORMATS)]
        path = folder / f"photo-{number:04d}{ext}"
        if number < len(pictures):
            source, image = pictures[number]
            ratio = (SIZE[0] * SIZE[1] / (image.width * image.height)) ** 0.5
            image = image.resize((round(image.width * ratio), round(image.height * ratio)), Image.BICUBIC)
        else:
            # Every file is a different picture (rclip reuses the vector of a file whose hash it has seen): a few
            # generated pictures, each reused shifted, mirrored and tinted, as generating one takes seconds.
            generated = number - len(pictures)
            if generated < DISTINCT_IMAGES:
                bases.append(photo_like(*SIZE, rng))
            base = bases[generated % DISTINCT_IMAGES]
            shifted = np.roll(base, (int(rng.integers(SIZE[1])), int(rng.integers(SIZE[0]))), axis=(0, 1))
            shifted = shifted[:, ::-1] if generated % 2 else shifted
            tint = rng.uniform(0.8, 1.2, 3).astype(np.float32)
            image = Image.fromarray(np.clip(shifted * tint, 0, 255).astype(np.uint8))
            source = f"generated #{generated % DISTINCT_IMAGES}, variant {generated // DISTINCT_IMAGES}"
        described.append(f"{path.name}: {source}")
        if not path.exists():
            image.save(path, fmt, **options)
    return described


def export_rclip_datadir(datadir: Path) -> None:
    """rclip's model folder with visual.onnx and textual.onnx of the same random-weight model."""
    import gzip

    import open_clip
    import torch

    from viewfinder.models.registry import resolve_model
    from viewfinder.models.torch_runtime import create_model

    target = datadir / RCLIP_SUBDIR
    if (target / "textual.onnx").is_file():
        return
    target.mkdir(parents=True, exist_ok=True)
    model, tokenizer = create_model(resolve_model(MODEL), "cpu")

    class Text(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            return self.model.encode_text(tokens)

    side = model.visual.image_size[0]
    # Grad enabled: in no_grad mode torch's MultiheadAttention takes a fused fast path the exporter lacks.
    for module, example, name in (
        (model.visual, torch.zeros(2, 3, side, side), "visual.onnx"),
        (Text(), tokenizer(["a photo", "two dogs"]), "textual.onnx"),
    ):
        torch.onnx.export(
            module.eval(), (example,), str(target / name), input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=18, dynamo=False,
        )  # fmt: skip
    vocab = datadir / "tokenizer" / "bpe_simple_vocab_16e6.txt.gz"
    vocab.parent.mkdir(exist_ok=True)
    with open(Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz", "rb") as source:
        vocab.write_bytes(source.read())
    gzip.decompress(vocab.read_bytes())  # fails loudly on a bad copy
    for name in RCLIP_LEGAL:
        (datadir / name).write_text("random-weight benchmark model; no CLIP weights\n")


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> dict:
    """Wall seconds, peak RSS (MB) and CPU seconds of one command run under /usr/bin/time -v."""
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"bench_rclip: {' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    stats = dict(re.findall(r"^\s*(.+?): (.+)$", done.stderr, re.M))
    cpu = float(stats["User time (seconds)"]) + float(stats["System time (seconds)"])
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),  # the work done, which the machine's other load changes far less than the wall time
        "peak_mb": round(int(stats["Maximum resident set size (kbytes)"]) / 1024),
        "cpu_util": round(cpu / wall / (os.cpu_count() or 1), 3),
        "load": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rclip", required=True, help="the rclip executable (its own environment)")
    parser.add_argument("--work", type=Path, required=True, help="folder for photos, models and indexes")
    parser.add_argument("--skimage-wheel", type=Path, help="a scikit-image wheel whose sample photos to use")
    parser.add_argument("--count", type=int, default=131)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runtimes", default="onnx,auto", help="Viewfinder runtimes to time, comma-separated")
    parser.add_argument("--baseline-src", type=Path, help="another Viewfinder src/ folder to time (runtime auto)")
    args = parser.parse_args()
    photos, datadir, cache = args.work / "photos", args.work / "rclip-data", args.work / "viewfinder-cache"
    described = make_photos(photos, args.count, args.skimage_wheel)
    export_rclip_datadir(datadir)
    env = {**os.environ, "RCLIP_DATADIR": str(datadir), "VIEWFINDER_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src")  # this checkout's Viewfinder
    viewfinder = [sys.executable, "-m", "viewfinder", "index", str(photos), "--model", MODEL, "--json"]
    tools = {"rclip": [args.rclip, "--top", "1", "--filepath-only", "a photo"]}
    for runtime in args.runtimes.split(","):
        tools[f"viewfinder --runtime {runtime}"] = [*viewfinder, "--runtime", runtime]
    if args.baseline_src is not None:
        tools["baseline --runtime auto"] = ["env", f"PYTHONPATH={args.baseline_src.resolve()}", *viewfinder]
    scratch = args.work / "index"
    for name, command in tools.items():  # warm-up: exports and int8 files are made once, outside the clock
        shutil.rmtree(scratch, ignore_errors=True)
        (datadir / "db.sqlite3").unlink(missing_ok=True)
        subprocess.run([*command, "--index", str(scratch)] if name != "rclip" else command, cwd=photos, env=env,
                       check=True, capture_output=True)  # fmt: skip
    runs: dict[str, list[dict]] = {name: [] for name in tools}
    for _ in range(args.rounds):
        for name, command in tools.items():
            shutil.rmtree(scratch, ignore_errors=True)
            for leftover in datadir.glob("db.sqlite3*"):
                leftover.unlink()
            runs[name].append(timed(command if name == "rclip" else [*command, "--index", str(scratch)], photos, env))
            print(name, runs[name][-1], file=sys.stderr, flush=True)
    print(json.dumps({"photos": described, "count": args.count, "cores": os.cpu_count(), "runs": runs}, indent=1))
    print_table(runs, args.count)


def print_table(runs: dict[str, list[dict]], count: int) -> None:
    rclip = statistics.median(run["wall_s"] for run in runs["rclip"])
    rclip_cpu = statistics.median(run["cpu_s"] for run in runs["rclip"])
    print(
        "| tool | wall s, median (range) | images/s | vs rclip | CPU s, median (range) | vs rclip in CPU s "
        "| peak RSS MB, median (range) | CPU use | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, rows in runs.items():
        walls, peaks, cpus = [r["wall_s"] for r in rows], [r["peak_mb"] for r in rows], [r["cpu_s"] for r in rows]
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        print(
            f"| {name} | {wall:.2f} ({min(walls):.2f}–{max(walls):.2f}) | {count / wall:.1f} | {rclip / wall:.2f}× "
            f"| {cpu:.1f} ({min(cpus):.1f}–{max(cpus):.1f}) | {rclip_cpu / cpu:.2f}× "
            f"| {statistics.median(peaks):.0f} ({min(peaks)}–{max(peaks)}) "
            f"| {statistics.median(r['cpu_util'] for r in rows):.0%} "
            f"| {min(r['load'] for r in rows):.1f}–{max(r['load'] for r in rows):.1f} |"
        )


if __name__ == "__main__":
    main()
