"""``run_batch``: a folder predicted, explained and measured image by image into the run's journal,
then reported. The command line and the window's batch dialog both call it.

Order of work: every check that can fail without computing (folder, output folder, labels, masks,
boxes, the model) runs before the first image. The images (sorted by path) are cut into chunks of
``CHUNK_IMAGES`` on the whole listing; a chunk's rows are committed together, so a resumed run
recomputes whole chunks, with the same images in each as an uninterrupted run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from camviewer import errors
from camviewer.batch.config import BatchConfig, check_grids
from camviewer.batch.executor import Executor, LocalExecutor, ModelLoad, ProcessExecutor
from camviewer.batch.journal import JOURNAL_NAME, Journal, RunState
from camviewer.batch.reports import Reports, RunInfo, write_reports
from camviewer.batch.source import Entry, Listing, check_output_folder, list_images
from camviewer.batch.truth import Truth, read_boxes, read_labels, truth_digest, truth_for
from camviewer.batch.work import Task, failure
from camviewer.engine import ModelSession
from camviewer.engine.requests import check_explanation
from camviewer.explain.targets import TopK
from camviewer.metrics.perturbation import DEFAULT_PERTURBATION, Perturbation
from camviewer.metrics.sensitivity import SensitivitySpec
from camviewer.model.build import load_model
from camviewer.model.card import card_hash
from camviewer.progress import CancelToken, Progress, ProgressCallback

CHUNK_IMAGES = 8
MAX_WORKERS = 8


@dataclass(frozen=True)
class BatchRequest:
    """A batch run: the folder, where its results go, and what to compute.

    ``workers`` None: a worker process per CPU core on a CPU (at most ``MAX_WORKERS``), this
    process on a GPU; 1: this process. ``resume``: there must be a run with this configuration
    in ``out`` to continue (a rerun of the same request continues it anyway).
    """

    folder: Path
    out: Path
    methods: tuple[str, ...] = ("gradcam",)
    grids: tuple[int, ...] = (9,)
    perturbation: Perturbation = DEFAULT_PERTURBATION
    seed: int = 0
    sensitivity: tuple[SensitivitySpec, ...] = ()
    haas: bool = False
    only_correct: bool = False
    layer: str | None = None
    labels: Path | None = None
    masks: Path | None = None
    boxes: Path | None = None
    resume: bool = False
    batch_size: int | None = None
    workers: int | None = None
    request_id: int = 0

    def __post_init__(self) -> None:
        check_explanation(self.methods, (TopK(1),), self.batch_size)
        check_grids(self.grids)
        if (self.haas or self.only_correct) and self.labels is None:
            raise errors.UsageError("HAAS and only-correct need labels", option="labels")
        if self.masks is not None and self.boxes is not None:
            raise errors.UsageError("give masks or boxes, not both", option="masks")
        if self.workers is not None and not 1 <= self.workers <= MAX_WORKERS:
            raise errors.UsageError(f"workers must be 1..{MAX_WORKERS}", option="workers")


@dataclass(frozen=True)
class BatchOutcome:
    """What a run did: rows in the journal, computed now, resumed from before; where the reports are."""

    out: Path
    rows: int
    computed: int
    resumed: int
    ok: int
    failed: int
    complete: bool
    seconds: float
    reports: Reports


def default_out(folder: Path) -> Path:
    """``<folder name>-camviewer`` beside ``folder``: never inside it, the same for a rerun (so it continues)."""
    resolved = folder.expanduser().resolve()
    return resolved.parent / f"{resolved.name or 'root'}-camviewer"


def run_batch(request: BatchRequest, model: ModelLoad, session: ModelSession | None = None,
              progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> BatchOutcome:
    """Run (or continue) the batch; a cancelled run stops between chunks, writes its reports
    (marked incomplete) and returns with ``complete`` False."""
    _check_folders(request)
    session = session or ModelSession(load_model(model.card, trust_code=model.trust_code, device=model.device))
    truth_of = _truth_lookup(request, session)
    config = _config(request, session)
    listing = list_images(request.folder, exclude=[request.masks] if request.masks else [])
    no_run = errors.UsageError("there is no run with this configuration to resume in the output folder", option="resume")
    if request.resume and not (request.out / JOURNAL_NAME).is_file():
        raise no_run
    _make_folder(request.out)
    with Journal(request.out) as journal:
        if request.resume and not journal.has_run(config.digest()):
            raise no_run
        state = journal.open_run(config.digest(), config.document())
        pending = _pending(journal, state, listing)
        started = time.perf_counter()
        kept = done = len(listing.entries) - len(pending)
        report = _reporter(progress, request.request_id, len(listing.entries))
        report(done)
        journal.write(state.id, [failure(e, e.problem or "") for e in pending if e.problem])
        done += sum(1 for e in pending if e.problem)
        report(done)
        computed = 0
        for outcomes in _executor(request, model, session, config).run(_chunks(listing, pending, truth_of), cancel):
            journal.write(state.id, outcomes)
            computed += len(outcomes)
            done += len(outcomes)
            report(done)
        elapsed = time.perf_counter() - started
        complete = not (cancel is not None and cancel.cancelled)
        journal.finish(state.id, state.seconds + elapsed, complete)
        info = RunInfo.now(state, session, config, state.seconds + elapsed, computed / elapsed if elapsed > 0 else 0.0,
                           not complete, len(listing.entries), listing.skipped)
        reports = write_reports(journal, state.id, config, session, request.out, info, located=bool(request.masks or request.boxes),
                                labelled=request.labels is not None)
        rows = journal.count(state.id)
        failed = sum(1 for r in journal.records(state.id) if not r.ok)
    return BatchOutcome(request.out, rows, computed, kept, rows - failed, failed, complete, state.seconds + elapsed, reports)


def _check_folders(request: BatchRequest) -> None:
    if not request.folder.is_dir():
        raise errors.UsageError("is not a folder", request.folder, option="folder")
    check_output_folder(request.folder, request.out)
    if request.out.exists() and not request.out.is_dir():
        raise errors.OutputError("is not a folder", request.out)


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise errors.OutputError("cannot create the output folder", folder) from exc


def _truth_lookup(request: BatchRequest, session: ModelSession) -> Callable[[str], Truth | None]:
    """Ground truth by relative path (None for an image no truth file names); masks are found on demand."""
    card = session.card
    labels = read_labels(request.labels, card.classes, card.multilabel, base=request.folder) if request.labels else {}
    boxes = read_boxes(request.boxes, base=request.folder) if request.boxes else {}

    def truth_of(path: str) -> Truth | None:
        if path not in labels and path not in boxes and request.masks is None:
            return None
        return truth_for(path, labels, boxes, request.masks)

    return truth_of


def _config(request: BatchRequest, session: ModelSession) -> BatchConfig:
    card = session.card
    model = f"{card.name}:{card_hash(card.path)}:{session.model.weights_sha256 or ''}"
    return BatchConfig(str(request.folder.resolve()), model, request.methods, request.grids, request.perturbation, request.seed,
                       request.sensitivity, request.haas, request.only_correct, request.layer,
                       truth_digest(request.labels, request.boxes, request.masks))


def _pending(journal: Journal, state: RunState, listing: Listing) -> list[Entry]:
    """Entries without a row for the file as it is now, or whose worker died; rows of files gone from the folder are dropped."""
    current = {e.path for e in listing.entries}
    journal.forget(state.id, [p for p in state.done if p not in current])
    return [e for e in listing.entries if state.done.get(e.path) != (e.size, e.mtime_ns) or e.path in state.crashed]


def _chunks(listing: Listing, pending: Sequence[Entry], truth_of: Callable[[str], Truth | None]) -> Iterator[list[Task]]:
    """The pending images of each chunk of the whole listing (see the module docstring)."""
    wanted = {e.path for e in pending}
    images = [e for e in listing.entries if e.problem is None]
    for start in range(0, len(images), CHUNK_IMAGES):
        tasks = [Task(e, truth_of(e.path)) for e in images[start : start + CHUNK_IMAGES] if e.path in wanted]
        if tasks:
            yield tasks


def _executor(request: BatchRequest, model: ModelLoad, session: ModelSession, config: BatchConfig) -> Executor:
    """This process on a GPU or when asked; else a worker process per core (at most ``MAX_WORKERS``), sharing the cores' threads."""
    cores = os.cpu_count() or 1
    workers = request.workers or (1 if session.device.type != "cpu" else min(MAX_WORKERS, cores))
    if workers == 1:
        return LocalExecutor(session, config, request.batch_size)
    return ProcessExecutor(model, config, workers, max(1, cores // workers), request.batch_size, session)


def _reporter(progress: ProgressCallback | None, request_id: int, total: int) -> Callable[[int], None]:
    def report(done: int) -> None:
        if progress is not None:
            progress(Progress(request_id, "images", done, total))

    return report
