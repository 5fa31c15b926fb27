"""The batch summary and results.csv: numbers against literal recomputation (from the records and
from the CSV read back), the classification report against hand-computed examples, the paired
tests against scipy called directly, degenerate comparisons, CSV formula escaping."""

from __future__ import annotations

import csv
import json
import math
import statistics
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import precision_recall_fscore_support

from camviewer import errors
from camviewer.batch.config import BatchConfig
from camviewer.batch.records import OK, ImageRecord, Located, MethodRecord, Sensed, failed
from camviewer.batch.summary import BOOTSTRAP_RESAMPLES, comparison, summarise
from camviewer.batch.tables import aopc_column, result_columns, write_results_csv
from camviewer.io.write import ProtectedInputs
from camviewer.metrics.aopc import aopc, aopc_by_length
from camviewer.metrics.sensitivity import SensitivitySpec

CLASSES = ("normal", "pneumonia", "effusion", "nodule")
METHODS = ("gradcam", "hirescam")
CONFIG = BatchConfig("/data", "model", methods=METHODS, grids=(2, 3), seed=7, sensitivity=(SensitivitySpec(0.1, 4),), haas=True)
# (path, label, predicted, correct): the hand-computed classification example below
ROWS = [("a.dcm", "normal", "normal", True), ("b.dcm", "normal", "pneumonia", False), ("c.dcm", "pneumonia", "pneumonia", True),
        ("d.dcm", "pneumonia", "pneumonia", True), ("e.dcm", "effusion", "normal", False), ("f.dcm", "normal", "normal", True)]


def curve(rng: np.random.Generator, grid: int) -> tuple[float, ...]:
    return tuple(float(v) for v in np.sort(rng.random(grid * grid + 1))[::-1])


def method_record(rng: np.random.Generator, name: str, row: int, config: BatchConfig = CONFIG) -> MethodRecord:
    curves = tuple(curve(rng, g) for g in config.grids)
    relative = math.inf if row == 1 and name == "gradcam" else float(rng.random())
    sensed = tuple(Sensed(s.radius, s.samples, float(rng.random()), relative) for s in config.sensitivity)
    located = Located(row % 2 == 0, float(rng.random()), float(rng.random())) if row < 4 else None
    return MethodRecord(name, tuple(aopc(np.array(c)) for c in curves), curves, sensed, row % 2, located)


def make_records(config: BatchConfig = CONFIG) -> list[ImageRecord]:
    rng = np.random.default_rng(3)
    records = [ImageRecord(path, OK, CLASSES.index(pred), pred, 0.5 + 0.05 * k, label, correct, int(correct), 1,
                           tuple(method_record(rng, m, k, config) for m in config.methods))
               for k, (path, label, pred, correct) in enumerate(ROWS)]
    records += [ImageRecord("g.dcm", OK, 1, "pneumonia", 0.9),  # unlabelled and not explained
                ImageRecord("h.dcm", failed("unreadable")), ImageRecord("i.dcm", failed("unreadable"), label="normal"),
                ImageRecord("j.dcm", failed("truncated"))]
    return records


def summary_of(records: list[ImageRecord], config: BatchConfig = CONFIG, multilabel: bool = False) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return summarise(iter(records), config, CLASSES, multilabel)


def aopcs(records: list[ImageRecord], method: str, grid: int) -> list[float]:
    return [m.aopc[grid] for r in records if (m := r.method(method)) is not None]


def test_counts_and_json() -> None:
    summary = summary_of(make_records())
    assert summary["counts"] == {"images": 10, "ok": 7, "failed": {"truncated": 1, "unreadable": 2}, "explained": 6, "labelled": 6}
    json.dumps(summary, allow_nan=False)


def test_aopc_means_match_the_records_and_the_csv(tmp_path: Path) -> None:
    records = make_records()
    summary = summary_of(records)
    write_results_csv(tmp_path / "results.csv", records, CONFIG, labelled=True, located=True)
    with open(tmp_path / "results.csv", newline="", encoding="utf-8") as fp:
        table = list(csv.DictReader(fp))
    for method in METHODS:
        for k, grid in enumerate(CONFIG.grids):
            entry = summary["methods"][method]["grids"][k]
            values = aopcs(records, method, k)
            column = aopc_column(CONFIG, method, k)
            from_csv = [float(row[column]) for row in table if row[column]]
            assert from_csv == values
            assert entry["n"] == 6 and entry["aopc_mean"] == statistics.fmean(from_csv) == pytest.approx(np.mean(values), abs=1e-15)
            correct = [float(row[column]) for row in table if row["correct"] == "true"]
            assert entry["n_correct"] == 4 and entry["aopc_mean_correct"] == statistics.fmean(correct)
            curves = np.array([r.method(method).curves[k] for r in records if r.method(method)])
            assert entry["morf_curve_mean"] == pytest.approx(curves.mean(axis=0).tolist(), abs=1e-12)
            assert len(entry["morf_curve_mean"]) == grid * grid + 1
            by_length = np.mean([aopc_by_length(c) for c in curves], axis=0)
            assert entry["aopc_by_length_mean"] == pytest.approx(by_length.tolist(), abs=1e-12)


def test_sensitivity_haas_and_localisation() -> None:
    records = make_records()
    summary = summary_of(records)
    explained = [r for r in records if r.methods]
    for method in METHODS:
        sensed = [r.method(method).sensitivity[0] for r in explained]
        entry = summary["methods"][method]["sensitivity"][0]
        finite = [s.relative for s in sensed if math.isfinite(s.relative)]
        assert entry == {"radius": 0.1, "samples": 4, "n": 6, "absolute_mean": statistics.fmean(s.absolute for s in sensed),
                         "relative_mean": statistics.fmean(finite), "relative_infinite": 6 - len(finite)}
        # matches (= correct): 1 0 1 1 0 1 of 1 each; assisted: row % 2 -> 0 1 0 1 0 1
        assert summary["methods"][method]["haas"] == {"n": 6, "accuracy_original": 4 / 6, "accuracy_assisted": 3 / 6, "haas": 0.75}
        located = [r.method(method).located for r in explained[:4]]
        assert summary["methods"][method]["localisation"] == {
            "n": 4, "pointing_game": 0.5, "energy": statistics.fmean(x.energy for x in located),
            "iou": statistics.fmean(x.iou for x in located)}
    assert summary["methods"]["gradcam"]["sensitivity"][0]["relative_infinite"] == 1


def test_single_label_report_by_hand() -> None:
    report = summary_of(make_records()[:5])["classification"]
    assert report["labelled"] == 5 and report["accuracy"] == pytest.approx(0.6)
    # normal: TP 1, FP 1, FN 1; pneumonia: TP 2, FP 1; effusion: FN 1; nodule occurs nowhere
    expected = [("normal", 0.5, 0.5, 0.5, 2), ("pneumonia", 2 / 3, 1.0, 0.8, 2), ("effusion", 0.0, 0.0, 0.0, 1)]
    assert [(e["class"], e["precision"], e["recall"], e["f1"], e["support"]) for e in report["per_class"]] == [
        (name, pytest.approx(p), pytest.approx(r), pytest.approx(f), s) for name, p, r, f, s in expected]
    assert report["macro_avg"] == pytest.approx({"precision": 7 / 18, "recall": 0.5, "f1": 1.3 / 3, "support": 5})
    assert report["weighted_avg"] == pytest.approx({"precision": 7 / 15, "recall": 0.6, "f1": 0.52, "support": 5})
    names = [e["class"] for e in report["per_class"]]
    direct = precision_recall_fscore_support([r[1] for r in ROWS[:5]], [r[2] for r in ROWS[:5]], labels=names, zero_division=0)
    assert [e["f1"] for e in report["per_class"]] == pytest.approx(direct[2].tolist())


def test_multilabel_report_compares_the_label_set_with_the_findings() -> None:
    records = [ImageRecord("a", OK, 0, "normal", 0.9, "normal|pneumonia", False, findings=("normal",)),
               ImageRecord("b", OK, 1, "pneumonia", 0.8, "pneumonia|effusion", True, findings=("pneumonia", "effusion")),
               ImageRecord("c", OK, 0, "normal", 0.7, "effusion", False, findings=("normal", "pneumonia"))]
    report = summary_of(records, multilabel=True)["classification"]
    assert report["accuracy"] == pytest.approx(1 / 3)
    # normal: TP 1 (a), FP 1 (c); pneumonia: TP 1 (b), FN 1 (a), FP 1 (c); effusion: TP 1 (b), FN 1 (c)
    assert [(e["class"], e["precision"], e["recall"], e["support"]) for e in report["per_class"]] == [
        ("normal", 0.5, 1.0, 1), ("pneumonia", 0.5, 0.5, 2), ("effusion", 1.0, 0.5, 2)]


def test_a_report_with_one_class_scores_that_class() -> None:
    """With a single class in play, scikit-learn must not read its column as a two-class binary target."""
    records = [ImageRecord(path, OK, 0, "effusion", 0.9, label, True, findings=("effusion",))
               for path, label in (("a", ""), ("b", "effusion"), ("c", "effusion"))]
    report = summary_of(records, multilabel=True)["classification"]
    assert [(e["class"], e["precision"], e["recall"], e["support"]) for e in report["per_class"]] == [("effusion", pytest.approx(2 / 3), 1.0, 2)]
    assert report["macro_avg"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})


def test_no_labels_no_classification() -> None:
    summary = summary_of([ImageRecord("a", OK, 0, "normal", 0.9), ImageRecord("b", failed("corrupt"), label="normal")])
    assert summary["classification"] is None and summary["counts"]["labelled"] == 0
    assert summary["methods"]["gradcam"]["grids"][0]["aopc_mean"] is None
    assert summary["comparisons"][0]["note"] == "no paired rows"
    json.dumps(summary, allow_nan=False)


def test_comparisons_equal_scipy() -> None:
    records = make_records()
    summary = summary_of(records)
    assert [(c["grid"], c["a"], c["b"]) for c in summary["comparisons"]] == [(2, "gradcam", "hirescam"), (3, "gradcam", "hirescam")]
    for k, entry in enumerate(summary["comparisons"]):
        a, b = np.array(aopcs(records, "gradcam", k)), np.array(aopcs(records, "hirescam", k))
        assert entry["n"] == 6 and entry["mean_difference"] == pytest.approx(np.mean(a - b))
        assert entry["wilcoxon_p"] == float(stats.wilcoxon(a, b).pvalue)
        interval = stats.bootstrap((a - b,), np.mean, confidence_level=0.95, n_resamples=BOOTSTRAP_RESAMPLES,
                                   rng=np.random.default_rng(CONFIG.seed)).confidence_interval
        assert entry["bootstrap_ci95"] == [float(interval.low), float(interval.high)]
        assert entry["note"] is None


def test_bootstrap_in_batches_equals_scipy_in_one() -> None:
    rng = np.random.default_rng(5)
    rows = [(float(a), float(b)) for a, b in rng.random((800, 2))]
    entry = comparison(rows, 0, 1, 2, CONFIG)
    diff = np.array([a - b for a, b in rows])
    interval = stats.bootstrap((diff,), np.mean, n_resamples=BOOTSTRAP_RESAMPLES, rng=np.random.default_rng(CONFIG.seed)).confidence_interval
    assert entry["bootstrap_ci95"] == [float(interval.low), float(interval.high)]


def test_identical_methods_are_degenerate() -> None:
    config = BatchConfig("/data", "model", methods=("gradcam", "copy"), grids=(2,))
    records = []
    for record in make_records(config):
        first = record.method("gradcam")
        methods = (first, MethodRecord("copy", first.aopc, first.curves)) if first else ()
        records.append(ImageRecord(record.path, record.status, methods=methods, correct=record.correct, label=record.label,
                                   predicted_label=record.predicted_label))
    entry = summary_of(records, config)["comparisons"][0]
    assert entry["n"] == 6 and entry["mean_difference"] == 0.0 and entry["wilcoxon_p"] is None
    assert entry["bootstrap_ci95"] == [0.0, 0.0] and "zero" in entry["note"]
    single = summary_of(records[:1], config)["comparisons"][0]
    assert single["n"] == 1 and single["wilcoxon_p"] is None and single["bootstrap_ci95"] == [0.0, 0.0] and "fewer than 2" in single["note"]


def test_csv_columns_and_cells(tmp_path: Path) -> None:
    one_grid = BatchConfig("/data", "model", methods=METHODS, grids=(3,), sensitivity=(SensitivitySpec(0.05, 8),))
    assert result_columns(one_grid, labelled=False, located=False) == [
        "path", "status", "predicted_index", "predicted_label", "probability", "aopc_gradcam", "aopc_hirescam",
        "maxsens_gradcam_r0.05_n8", "maxsens_hirescam_r0.05_n8"]
    assert result_columns(CONFIG, labelled=True, located=True)[5:9] == ["label", "correct", "aopc_gradcam", "aopc_gradcam_grid3"]
    assert result_columns(one_grid, labelled=True, located=False, multilabel=True)[5:8] == ["findings", "label", "correct"]
    assert result_columns(CONFIG, labelled=True, located=True)[-3:] == ["pointing_hirescam", "energy_hirescam", "iou_hirescam"]
    records = [ImageRecord('=HYPERLINK("http://x","y").dcm', OK, 0, "normal", 0.25, "@SUM(A1)", False,
                           methods=(MethodRecord("gradcam", (-0.25, 0.1)), MethodRecord("hirescam", (1e-17, 2.0)))),
               ImageRecord("-1+2.dcm", failed("corrupt"), label="-cmd"), ImageRecord("\tx.dcm", failed("corrupt"), label="+x")]
    path = tmp_path / "results.csv"
    write_results_csv(path, records, CONFIG, labelled=True, located=False)
    assert path.read_bytes().count(b"\r\n") == 4
    with open(path, newline="", encoding="utf-8") as fp:
        rows = list(csv.DictReader(fp))
    assert [r["path"] for r in rows] == ["'=HYPERLINK(\"http://x\",\"y\").dcm", "'-1+2.dcm", "'\tx.dcm"]
    assert [r["label"] for r in rows] == ["'@SUM(A1)", "'-cmd", "'+x"]
    first = rows[0]
    assert (first["aopc_gradcam"], first["aopc_hirescam"], first["aopc_hirescam_grid3"]) == ("-0.25", "1e-17", "2.0")
    assert (first["correct"], first["predicted_index"], first["probability"], first["maxsens_gradcam_r0.1_n4"]) == ("false", "0", "0.25", "")
    assert rows[1]["status"] == "failed:corrupt" and rows[1]["predicted_label"] == "" and rows[1]["aopc_gradcam"] == ""


def test_csv_refuses_to_replace_an_input(tmp_path: Path) -> None:
    source = tmp_path / "input.csv"
    source.write_text("keep")
    with pytest.raises(errors.OutputError):
        write_results_csv(source, make_records(), CONFIG, labelled=True, located=True, protected=ProtectedInputs.of([source]))
    assert source.read_text() == "keep" and [p.name for p in tmp_path.iterdir()] == ["input.csv"]
