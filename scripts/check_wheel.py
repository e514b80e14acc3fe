"""Installs the wheel in dist/ as a user would and uses it: a fresh virtual environment, plain `pip install`, no
source tree, no npm, no torch. Then the demo model samples, indexes, searches and serves, and the page shows
results in Chromium. Prints the install's size and time; fails when torch came with it or it passes 500 MB.

    bash scripts/build_dist.sh && .venv/bin/python scripts/check_wheel.py

CI runs it after the test suite (.ci/run). pip reaches PyPI for the dependencies (its cache helps).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
LIMIT_MB = 500
CHROMIUM = os.environ.get("VIEWFINDER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
QUERY = "a red circle"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="the wheel to install (default: the one in dist/)")
    parser.add_argument("--no-cache", action="store_true", help="pip downloads everything (for the install time)")
    args = parser.parse_args()
    wheel = args.wheel or one_wheel(ROOT / "dist")
    with tempfile.TemporaryDirectory(prefix="viewfinder-wheel-") as scratch:
        home = Path(scratch)
        venv = home / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        started = time.monotonic()
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, *(["--no-cache-dir"] if args.no_cache else []), str(wheel)], check=True)
        seconds = time.monotonic() - started
        size_mb = folder_mb(venv)
        print(f"installed {wheel.name} in {seconds:.0f} s: {size_mb} MB ({venv})")
        python = str(venv / "bin" / "python")
        torch = subprocess.run(
            [python, "-c", "import importlib.util as u; print(u.find_spec('torch') is not None)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        failures = []
        if torch != "False":
            failures.append("torch was installed with the wheel")
        if size_mb > LIMIT_MB:
            failures.append(f"the install takes {size_mb} MB, more than {LIMIT_MB} MB")
        failures += use_it(venv / "bin" / "viewfinder", home)
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    print("the wheel works" if not failures else "the wheel does not work", file=sys.stderr)
    return 1 if failures else 0


def one_wheel(folder: Path) -> Path:
    wheels = sorted(folder.glob("viewfinder-*.whl"))
    if len(wheels) != 1:
        sys.exit(f"expected one wheel in {folder}, found {len(wheels)}: run bash scripts/build_dist.sh")
    return wheels[0]


def folder_mb(folder: Path) -> int:
    """Space taken on disk in MB (10^6 bytes), counting whole blocks as `du` does."""
    return sum(path.lstat().st_blocks * 512 for path in folder.rglob("*")) // 1_000_000


def use_it(viewfinder: Path, home: Path) -> list[str]:
    """The demo's steps with the installed command, run from a folder that holds no source tree."""
    # No cache shared with the development tree: the test model must run from what the wheel ships.
    env = {**os.environ, "VIEWFINDER_CACHE": str(home / "cache"), "PYTHONPATH": ""}
    env.pop("VIRTUAL_ENV", None)
    work = home / "work"
    work.mkdir()

    def run(*args: str) -> str:
        done = subprocess.run([str(viewfinder), *args], cwd=work, env=env, capture_output=True, text=True)
        print(f"$ viewfinder {' '.join(args)}\n{done.stdout}{done.stderr}".rstrip())
        if done.returncode != 0:
            raise SystemExit(f"FAILED: viewfinder {' '.join(args)} exited with {done.returncode}")
        return done.stdout

    run("--version")
    run("sample", "library", "--count", "400")  # as the demo (scripts/demo.sh)
    run("index", "library", "--index", "index", "--model", "test:shapes")
    found = run("search", QUERY, "--index", "index", "-k", "5")
    failures = [] if "red" in found and "circle" in found else [f"`search {QUERY!r}` named no red circle"]
    return failures + page_shows_results(viewfinder, work, env)


def page_shows_results(viewfinder: Path, work: Path, env: dict[str, str]) -> list[str]:
    port = free_port()
    command = [str(viewfinder), "serve", "--index", "index", "--port", str(port)]
    server = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz", server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.goto(f"{base}/?q={QUERY.replace(' ', '+')}")
            pictures = page.get_by_role("list", name="Search results").locator("img")
            expect(pictures.first).to_be_visible(timeout=30_000)
            count = pictures.count()
            browser.close()
        print(f"the page at {base} shows {count} results for {QUERY!r}")
        return []
    except AssertionError as error:
        return [f"the page shows no results: {str(error).splitlines()[0]}"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"FAILED: serve exited with {server.returncode}: {server.stderr.read().decode()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"FAILED: serve did not answer {url} within {timeout:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
