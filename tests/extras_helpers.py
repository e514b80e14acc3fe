"""Runs Python code in a separate process in which some installed packages cannot be imported, as in an install
without the extra that brings them: `import` raises ModuleNotFoundError for them and `importlib.util.find_spec`
finds nothing, while every other package imports as usual."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

from cli_helpers import cli_env

# Wraps every finder of the process so that it finds nothing of the hidden packages (their top-level names,
# the first argument, comma-separated); the rest of the command line is the code's own.
HIDE = """
import sys

hidden = set(sys.argv.pop(1).split(","))


class Hiding:
    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in hidden:
            return None
        return self.finder.find_spec(name, path, target)

    def __getattr__(self, name):
        return getattr(self.finder, name)


sys.meta_path[:] = [Hiding(finder) for finder in sys.meta_path]
"""
CLI = "from viewfinder.cli import main\nsys.exit(main())\n"


def run_without(
    hidden: Sequence[str], code: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Runs `code` (after the hiding) with `args` as its command line, the packages `hidden` not installed."""
    command = [sys.executable, "-c", HIDE + code, ",".join(hidden), *[str(arg) for arg in args]]
    return subprocess.run(command, capture_output=True, text=True, env={**cli_env(), **(env or {})}, timeout=300)


def run_cli_without(
    hidden: Sequence[str], *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """The real command line (the `viewfinder` script's entry point), the packages `hidden` not installed."""
    return run_without(hidden, CLI, *args, env=env)
