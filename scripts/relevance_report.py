"""The tables of scripts/bench_relevance.py: plain text for a terminal, or a section for BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

COLUMNS = ("form", "bucket", "n", "shown", "recall", "precision", "rank P@R", "empty", "closest", "self")


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _rows(summaries: list[dict], buckets: bool) -> list[list[str]]:
    rows = []
    for s in summaries:
        if not buckets and s["bucket"] != "all":
            continue
        values = [s["form"], s["bucket"], s["cases"], s["shown"], s["recall"], s["precision"], s["ranking"]]
        rows.append([_cell(v) for v in [*values, s["empty_rate"], s["closest_rate"], s["self_shown_rate"]]])
    return rows


def _plain(rows: list[list[str]], header: Sequence[str] = COLUMNS) -> str:
    widths = [max(len(row[i]) for row in [list(header), *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in [list(header), *rows]
    ]
    return "\n".join(lines)


def _markdown_table(rows: list[list[str]], header: Sequence[str] = COLUMNS) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])


def _replay_rows(replayed: dict[str, list[dict]]) -> tuple[list[str], list[list[str]]]:
    """Rows of form × threshold: "recall/precision" where there are right answers, "empty rate" where not."""
    thresholds = list(replayed)
    header = ["form", *(f"cut {float(t):g}" for t in thresholds)]
    cells: dict[str, list[str]] = {}
    for threshold in thresholds:
        for s in replayed[threshold]:
            cell = (
                f"{_cell(s['recall'])}/{_cell(s['precision'])}" if s["empty_rate"] is None else _cell(s["empty_rate"])
            )
            cells.setdefault(s["form"], []).append(cell)
    return header, [[form, *row] for form, row in cells.items()]


def _sections(report: dict, render) -> list[str]:
    parts = []
    for model, summaries in report["overall"].items():
        libraries = [run["library"] for run in report["runs"] if run["model"] == model]
        parts.append(f"### {model}: all libraries ({', '.join(libraries)}), by concept frequency\n")
        parts.append(render(_rows(summaries, buckets=True)) + "\n")
        for run in report["runs"]:
            if run["model"] == model:
                parts.append(f"### {model}: {run['library']} ({run['pictures']} pictures)\n")
                parts.append(render(_rows(run["summary"], buckets=False)) + "\n")
        header, rows = _replay_rows(report["replay"][model])
        parts.append(f"### {model}: had the cut been a fixed threshold (all libraries; recall/precision, or empty)\n")
        parts.append(render(rows, header) + "\n")
    return parts


LEGEND = (
    "n: queries; shown: mean results shown above the cut; recall = |shown ∩ right| / min(|right|, k); "
    "precision = |shown ∩ right| / |shown| over queries that showed something; rank P@R: precision of the "
    "uncut ranking's top min(|right|, k); empty: share of the queries that should show nothing that showed "
    "nothing; closest: share of the queries with nothing above the cut that listed the closest few below it "
    "instead; self: share of find-similar queries that show the query picture itself (not scored); for "
    "unknown-language, precision is the share of what was shown that shows the pair the words mean. "
    "The replay tables apply a fixed threshold to the uncut ranking's ratings instead of the method's own cut."
)


def table(report: dict) -> str:
    """The figures as plain text tables."""
    run = report["conditions"]
    head = (
        f"k = {report['k']}, default min_relevance, {report['size']} pictures per library, seed {report['seed']}; "
        f"commit {run['commit']}, {run['date']}, load average {run['load_average']}"
    )
    return "\n".join([head, LEGEND, "", *_sections(report, _plain), f"({report['seconds']} s)"])


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()


def conditions() -> dict:
    """What the figures were measured on: the commit, the machine and how busy it was."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = _git(root, "rev-parse", "--short", "HEAD") + (
            " (modified)" if _git(root, "status", "--porcelain") else ""
        )
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "commit": commit,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, no GPU used",
        "python": platform.python_version(),
        "load_average": round(os.getloadavg()[0], 1),
    }


def markdown(report: dict) -> str:
    """The figures as a section for BENCHMARKS.md, with the conditions they were measured under."""
    libraries = sorted({run["library"] for run in report["runs"]})
    run = report["conditions"]
    conditions = (
        f"Measured with `python scripts/bench_relevance.py{' --quick' if report['quick'] else ''} --markdown` at "
        f"commit {run['commit']} on {run['date']} ({run['machine']}, Python {run['python']}, load average "
        f"{run['load_average']}), in {report['seconds']:.0f} s. Libraries: {', '.join(libraries)}; "
        f"{report['size']} JPEG pictures each (seed {report['seed']}), each picture's main concept (colour, shape) "
        f"drawn with shares {', '.join(f'{share:.1%}' for share in report['target_shares'])} and "
        f"{len(report['absent_pairs'])} pairs absent; every query at default settings (no "
        f"`min_relevance`), k = {report['k']}, the relevance calibration measured afresh."
    )
    head = "## Relevance: what a search shows at default settings (`scripts/bench_relevance.py`)\n"
    return "\n".join([head, conditions, "", LEGEND, "", *_sections(report, _markdown_table)])
