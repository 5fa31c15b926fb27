"""The report's plots as inline SVG, drawn from a summary (:func:`camviewer.batch.summary.summarise`).

- MoRF plot: per method its mean MoRF curve f(x^(k)) against k / L, the fraction of regions perturbed.
- AOPC-vs-length plot: per method its mean AOPC(l) against l = 1..L.

Matplotlib without pyplot: one :class:`~matplotlib.figure.Figure` per plot, no global figure state.
The output is deterministic: matplotlib's default style, a fixed SVG hash salt per plot, no date;
text stays text (``svg.fonttype`` none: no embedded glyphs, no fonts to fetch). The XML prolog,
doctype, namespace declarations and group ids are removed, so several plots can sit in one HTML page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import matplotlib.style
from matplotlib.figure import Figure

STYLE = {"svg.fonttype": "none", "font.size": 9}
SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
NAMESPACES = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')
GROUP_IDS = re.compile(r'<g id="[^"]*"')

Line = tuple[str, list[float], list[float]]


def morf_plot(summary: dict[str, Any], method_names: Sequence[str], grid: int) -> str:
    """Mean MoRF curve per method at ``grid``, against the fraction of regions perturbed."""
    lines = []
    for name in method_names:
        curve = _grid_entry(summary, name, grid).get("morf_curve_mean")
        if curve:
            steps = len(curve) - 1
            lines.append((name, [k / steps for k in range(len(curve))], list(curve)))
    return _svg(lines, f"Mean MoRF curve, grid {grid}×{grid}", "fraction of regions perturbed (k / L)", "f(x^(k))", f"morf-{grid}")


def aopc_length_plot(summary: dict[str, Any], method_names: Sequence[str], grid: int) -> str:
    """Mean AOPC(l) per method at ``grid``, against l = 1..L."""
    lines = []
    for name in method_names:
        by_length = _grid_entry(summary, name, grid).get("aopc_by_length_mean")
        if by_length:
            lines.append((name, [float(k) for k in range(1, len(by_length) + 1)], list(by_length)))
    return _svg(lines, f"Mean AOPC(l), grid {grid}×{grid}", "regions perturbed l", "AOPC(l)", f"aopc-{grid}")


def _grid_entry(summary: dict[str, Any], name: str, grid: int) -> dict[str, Any]:
    """The summary's entry for ``name`` at ``grid``, empty when it has none."""
    grids = summary.get("methods", {}).get(name, {}).get("grids", [])
    return next((g for g in grids if g.get("grid") == grid), {})


def _svg(lines: Sequence[Line], title: str, xlabel: str, ylabel: str, salt: str) -> str:
    """One plot of ``lines`` (label, x, y) as SVG markup for an HTML page."""
    with matplotlib.style.context(["default", STYLE | {"svg.hashsalt": f"camviewer-{salt}"}]):
        figure = Figure(figsize=(5.0, 3.2))
        axes = figure.add_subplot()
        for label, x, y in lines:
            axes.plot(x, y, label=label, linewidth=1.5)
        if lines:
            axes.legend(loc="best", fontsize=8)
        else:
            axes.text(0.5, 0.5, "no curves", ha="center", va="center", transform=axes.transAxes)
        axes.set_title(title)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        axes.grid(True, alpha=0.3)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="svg", metadata=SVG_METADATA)
    text = buffer.getvalue().decode("utf-8")
    return GROUP_IDS.sub("<g", NAMESPACES.sub("", text[text.index("<svg"):])).strip()
