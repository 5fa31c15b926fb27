"""``results.csv``: one row per image, RFC 4180 (``csv`` module, CRLF line ends, UTF-8).

Columns: path, status, predicted_index, predicted_label, probability; ``findings`` for a
multi-label model (the classes with probability >= 0.5, "a|b"); label, correct when the run has
labels; per method its AOPC at the first (headline) grid (``aopc_<method>``), then at each further
grid (``aopc_<method>_grid<R>``); per method and Max Sensitivity spec its absolute value
(``maxsens_<method>_r<r:g>_n<n>``); per method, when the run localises, ``pointing_<method>``,
``energy_<method>``, ``iou_<method>``.

Cells: floats as ``repr`` (full precision: the summary's means can be recomputed exactly), None
empty, booleans ``true``/``false``. A text cell starting with ``=``, ``+``, ``-``, ``@``, tab, CR
or NUL gets a leading ``'`` (OWASP, CSV injection), so that a spreadsheet shows it as text rather
than run it as a formula; numbers are never escaped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from camviewer.batch.config import BatchConfig
from camviewer.batch.records import ImageRecord, MethodRecord
from camviewer.io.write import NO_INPUTS, ProtectedInputs, atomic_text_file

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
Cell = str | int | float | bool | None


def result_columns(config: BatchConfig, labelled: bool, located: bool, multilabel: bool = False) -> list[str]:
    """The header of ``results.csv`` (module docstring)."""
    columns = ["path", "status", "predicted_index", "predicted_label", "probability"]
    if multilabel:
        columns += ["findings"]
    if labelled:
        columns += ["label", "correct"]
    columns += [aopc_column(config, m, k) for m in config.methods for k in range(len(config.grids))]
    columns += [f"maxsens_{m}_r{s.radius:g}_n{s.samples}" for m in config.methods for s in config.sensitivity]
    if located:
        columns += [f"{kind}_{m}" for m in config.methods for kind in ("pointing", "energy", "iou")]
    return columns


def aopc_column(config: BatchConfig, method: str, grid_index: int) -> str:
    """``aopc_<method>`` at the headline (first) grid, ``aopc_<method>_grid<R>`` at the others."""
    return f"aopc_{method}_grid{config.grids[grid_index]}" if grid_index else f"aopc_{method}"


def write_results_csv(path: str | Path, records: Iterable[ImageRecord], config: BatchConfig, *, labelled: bool, located: bool,
                      multilabel: bool = False, protected: ProtectedInputs = NO_INPUTS) -> None:
    """Write ``results.csv`` atomically, one row per record in the order given."""
    with atomic_text_file(path, protected) as text:
        writer = csv.writer(text)
        writer.writerow([cell(c) for c in result_columns(config, labelled, located, multilabel)])
        for record in records:
            writer.writerow([cell(c) for c in result_row(record, config, labelled, located, multilabel)])


def result_row(record: ImageRecord, config: BatchConfig, labelled: bool, located: bool, multilabel: bool = False) -> list[Cell]:
    """The record's values in :func:`result_columns` order."""
    row: list[Cell] = [record.path, record.status, record.predicted_index, record.predicted_label, record.probability]
    if multilabel:
        row += ["|".join(record.findings) if record.findings is not None else None]
    if labelled:
        row += [record.label, record.correct]
    found = [record.method(name) for name in config.methods]
    row += [m.aopc[k] if m is not None and k < len(m.aopc) else None for m in found for k in range(len(config.grids))]
    row += [_absolute(m, s.radius, s.samples) for m in found for s in config.sensitivity]
    if located:
        for m in found:
            where = m.located if m is not None else None
            row += [where.pointing_game, where.energy, where.iou] if where is not None else [None, None, None]
    return row


def _absolute(m: MethodRecord | None, radius: float, samples: int) -> float | None:
    """The method's absolute Max Sensitivity for (radius, samples), None when not measured."""
    values = [s.absolute for s in m.sensitivity if s.radius == radius and s.samples == samples] if m is not None else []
    return values[0] if values else None


def cell(value: Cell) -> str:
    """One CSV cell's text (module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(float(value))
    return "'" + value if value.startswith(FORMULA_STARTS) else value
