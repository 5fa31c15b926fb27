"""``camviewer explain``: a thin client of the engine's explain run and output service."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from camviewer import errors
from camviewer.cli.documents import explain_document, explain_lines, model_document, model_lines
from camviewer.cli.interrupt import ctrl_c_cancels
from camviewer.cli.report import stream_results
from camviewer.engine import ExplainRequest, ImageResult, ModelSession, OutputNames, OutputOptions, run_explain, write_outputs
from camviewer.engine.naming import refuse_overwrites
from camviewer.explain.targets import TopK
from camviewer.io.write import ProtectedInputs
from camviewer.model.build import load_model
from camviewer.progress import CancelToken
from camviewer.render.overlay import OverlayStyle


def explain_command(args: argparse.Namespace) -> int:
    if (args.save_maps or args.export) and args.out is None:
        raise errors.UsageError("--save-maps and --export need --out DIR")
    images = tuple(args.images)
    if args.out is not None:
        check_folder(args.out, ProtectedInputs.of(images))
    session = load_session(args)
    request = ExplainRequest(images, args.methods, args.target or (TopK(1),), args.layer, args.batch_size)
    names = OutputNames.from_inputs(images) if args.names_from_input else OutputNames.numbered(len(images))
    cancel = CancelToken()
    results = run_explain(request, session, cancel=cancel)
    protected = ProtectedInputs.of([*images, *session.card.files])
    options = None
    if args.out is not None:
        refuse_overwrites(args.out, names, request.methods, session.card.classes, protected)
        make_folder(args.out)
        style = OverlayStyle(args.colormap, args.opacity, args.threshold, args.contours)
        options = OutputOptions(args.out, args.save_maps, args.export, style, args.keep_identity)

    def document(result: ImageResult) -> dict[str, Any]:
        written = write_outputs(result, names, options, session, protected) if options and result.error is None else None
        return explain_document(result, written)

    with ctrl_c_cancels(cancel):
        return stream_results(args.json, {"model": model_document(session.model)}, results, document, explain_lines, model_lines)


def load_session(args: argparse.Namespace) -> ModelSession:
    return ModelSession(load_model(args.model, trust_code=args.trust_code, device=args.device))


def check_folder(folder: Path, protected: ProtectedInputs) -> None:
    """An output folder must be a folder (or not exist yet), and not an input."""
    protected.check(folder)
    if folder.exists() and not folder.is_dir():
        raise errors.OutputError("is not a folder", folder)


def make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise errors.OutputError("cannot create the output folder", folder) from exc
