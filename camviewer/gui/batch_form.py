"""The batch dialog's fields as plain values, the :class:`BatchRequest` they describe, and the
progress line's rate and time left (Qt-free: tests drive them without widgets)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from camviewer import errors
from camviewer.batch.config import parse_grids
from camviewer.batch.run import BatchRequest
from camviewer.metrics.perturbation import DEFAULT_PERTURBATION, parse_perturbation

MIN_RATE_SECONDS = 1.0  # no rate (and no ETA) from less time than this


@dataclass(frozen=True)
class BatchForm:
    """What the dialog's fields hold; ``workers`` 0 is automatic, ``labels`` "" is none."""

    folder: str
    out: str
    labels: str = ""
    methods: tuple[str, ...] = ("gradcam",)
    grids: str = "9"
    perturbation: str = str(DEFAULT_PERTURBATION)
    seed: int = 0
    workers: int = 0


def batch_request(form: BatchForm) -> BatchRequest:
    """The run the form describes; a value that is not valid raises :class:`~camviewer.errors.UsageError`."""
    folder = _path(form.folder, "folder", "choose the folder of images")
    out = _path(form.out, "out", "choose the output folder")
    labels = Path(form.labels.strip()).expanduser() if form.labels.strip() else None
    if not form.methods:
        raise errors.UsageError("tick at least one method", option="methods")
    grids = parse_grids(form.grids)
    perturbation = parse_perturbation(form.perturbation)
    return BatchRequest(folder, out, form.methods, grids, perturbation, form.seed, labels=labels, workers=form.workers or None)


def _path(text: str, option: str, missing: str) -> Path:
    if not text.strip():
        raise errors.UsageError(missing, option=option)
    return Path(text.strip()).expanduser()


class Throughput:
    """``done of total, images/s, ETA`` from one run's progress updates; its first update is the start
    (a resumed run's earlier rows do not count towards the rate)."""

    def __init__(self) -> None:
        self._start: tuple[float, int] | None = None

    def text(self, done: int, total: int, now: float) -> str:
        if self._start is None:
            self._start = (now, done)
        started, first = self._start
        line = f"{done} of {total}"
        if now - started < MIN_RATE_SECONDS or done <= first:
            return line
        rate = (done - first) / (now - started)
        return f"{line}, {rate:.2f} images/s, ETA {clock((total - done) / rate)}"


def clock(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
