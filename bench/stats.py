"""Medians, percentiles and the printed table."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"n": 0, "median": float("nan"), "p90": float("nan"), "p95": float("nan")}
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p90": percentile(values, 90),
        "p95": percentile(values, 95),
    }


def fmt(value: Any, unit: str = "") -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        text = f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
        return text + unit
    return f"{value}{unit}"


def table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("figure", "measured", "target", "ok")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)
