"""How benchmark results are shown: aligned tables and percentiles."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def format_table(rows: Sequence[dict]) -> str:
    """Rows of a benchmark result as aligned text columns."""
    if not rows:
        return ""
    columns = list(rows[0])
    cells = [[_cell(row[column]) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True))]
    lines += ["  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)) for line in cells]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.0f}"
    return str(value)


def percentile(values: Sequence[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3)
