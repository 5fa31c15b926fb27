"""A batch run's summary: counts, classification report, per-method metrics and paired comparisons.

Definitions (every value a plain JSON number, string, list, dict or None; None where undefined):

- a mean is ``statistics.fmean`` (the exactly rounded sum divided by n: independent of the rows'
  order), over the rows that have the value; a non-finite value counts as missing, except the
  relative Max Sensitivity, whose infinite values are counted apart (``relative_infinite``).
- ``aopc_mean`` at a grid: over the ok rows whose method has an AOPC there; ``aopc_mean_correct``
  over those whose prediction is correct. ``morf_curve_mean``: the element-wise mean of the MoRF
  curves f(x^(k)), k = 0..L, L = R² for grid R; ``aopc_by_length_mean``: the mean of AOPC(l), l = 1..L.
- HAAS = accuracy on the heatmap-assisted images / accuracy on the originals, each Σ matches / Σ
  label_count over the rows with both counts.
- classification: accuracy is the mean of ``correct``; the per-class report (scikit-learn,
  ``zero_division=0``) compares the label set with the predicted set: {predicted_label} for a
  single-label model, the findings with probability >= 0.5 for a multi-label one; the label set
  is the label's name (single-label) or its "a|b" parts (multi-label). The report lists the model's
  classes that occur as a label or a prediction, in the model's order.
- comparisons, per grid and pair of methods (a before b in the run's order), over the rows with
  both AOPCs: the mean of a − b, the Wilcoxon signed-rank p (``scipy.stats.wilcoxon(a, b)``), and
  the 95 % BCa bootstrap interval of the mean difference (9999 resamples, seeded with the run's seed).
"""

from __future__ import annotations

import itertools
import math
import statistics
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence, Set
from typing import Any

import numpy as np
from scipy import stats
from sklearn.metrics import precision_recall_fscore_support

from camviewer.batch.config import BatchConfig
from camviewer.batch.records import ImageRecord, MethodRecord
from camviewer.metrics.aopc import aopc_by_length

BOOTSTRAP_RESAMPLES = 9999
BOOTSTRAP_BATCH_VALUES = 4_000_000
"""Resampled values held at once by the bootstrap (its ``batch``): the same interval, bounded memory."""


def mean(values: Iterable[float]) -> float | None:
    """The mean of the finite values (``statistics.fmean``), None when there are none."""
    finite = [float(v) for v in values if math.isfinite(v)]
    return statistics.fmean(finite) if finite else None


class _CurveMean:
    """The running element-wise sum of curves of one length (L + 1 values), for their mean."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.count = 0
        self.curve = np.zeros(length)
        self.by_length = np.zeros(length - 1)

    def add(self, curve: Sequence[float]) -> None:
        values = np.asarray(curve, dtype=np.float64)
        if len(values) == self.length and np.isfinite(values).all():
            self.count += 1
            self.curve += values
            self.by_length += aopc_by_length(values)

    def means(self) -> tuple[list[float] | None, list[float] | None]:
        if not self.count:
            return None, None
        return (self.curve / self.count).tolist(), (self.by_length / self.count).tolist()


class _Tally:
    """What the summary needs from the rows, gathered in one pass (per-row floats, never the records)."""

    def __init__(self, config: BatchConfig) -> None:
        self.config = config
        self.images = self.ok = self.explained = 0
        self.failed: Counter[str] = Counter()
        self.labelled: list[tuple[str, tuple[str | None, ...], bool | None]] = []
        self.correct: list[bool] = []
        self.aopc: list[list[tuple[float | None, ...]]] = [[] for _ in config.grids]
        self.curves = {(m, k): _CurveMean(g * g + 1) for m in config.methods for k, g in enumerate(config.grids)}
        self.sensed: dict[tuple[str, int], list[tuple[float, float]]] = {
            (m, k): [] for m in config.methods for k in range(len(config.sensitivity))}
        self.haas: dict[str, list[tuple[int, int, int]]] = {m: [] for m in config.methods}
        self.located: dict[str, list[tuple[bool, float, float]]] = {m: [] for m in config.methods}

    def add(self, record: ImageRecord) -> None:
        self.images += 1
        if not record.ok:
            self.failed[record.reason or record.status] += 1
            return
        self.ok += 1
        if record.label is not None:
            predicted = record.findings if record.findings is not None else (record.predicted_label,)
            self.labelled.append((record.label, predicted, record.correct))
        if record.methods:
            self.explained += 1
            self._add_methods(record)

    def _add_methods(self, record: ImageRecord) -> None:
        found = [record.method(name) for name in self.config.methods]
        self.correct.append(record.correct is True)
        for k, rows in enumerate(self.aopc):
            rows.append(tuple(_aopc(m, k) for m in found))
        for m in found:
            if m is not None:
                self._add_method(record, m)

    def _add_method(self, record: ImageRecord, m: MethodRecord) -> None:
        for k, curve in enumerate(m.curves[: len(self.config.grids)]):
            self.curves[m.method, k].add(curve)
        for k, spec in enumerate(self.config.sensitivity):
            self.sensed[m.method, k] += [(s.absolute, s.relative) for s in m.sensitivity
                                         if s.radius == spec.radius and s.samples == spec.samples][:1]
        if record.matches is not None and record.label_count is not None and m.assisted_matches is not None:
            self.haas[m.method].append((record.matches, m.assisted_matches, record.label_count))
        if m.located is not None:
            self.located[m.method].append((m.located.pointing_game, m.located.energy, m.located.iou))


def _aopc(m: MethodRecord | None, grid: int) -> float | None:
    """The method's AOPC at the run's grid number ``grid``, None when it has none (or not a finite one)."""
    if m is None or grid >= len(m.aopc) or not math.isfinite(m.aopc[grid]):
        return None
    return float(m.aopc[grid])


def summarise(records: Iterable[ImageRecord], config: BatchConfig, classes: Sequence[str], multilabel: bool) -> dict[str, Any]:
    """The run's summary as plain JSON values (module docstring)."""
    tally = _Tally(config)
    for record in records:
        tally.add(record)
    return {
        "counts": {"images": tally.images, "ok": tally.ok, "failed": dict(sorted(tally.failed.items())),
                   "explained": tally.explained, "labelled": len(tally.labelled)},
        "classification": classification(tally.labelled, classes, multilabel),
        "methods": {name: _method(tally, k, name) for k, name in enumerate(config.methods)},
        "comparisons": [comparison(tally.aopc[k], a, b, grid, config) for k, grid in enumerate(config.grids)
                        for a, b in itertools.combinations(range(len(config.methods)), 2)],
    }


def classification(rows: Sequence[tuple[str, tuple[str | None, ...], bool | None]], classes: Sequence[str],
                   multilabel: bool) -> dict[str, Any] | None:
    """Accuracy and the per-class report of (label, predicted labels, correct) rows; None without rows."""
    if not rows:
        return None
    truth = [set(label.split("|")) if multilabel else {label} for label, _, _ in rows]
    predicted = [set(p) for _, p, _ in rows]
    seen = set().union(*truth, *predicted)
    names = [c for c in classes if c in seen]
    judged = [c for _, _, c in rows if c is not None]
    report: dict[str, Any] = {"labelled": len(rows), "accuracy": statistics.fmean(judged) if judged else None,
              "per_class": [], "macro_avg": None, "weighted_avg": None}
    if names:
        y_true, y_pred = _indicators(truth, names), _indicators(predicted, names)
        p, r, f, s = _per_class(y_true, y_pred, None)
        report["per_class"] = [{"class": name} | _scores(p[k], r[k], f[k], s[k]) for k, name in enumerate(names)]
        for average in ("macro", "weighted"):
            p, r, f, _ = _per_class(y_true, y_pred, average)
            report[f"{average}_avg"] = _scores(p, r, f, int(y_true.sum()))
    return report


def _per_class(y_true: np.ndarray, y_pred: np.ndarray, average: str | None) -> Any:
    """scikit-learn's precision, recall, F1 and support over (rows, classes) indicator matrices."""
    if y_true.shape[1] == 1:  # one class: scikit-learn would read the column as a binary target of two classes
        return precision_recall_fscore_support(y_true[:, 0], y_pred[:, 0], labels=[1], average=average, zero_division=0)
    return precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)


def _indicators(sets: Sequence[Set[str | None]], names: Sequence[str]) -> np.ndarray:
    """A (rows, classes) 0/1 matrix: row i has class j in its set."""
    return np.array([[name in s for name in names] for s in sets], dtype=int).reshape(len(sets), len(names))


def _scores(precision: float, recall: float, f1: float, support: int) -> dict[str, Any]:
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1), "support": int(support)}


def _method(tally: _Tally, index: int, name: str) -> dict[str, Any]:
    config = tally.config
    grids = []
    for k, grid in enumerate(config.grids):
        values = [(v, ok) for row, ok in zip(tally.aopc[k], tally.correct) if (v := row[index]) is not None]
        correct = [v for v, ok in values if ok]
        curve, by_length = tally.curves[name, k].means()
        grids.append({"grid": grid, "n": len(values), "aopc_mean": mean(v for v, _ in values), "n_correct": len(correct),
                      "aopc_mean_correct": mean(correct), "morf_curve_mean": curve, "aopc_by_length_mean": by_length})
    return {"grids": grids,
            "sensitivity": [_sensitivity(tally.sensed[name, k], s.radius, s.samples) for k, s in enumerate(config.sensitivity)],
            "haas": _haas(tally.haas[name]) if config.haas else None,
            "localisation": _localisation(tally.located[name])}


def _sensitivity(values: list[tuple[float, float]], radius: float, samples: int) -> dict[str, Any]:
    relative = [r for _, r in values]
    return {"radius": radius, "samples": samples, "n": len(values), "absolute_mean": mean(a for a, _ in values),
            "relative_mean": mean(relative), "relative_infinite": sum(math.isinf(r) for r in relative)}


def _haas(counts: list[tuple[int, int, int]]) -> dict[str, Any]:
    """Accuracy on the originals and on the heatmap-assisted images over (matches, assisted, label_count) rows."""
    total = sum(c for _, _, c in counts)
    original = sum(m for m, _, _ in counts) / total if total else None
    assisted = sum(a for _, a, _ in counts) / total if total else None
    score = assisted / original if original and assisted is not None else None
    return {"n": len(counts), "accuracy_original": original, "accuracy_assisted": assisted, "haas": score}


def _localisation(rows: list[tuple[bool, float, float]]) -> dict[str, Any] | None:
    if not rows:
        return None
    return {"n": len(rows), "pointing_game": statistics.fmean(float(p) for p, _, _ in rows),
            "energy": mean(e for _, e, _ in rows), "iou": mean(i for _, _, i in rows)}


def comparison(rows: Sequence[tuple[float | None, ...]], a: int, b: int, grid: int, config: BatchConfig) -> dict[str, Any]:
    """Methods ``a`` and ``b`` compared on the rows with both AOPCs at ``grid`` (module docstring)."""
    pairs = [(row[a], row[b]) for row in rows if row[a] is not None and row[b] is not None]
    out: dict[str, Any] = {"grid": grid, "a": config.methods[a], "b": config.methods[b], "n": len(pairs),
                           "mean_difference": None, "wilcoxon_p": None, "bootstrap_ci95": None, "note": None}
    if not pairs:
        return out | {"note": "no paired rows"}
    x, y = np.array(pairs, dtype=np.float64).T
    diff = x - y
    p, wilcoxon_note = _wilcoxon(x, y, diff)
    ci, bootstrap_note = _bootstrap(diff, config.seed)
    note = "; ".join(n for n in (wilcoxon_note, bootstrap_note) if n) or None
    return out | {"mean_difference": statistics.fmean(diff.tolist()), "wilcoxon_p": p, "bootstrap_ci95": ci, "note": note}


def _wilcoxon(x: np.ndarray, y: np.ndarray, diff: np.ndarray) -> tuple[float | None, str | None]:
    if len(diff) < 2:
        return None, "fewer than 2 paired rows: no Wilcoxon test"
    if not diff.any():
        return None, "all differences are zero: no Wilcoxon test"
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        p = float(stats.wilcoxon(x, y).pvalue)
    return (p, None) if math.isfinite(p) else (None, "the Wilcoxon p-value is undefined")


def _bootstrap(diff: np.ndarray, seed: int) -> tuple[list[float] | None, str | None]:
    if (diff == diff[0]).all():
        return [float(diff[0]), float(diff[0])], None
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        interval = stats.bootstrap((diff,), np.mean, confidence_level=0.95, n_resamples=BOOTSTRAP_RESAMPLES,
                                   batch=max(1, BOOTSTRAP_BATCH_VALUES // len(diff)), rng=np.random.default_rng(seed)).confidence_interval
    low, high = float(interval.low), float(interval.high)
    if not (math.isfinite(low) and math.isfinite(high)):
        return None, "the bootstrap interval is undefined (degenerate differences)"
    return [low, high], None
