"""``camviewer evaluate``: a thin client of the engine's evaluation run."""

from __future__ import annotations

import argparse
from typing import Any

from camviewer.cli.documents import evaluate_document, evaluate_lines, model_document, model_lines
from camviewer.cli.explain import check_folder, load_session, make_folder
from camviewer.cli.interrupt import ctrl_c_cancels
from camviewer.cli.report import stream_results
from camviewer.engine import EvaluateRequest, EvaluationResult, OutputNames, run_evaluate
from camviewer.engine.exports import write_curve_plots
from camviewer.engine.naming import refuse_overwrites
from camviewer.explain.targets import TopK
from camviewer.io.write import ProtectedInputs
from camviewer.metrics.perturbation import DEFAULT_PERTURBATION
from camviewer.progress import CancelToken


def evaluate_command(args: argparse.Namespace) -> int:
    images = tuple(args.images)
    if args.plots is not None:
        check_folder(args.plots, ProtectedInputs.of(images))
    request = EvaluateRequest(images, args.methods, args.target or (TopK(1),), args.layer, args.grid,
                              args.perturb or DEFAULT_PERTURBATION, args.steps, args.seed, args.order, args.score,
                              tuple(args.sensitivity), args.batch_size, not args.whole_model)
    session = load_session(args)
    names = OutputNames.numbered(len(images))
    cancel = CancelToken()
    results = run_evaluate(request, session, cancel=cancel)
    protected = ProtectedInputs.of([*images, *session.card.files])
    if args.plots is not None:
        refuse_overwrites(args.plots, names, request.methods, session.card.classes, protected)
        make_folder(args.plots)

    def document(result: EvaluationResult) -> dict[str, Any]:
        plots = (write_curve_plots(result, names, args.plots, request.score, session.card.classes, protected)
                 if args.plots and not result.error else [])
        return evaluate_document(result, request, plots)

    with ctrl_c_cancels(cancel):
        return stream_results(args.json, {"model": model_document(session.model)}, results, document, evaluate_lines, model_lines)
