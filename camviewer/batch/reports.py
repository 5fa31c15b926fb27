"""A run's outputs, made from its journal (never from memory), each written atomically:
``results.csv``, ``summary.json``, ``report.html`` and ``maps.zip`` (every raw map as ``.npy``)."""

from __future__ import annotations

import io
import json
import platform
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from camviewer.batch.config import BatchConfig
from camviewer.batch.html_report import write_report
from camviewer.batch.journal import Journal, RunState
from camviewer.batch.summary import summarise
from camviewer.batch.tables import write_results_csv
from camviewer.engine import ModelSession
from camviewer.io.write import atomic_file, atomic_write_bytes

PACKAGES = ("camviewer", "torch", "torchvision", "numpy", "pydicom", "zennit", "scipy", "scikit-learn")


@dataclass(frozen=True)
class Reports:
    results: Path
    summary: Path
    report: Path
    maps: Path


@dataclass(frozen=True)
class RunInfo:
    """What the reports say about the run itself."""

    started: str
    written: str
    seconds: float
    images_per_second: float
    incomplete: bool
    images: int
    skipped: int
    model: str
    model_hash: str
    device: str
    versions: dict[str, str]

    @classmethod
    def now(cls, state: RunState, session: ModelSession, config: BatchConfig, seconds: float, rate: float, incomplete: bool,
            images: int, skipped: int) -> RunInfo:
        return cls(state.started, datetime.now(UTC).isoformat(timespec="seconds"), round(seconds, 3), round(rate, 3),
                   incomplete, images, skipped, session.card.name, config.model.split(":", 1)[1], str(session.device), versions())

    def document(self) -> dict[str, Any]:
        return asdict(self)


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def write_reports(journal: Journal, run: int, config: BatchConfig, session: ModelSession, out: Path, info: RunInfo, *,
                  located: bool, labelled: bool) -> Reports:
    """Every output of the run, from the journal's rows (read again for each, so memory stays flat)."""
    reports = Reports(out / "results.csv", out / "summary.json", out / "report.html", out / "maps.zip")
    card = session.card
    summary = summarise(journal.records(run), config, card.classes, card.multilabel)
    document = {"run": info.document(), "config": config.document(), **summary}
    atomic_write_bytes(reports.summary, json.dumps(document, indent=2, allow_nan=False).encode())
    write_results_csv(reports.results, journal.records(run), config, labelled=labelled, located=located, multilabel=card.multilabel)
    write_report(reports.report, summary, config.document(), info.document(), lambda: journal.records(run),
                 lambda path, method: journal.thumbnail(run, path, method))
    write_maps(reports.maps, journal.maps(run))
    return reports


def write_maps(path: Path, maps: Iterator[tuple[str, str, np.ndarray]]) -> None:
    """A zip of ``<image path>/<method>.npy`` (float32, the engine's resolution), deflated."""
    with atomic_file(path) as fp, zipfile.ZipFile(fp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for image, method, raw in maps:
            buffer = io.BytesIO()
            np.save(buffer, raw, allow_pickle=False)
            archive.writestr(f"{image}/{method}.npy", buffer.getvalue())
