"""``camviewer batch FOLDER``: a thin client of the batch engine, with a progress bar (tqdm) on the terminal.

Ctrl-C lets the chunks in progress finish, writes the journal and the (incomplete) reports, and
exits 130; the same command continues the run.
"""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from camviewer.batch.executor import ModelLoad
from camviewer.batch.run import BatchOutcome, BatchRequest, default_out, run_batch
from camviewer.cli.interrupt import ctrl_c_cancels
from camviewer.cli.report import ExitCode, emit, fail
from camviewer.metrics.perturbation import DEFAULT_PERTURBATION
from camviewer.progress import CancelToken, Progress


def batch_command(args: argparse.Namespace) -> int:
    request = BatchRequest(args.folder, args.out or default_out(args.folder), args.methods, args.grid,
                           args.perturb or DEFAULT_PERTURBATION, args.seed, tuple(args.sensitivity), args.haas,
                           args.only_correct, args.layer, args.labels, args.masks, args.boxes, args.resume, args.batch_size,
                           args.workers)
    cancel = CancelToken()
    with tqdm(unit="image", dynamic_ncols=True, file=sys.stderr, disable=None, smoothing=0.1) as bar:

        def progress(update: Progress) -> None:
            if bar.total is None:  # the first report: rows already in the journal do not count in the rate
                bar.total, bar.initial, bar.n = update.total, update.done, update.done
                bar.refresh()
            else:
                bar.update(update.done - bar.n)

        with ctrl_c_cancels(cancel):
            outcome = run_batch(request, ModelLoad(args.model, args.trust_code, args.device), progress=progress, cancel=cancel)
    emit(_summary_lines(outcome))
    if not outcome.complete:
        fail(f"Interrupted: {outcome.rows} of the folder's rows are in the journal; run the same command again to continue")
        return ExitCode.INTERRUPTED
    return ExitCode.OK


def _summary_lines(outcome: BatchOutcome) -> list[str]:
    return [
        f"{outcome.rows} rows: {outcome.ok} ok, {outcome.failed} failed ({outcome.computed} computed now, {outcome.resumed} from before)",
        f"results: {outcome.reports.results}",
        f"summary: {outcome.reports.summary}",
        f"report:  {outcome.reports.report}",
        f"maps:    {outcome.reports.maps}",
    ]
