"""Test helpers: generated image libraries and ways to run the real command line.

A plain module (not conftest.py), so that every test file imports the same helpers whichever folder's
conftest pytest loaded last.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from viewfinder.cli import main

SRC = Path(__file__).resolve().parents[1] / "src"


def write_colour_images(folder: Path, count: int, seed: int = 0, start: int = 0) -> list[Path]:
    """Writes `count` small JPEG/PNG images with random colour gradients; returns their paths."""
    rng = np.random.default_rng(seed)
    paths = []
    for number in range(start, start + count):
        low, high = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        ramp = np.linspace(0, 1, 96)[None, :, None]
        pixels = (low + (high - low) * ramp).repeat(72, axis=0).astype(np.uint8)
        suffix = ".png" if number % 4 == 0 else ".jpg"
        path = folder / ("nested" if number % 3 == 0 else "") / f"image-{number:04d}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def run_cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """Runs the CLI in this process (its real entry point) and returns (exit code, stdout, stderr)."""
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_cli_json(capsys: pytest.CaptureFixture, *args: str) -> dict:
    code, out, err = run_cli(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "viewfinder", *[str(arg) for arg in args]]


def cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def run_subprocess(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs the CLI as a separate process, as a user would."""
    return subprocess.run(cli_command(*args), capture_output=True, text=True, env=cli_env(), timeout=timeout)


def run_check(capsys: pytest.CaptureFixture, index: Path, *options: str) -> tuple[int, dict]:
    """`viewfinder check --json` on an index: its exit code (0 healthy, 2 problems) and its report."""
    code, out, err = run_cli(capsys, "check", "--index", index, "--json", *options)
    assert code in (0, 2), err
    return code, json.loads(out)
