"""A real `viewfinder serve` over a generated library, and Debian's Chromium to drive the web UI."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cli_helpers import cli_env
from PIL import Image
from s3_helpers import upload_folder

from shapeworld.heldout import WEB_COLOURS, WEB_SHAPES, web_pictures

sync_api = pytest.importorskip("playwright.sync_api")
# Shared CI machines can be slow to encode a query; waiting longer costs nothing when they are not.
sync_api.expect.set_options(timeout=15_000)

REPO = Path(__file__).resolve().parents[2]
WEBUI_INDEX = REPO / "src" / "viewfinder" / "webui" / "index.html"
# Browser downloads are not possible everywhere the tests run, so they use the distribution's Chromium.
CHROMIUM = os.environ.get("VIEWFINDER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# test:tiny needs nothing but the code; the screenshots read better with a trained model that knows this
# library's pictures (test:shapes, which learnt shapes on varied renderings).
MODEL = os.environ.get("VIEWFINDER_UI_TEST_MODEL", "test:tiny")
API_TOKEN = "web-ui/token+=1"  # characters a cookie must carry URL-encoded
# Lazy images below the fold never load, so a screenshot waits only for those on screen.
IMAGES_IN_VIEW_LOADED = """() => [...document.images]
    .map(image => [image, image.getBoundingClientRect()])
    .filter(([, box]) => box.bottom > 0 && box.top < innerHeight)
    .every(([image]) => image.complete)"""
FOLDERS = ("garden", "trips")
THIRD_PAIR = ("red", "circle")  # the pair that fills a third of write_third_library's pictures
BUCKET = "web-photos"


def write_shape_library(root: Path, count: int = 36) -> list[Path]:
    """Writes coloured shapes on light backgrounds, in two folders, with EXIF capture dates; no two alike.

    The pictures come from `shapeworld.heldout`, so the model card measures search on this library.
    """
    return _write_pictures(root, web_pictures(count))


def write_third_library(root: Path, pair: tuple[str, str] = THIRD_PAIR, count: int = 72) -> list[Path]:
    """Writes `count` pictures as write_shape_library does, a third of them of one (colour, shape) pair and the
    rest shared among the other pairs: a concept common enough to fill a page."""
    pictures = web_pictures(count * len(WEB_COLOURS) * len(WEB_SHAPES) // 3)
    common = [picture for picture in pictures if picture[:2] == pair][: count // 3]
    others = [picture for picture in pictures if picture[:2] != pair][: count - len(common)]
    return _write_pictures(root, common + others)


def _write_pictures(root: Path, pictures: list[tuple[str, str, Image.Image]]) -> list[Path]:
    paths = []
    for number, (colour, shape, image) in enumerate(pictures):
        exif = Image.Exif()
        exif[0x0132] = f"20{20 + number % 4}:0{1 + number % 9}:1{number % 10} 12:{number:02d}:00"  # DateTime
        path = root / FOLDERS[number % len(FOLDERS)] / f"{colour}-{shape}-{number:02d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, quality=90, exif=exif)
        paths.append(path)
    return paths


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_healthy(process: subprocess.Popen, url: str, log: Path, timeout: float = 180) -> None:
    """Polls /healthz until the server answers; fails with its log if it exits or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"viewfinder serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if json.load(response).get("status") == "ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"viewfinder serve gave no answer at {url}/healthz in {timeout} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def library(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_shape_library(tmp_path_factory.mktemp("photos"))


@pytest.fixture(scope="session")
def index(library: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated library indexed by `viewfinder index`."""
    index = tmp_path_factory.mktemp("index")
    root = library[0].parents[1]
    indexing = [sys.executable, "-m", "viewfinder", "index", str(root), "--index", str(index), "--model", MODEL]
    # The fp32 image tower, as the server embeds uploads: the tests compare an upload with its indexed twin.
    indexing += ["--runtime", "onnx"]
    subprocess.run([*indexing, "--json"], check=True, capture_output=True, env=cli_env(), timeout=600)
    return index


@pytest.fixture(scope="session")
def server(index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of `viewfinder serve` over the indexed library; the web UI must have been built."""
    # These tests drive the page over the whole library (every search lists all of it), whatever the model
    # rates it; test_relevance_ui.py checks the default threshold.
    with _serving(index, tmp_path_factory.mktemp("serve"), {}, "--min-relevance", "0") as url:
        yield url


@pytest.fixture(scope="session")
def words_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server over pictures with words drawn on them (worlds/wordworld.py), indexed with --ocr."""
    from wordworld import write_library

    root = tmp_path_factory.mktemp("words")
    write_library(root / "photos", ("Rua Augusta", "Gate B12"), plain=2)
    indexing = [sys.executable, "-m", "viewfinder", "index", str(root / "photos"), "--index", str(root / "index")]
    indexing += ["--model", "test:tiny", "--ocr"]
    subprocess.run(indexing, check=True, capture_output=True, env=cli_env(), timeout=600)
    with _serving(root / "index", root, {}) as url:
        yield url


@pytest.fixture
def token_server(index: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Another server over the same index, guarded by a search token; yields its URL and the token."""
    with _serving(index, tmp_path, {"VIEWFINDER_API_TOKEN": API_TOKEN}, "--min-relevance", "0") as url:
        yield url, API_TOKEN


@contextmanager
def _serving(index: Path, folder: Path, env: dict[str, str], *options: str) -> Iterator[str]:
    if not WEBUI_INDEX.exists():
        pytest.fail("The web UI is not built: run scripts/build_web.sh first.")
    port = _free_port()
    serve = [sys.executable, "-m", "viewfinder", "serve", "--index", str(index), "--port", str(port), *options]
    # The log goes to a file: a pipe nobody reads would stall the server once full.
    log = folder / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(serve, env={**cli_env(), **env}, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(process, url, log)
        # The first text search loads the model; done here so no test's timeout has to allow for it.
        headers = {"Content-Type": "application/json"}
        if "VIEWFINDER_API_TOKEN" in env:
            headers["Authorization"] = f"Bearer {env['VIEWFINDER_API_TOKEN']}"
        warm_up = urllib.request.Request(f"{url}/search", data=b'{"query": "warm up", "top_k": 1}', headers=headers)
        urllib.request.urlopen(warm_up, timeout=300).close()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def write_duplicates_library(root: Path) -> tuple[Path, Path]:
    """Six pictures, two byte-identical copies of the first (one in another folder) and a half-size copy of the
    second, indexed; returns (library, index)."""
    library = root / "library"
    pictures = write_shape_library(library, 6)
    shutil.copy(pictures[0], pictures[0].with_name(f"copy-of-{pictures[0].name}"))
    shutil.copy(pictures[0], library / FOLDERS[1] / f"also-{pictures[0].name}")
    with Image.open(pictures[1]) as picture:
        half = picture.resize((picture.width // 2, picture.height // 2))
        half.save(pictures[1].with_name(f"small-{pictures[1].name}"), quality=85, exif=picture.getexif())
    index = root / "index"
    indexing = [sys.executable, "-m", "viewfinder", "index", str(library), "--index", str(index), "--model", MODEL]
    subprocess.run(indexing, check=True, capture_output=True, env=cli_env(), timeout=600)
    return library, index


@pytest.fixture
def duplicates_library(tmp_path: Path) -> tuple[Path, Path]:
    """write_duplicates_library's, per test: resolving duplicates moves its files."""
    return write_duplicates_library(tmp_path)


@pytest.fixture(scope="session")
def seen_duplicates_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server over a library of write_duplicates_library's that no test resolves, shared by the tests that only
    look at its duplicates; yields its URL."""
    root = tmp_path_factory.mktemp("seen-duplicates")
    _, index = write_duplicates_library(root)
    with _serving(index, root, {}, "--review-folder", str(root / "review")) as url:
        yield url


@pytest.fixture
def duplicates_server(duplicates_library: tuple[Path, Path], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A server over duplicates_library that moves resolved duplicates to a review folder; yields its URL and
    that folder."""
    review = tmp_path / "review"
    with _serving(duplicates_library[1], tmp_path, {}, "--review-folder", str(review)) as url:
        yield url, review


@pytest.fixture
def duplicates_page(browser: sync_api.Browser, duplicates_server: tuple[str, Path]) -> Iterator[sync_api.Page]:
    """A desktop-sized page on the duplicates server; page errors fail the test."""
    yield from desktop_page(browser, duplicates_server[0])


@pytest.fixture
def seen_duplicates_page(browser: sync_api.Browser, seen_duplicates_server: str) -> Iterator[sync_api.Page]:
    """A desktop-sized page on the shared duplicates server, to look at; page errors fail the test."""
    yield from desktop_page(browser, seen_duplicates_server)


@pytest.fixture
def seen_duplicates_phone(browser: sync_api.Browser, seen_duplicates_server: str) -> Iterator[sync_api.Page]:
    """The shared duplicates server's page on a phone-sized touch screen (390 × 844), to look at."""
    yield from phone_page(browser, seen_duplicates_server)


@pytest.fixture(scope="session")
def shapes_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server over a test:shapes library without stars, but surely with red circles, one of them a TIFF."""
    import numpy as np

    from shapeworld.scenes import scene_of
    from viewfinder.images import synthetic

    root = tmp_path_factory.mktemp("shapes")
    library, index = root / "library", root / "index"
    for path, scene in synthetic.generate_library(library, 120, seed=2_024):
        if any(o.shape == "star" for o in scene.objects):
            path.unlink()
    rng = np.random.default_rng(2_025)
    for number in range(3):
        picture = synthetic.render_scene(scene_of("circle", "red", rng), (320, 240), rng)
        picture.save(library / ("scan-of-a-picture.tiff" if number == 0 else f"red-circle-extra-{number}.jpg"))
    indexing = [sys.executable, "-m", "viewfinder", "index", str(library), "--index", str(index)]
    subprocess.run([*indexing, "--model", "test:shapes"], check=True, capture_output=True, env=cli_env(), timeout=600)
    with _serving(index, root, {}) as url:
        yield url


@pytest.fixture
def shapes_page(browser: sync_api.Browser, shapes_server: str) -> Iterator[sync_api.Page]:
    """A desktop-sized page on the test:shapes server; page errors fail the test."""
    yield from desktop_page(browser, shapes_server)


@pytest.fixture
def shapes_phone(browser: sync_api.Browser, shapes_server: str) -> Iterator[sync_api.Page]:
    """The test:shapes server's page on a phone-sized touch screen (390 × 844)."""
    yield from phone_page(browser, shapes_server)


@pytest.fixture(scope="session")
def third_library(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """72 pictures, 24 of them red circles (write_third_library)."""
    return write_third_library(tmp_path_factory.mktemp("third"))


@pytest.fixture(scope="session")
def third_server(third_library: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server at its default relevance over the third library, indexed with test:shapes: the
    model trained on varied renderings, which ranks this library's 24 red circles first for "a red circle"
    (test:shapes, trained on one renderer, mixes in red squares and yellow circles)."""
    folder = tmp_path_factory.mktemp("third-index")
    root = third_library[0].parents[1]
    indexing = [sys.executable, "-m", "viewfinder", "index", str(root), "--index", str(folder / "index")]
    indexing += ["--model", "test:shapes"]
    subprocess.run(indexing, check=True, capture_output=True, env=cli_env(), timeout=600)
    with _serving(folder / "index", folder, {}) as url:
        yield url


@pytest.fixture
def third_page(browser: sync_api.Browser, third_server: str) -> Iterator[sync_api.Page]:
    """A desktop-sized page on the third library's server; page errors fail the test."""
    yield from desktop_page(browser, third_server)


@pytest.fixture(scope="session")
def multilingual_server(library: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server over the generated library indexed with test:shapes (en, fr, de, es)."""
    folder = tmp_path_factory.mktemp("multilingual")
    indexing = [
        sys.executable,
        "-m",
        "viewfinder",
        "index",
        str(library[0].parents[1]),
        "--index",
        str(folder / "index"),
    ]
    indexing += ["--model", "test:shapes"]
    subprocess.run(indexing, check=True, capture_output=True, env=cli_env(), timeout=600)
    with _serving(folder / "index", folder, {}, "--min-relevance", "0") as url:
        yield url


@pytest.fixture
def multilingual_page(browser: sync_api.Browser, multilingual_server: str) -> Iterator[sync_api.Page]:
    """A desktop-sized page on the multilingual server; page errors fail the test."""
    yield from desktop_page(browser, multilingual_server)


@pytest.fixture(scope="session")
def s3_server(seaweed, library: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`viewfinder serve --index s3://…` over a snapshot of the test library indexed from a bucket."""
    folder = tmp_path_factory.mktemp("s3-web")
    seaweed.client().create_bucket(Bucket=BUCKET)
    upload_folder(seaweed.client(), BUCKET, library[0].parents[1], "library")
    index, snapshot = folder / "index", f"s3://{BUCKET}/indexes/web"
    steps = [
        ["index", f"s3://{BUCKET}/library", "--index", str(index), "--model", MODEL, "--runtime", "onnx", "--json"],
        ["publish", "--index", str(index), "--to", snapshot],
    ]
    for step in steps:
        subprocess.run([sys.executable, "-m", "viewfinder", *step], check=True, capture_output=True, env=cli_env())
    env = {"VIEWFINDER_SNAPSHOT_CACHE": str(folder / "snapshots")}
    with _serving(snapshot, folder, env, "--min-relevance", "0") as url:
        yield url


@pytest.fixture
def s3_page(browser: sync_api.Browser, s3_server: str) -> Iterator[sync_api.Page]:
    """A desktop-sized page on the S3-backed server; page errors fail the test."""
    yield from desktop_page(browser, s3_server)


@pytest.fixture(scope="session")
def browser() -> Iterator[sync_api.Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium).")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: sync_api.Browser, server: str) -> Iterator[sync_api.Page]:
    """A fresh desktop-sized page on the server; page errors fail the test."""
    yield from desktop_page(browser, server)


def desktop_page(browser: sync_api.Browser, base_url: str) -> Iterator[sync_api.Page]:
    """A desktop-sized page on `base_url`, for a fixture to yield; errors the page raises fail the test."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


@pytest.fixture
def phone(browser: sync_api.Browser, server: str) -> Iterator[sync_api.Page]:
    """The page on a phone-sized touch screen (390 × 844)."""
    yield from phone_page(browser, server)


def phone_page(browser: sync_api.Browser, base_url: str) -> Iterator[sync_api.Page]:
    """A phone-sized touch screen page (390 × 844) on `base_url`, for a fixture to yield."""
    context = browser.new_context(
        base_url=base_url,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    yield context.new_page()
    context.close()


@pytest.fixture
def snapshot() -> Callable[[sync_api.Page, str], None]:
    """Saves a screenshot of a state when VIEWFINDER_SCREENSHOTS names a folder (e.g. docs/screenshots)."""
    folder = os.environ.get("VIEWFINDER_SCREENSHOTS")

    def save(page: sync_api.Page, name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.wait_for_function(IMAGES_IN_VIEW_LOADED)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), animations="disabled")

    return save


BIG_PHOTO = "big-photo.jpg"


@pytest.fixture(scope="session")
def big_photo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A server over a 5 MP camera-like JPEG (noise over gradients, quality 95) and small photos of other
    shapes (4:3, a 2:3 portrait, an 8:1 panorama); yields the URL and the big photo's path."""
    import numpy as np

    root = tmp_path_factory.mktemp("big-photo")
    library = root / "library"
    library.mkdir()
    rng = np.random.default_rng(24)
    height, width = 1800, 2800
    ramp = np.linspace(0, 1, width)[None, :, None] * np.array([180, 90, 40]) + np.linspace(40, 0, height)[:, None, None]
    pixels = np.clip(ramp + rng.normal(0, 18, (height, width, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(library / BIG_PHOTO, quality=95)
    for name, size, colour in (("small", (320, 240), (200, 40, 40)), ("portrait", (300, 450), (40, 40, 200))):
        Image.new("RGB", size, colour).save(library / f"{name}.jpg")
    Image.fromarray(pixels[:300, :2400]).save(library / "panorama.jpg", quality=90)
    indexing = [sys.executable, "-m", "viewfinder", "index", str(library), "--index", str(root / "index")]
    subprocess.run([*indexing, "--model", "test:tiny"], check=True, capture_output=True, env=cli_env(), timeout=600)
    with _serving(root / "index", root, {}, "--min-relevance", "0") as url:
        yield url, library / BIG_PHOTO
