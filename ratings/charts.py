"""Numbers for the leaderboard's pictures, computed here so the template only places them.

Only numbers and model names (escaped by the template) reach the page: no markup is built here.
"""

from __future__ import annotations

from ratings.engine.result import Matrices, Row

WIDTH, ROW, LEFT = 640, 18, 0


def interval_chart(rows: list[Row]) -> dict:
    """Ratings with their intervals as x positions (0..WIDTH) on a shared axis, one row per model."""
    values = [v for r in rows for v in (r.rating, r.lower, r.upper) if v is not None]
    lo, hi = min(values), max(values)
    pad = max(1.0, (hi - lo) * 0.05)
    lo, hi = lo - pad, hi + pad

    def x(v: float | None) -> float | None:
        return None if v is None else round((v - lo) / (hi - lo) * WIDTH, 2)

    ticks = []
    step = _nice_step((hi - lo) / 6)
    t = (lo // step + 1) * step
    while t < hi:
        ticks.append({"x": x(t), "label": f"{t:g}"})
        t += step
    return {
        "width": WIDTH,
        "height": ROW * len(rows) + 24,
        "rows": [
            {
                "y": ROW * i + ROW // 2,
                "model": r.model,
                "x": x(r.rating),
                "x_lower": x(r.lower),
                "x_upper": x(r.upper),
                "rating": r.rating,
            }
            for i, r in enumerate(rows)
        ],
        "ticks": ticks,
        "axis_y": ROW * len(rows) + 4,
    }


def _nice_step(raw: float) -> float:
    for unit in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if unit >= raw:
            return float(unit)
    return float(round(raw, -3))


def heatmap(matrices: Matrices | None, which: str) -> dict | None:
    """Cells of the win-rate matrix (row beats column) with a colour lightness from the rate."""
    if matrices is None:
        return None
    has_predicted = matrices.predicted is not None
    which = which if which == "predicted" and has_predicted else "observed"
    values = matrices.predicted if which == "predicted" else matrices.observed
    rows = []
    for i, model in enumerate(matrices.models):
        cells = []
        for j, _ in enumerate(matrices.models):
            v = values[i][j] if i != j else None
            # Blue for winning, red for losing; white at 50 %.
            hue = 210 if v is not None and v >= 0.5 else 5
            light = 100 if v is None else round(100 - abs(v - 0.5) * 2 * 55)
            cells.append({"value": v, "hue": hue, "light": light})
        rows.append({"model": model, "cells": cells})
    return {"which": which, "models": matrices.models, "rows": rows, "has_predicted": has_predicted}
