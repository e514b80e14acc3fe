"""Side-by-side indexing benchmark of Viewfinder and rclip on the same photos, model and cores.

Run by scripts/bench_rclip.sh with Viewfinder's Python (it needs torch and open_clip to export the model):

    python scripts/bench_rclip.py --rclip /path/to/venv/bin/rclip --work DIR [--rounds 3]

1. photos: DIR/photos holds --count photos of mixed formats and sizes (median ~4 MP) made from the real photographs
   and artwork of Debian's wallpaper packages (make_photos says how; the script names the packages to install
   when they are missing).
2. rclip's model folder (RCLIP_DATADIR): visual.onnx and textual.onnx exported from the same random-weight
   open_clip model Viewfinder uses (torch.onnx with dynamo=False, opset 18, input "input", as rclip's own export),
   the tokenizer vocabulary and the legal files rclip checks for before it would download anything; rclip 4.x
   reads the same layout as 3.x (rclip/model_download.py).
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
from pathlib import Path

import numpy as np

MODEL = "random:ViT-B-32-256"
RCLIP_SUBDIR = "ViT-B-32-256-datacomp_s34b_b86k"  # rclip/model_download.py MODEL_SUBDIR
RCLIP_LEGAL = ("LICENSE", "OPENAI-CLIP-MIT.txt", "README.md", "THIRD_PARTY_NOTICES.md")
# Debian's wallpaper packages: photographs (Ubuntu's, GNOME's, MATE's nature set) and some artwork.
WALLPAPER_PACKAGES = (
    "lomiri-wallpapers-20.04 mate-backgrounds gnome-backgrounds plasma-workspace-wallpapers ukui-wallpapers"
)
WALLPAPER_FOLDERS = ("/usr/share/backgrounds", "/usr/share/wallpapers")
MIN_SOURCES = 40
MIN_SOURCE_PIXELS = 900_000


def wallpapers() -> list[Path]:
    """The wallpaper pictures of at least ~1 MP, in a stable order (previews and logos are smaller)."""
    from PIL import Image

    found = []
    for folder in WALLPAPER_FOLDERS:
        for path in sorted(Path(folder).rglob("*")):
            if path.suffix.lower() not in (".jpg", ".jpeg", ".png", ".webp") or path.is_symlink():
                continue
            with Image.open(path) as image:
                if image.width * image.height >= MIN_SOURCE_PIXELS and "screenshot" not in path.name:
                    found.append(path)
    return found


def make_photos(folder: Path, count: int) -> list[str]:
    """Writes the photo set once, from the wallpapers; returns how each file was made.

    Every file is a different picture (both tools reuse a vector by content hash): the n-th use of a wallpaper
    is a different crop of it. Sizes are log-normal around 4 MP (0.5 to 24 MP; a wallpaper is scaled up at most
    1.6x per side); formats: about half JPEG at quality 70 to 95 (some of them 16 MP camera JPEGs with EXIF
    orientation), 28 % PNG, 20 % WebP. No HEIC: rclip 4 reads HEIC only through macOS's or Windows' own codecs
    and skips it on Linux, so the two would not do the same work.
    """
    from PIL import Image

    sources = wallpapers()
    if len(sources) < MIN_SOURCES:
        found = f"{len(sources)} wallpapers found, {MIN_SOURCES} needed"
        sys.exit(f"bench_rclip: {found}: apt-get install -y {WALLPAPER_PACKAGES}")
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(131)
    described = []
    for number in range(count):
        source = sources[number % len(sources)]
        kind = rng.choice(["jpeg", "large", "png", "webp"], p=[0.44, 0.08, 0.28, 0.20])
        megapixels = 16.0 if kind == "large" else float(np.clip(rng.lognormal(np.log(4.0), 0.5), 0.5, 24))
        quality = int(rng.integers(70, 96))
        crop = rng.uniform(0.75, 1.0, 2) if number >= len(sources) else np.ones(2)
        shift = rng.uniform(0, 1, 2)
        ext = {"jpeg": ".jpg", "large": ".jpg", "png": ".png", "webp": ".webp"}[kind]
        path = folder / f"photo-{number:04d}{ext}"
        described.append(f"{path.name}: {source.name}, {kind}, {megapixels:.1f} MP, q{quality}")
        if path.exists():
            continue
        with Image.open(source) as opened:
            image = opened.convert("RGB")
        width, height = round(image.width * crop[0]), round(image.height * crop[1])
        left, top = round((image.width - width) * shift[0]), round((image.height - height) * shift[1])
        image = image.crop((left, top, left + width, top + height))
        scale = min((megapixels * 1e6 / (width * height)) ** 0.5, 1.6)
        image = image.resize((round(width * scale), round(height * scale)), Image.Resampling.LANCZOS)
        temporary = path.with_suffix(".part")
        if kind in ("jpeg", "large"):
            exif = Image.Exif()
            if kind == "large":
                exif[0x0112] = 6  # Orientation: the camera was held upright
            image.save(temporary, "JPEG", quality=quality, exif=exif)
        elif kind == "png":
            image.save(temporary, "PNG")
        else:
            image.save(temporary, "WEBP", quality=quality)
        temporary.rename(path)
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
    parser.add_argument("--count", type=int, default=131)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runtimes", default="onnx,auto", help="Viewfinder runtimes to time, comma-separated")
    parser.add_argument("--baseline-src", type=Path, help="another Viewfinder src/ folder to time (runtime auto)")
    args = parser.parse_args()
    photos, datadir, cache = args.work / "photos", args.work / "rclip-data", args.work / "viewfinder-cache"
    described = make_photos(photos, args.count)
    export_rclip_datadir(datadir)
    env = {**os.environ, "RCLIP_DATADIR": str(datadir), "VIEWFINDER_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    # This checkout's Viewfinder first.
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1] / "src"), env.get("PYTHONPATH", "")])
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
