"""The ``camviewer`` argument parser: every value is validated here, before any work.

A bad value is one line on stderr (``camviewer: Invalid option: ...``) and exit code 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from camviewer import __version__
from camviewer.cli.options import bounded_int, fraction, lazy, window
from camviewer.cli.report import ExitCode, fail
from camviewer.metrics.regions import MAX_SEED
from camviewer.phantom.demo_data import MAX_SEED as MAX_DEMO_SEED
from camviewer.render.overlay import OPENCV_MAPS

DESCRIPTION = ("Open chest X-rays (DICOM, PNG, JPEG, TIFF), run a CNN classifier, see why it decided "
               "(Grad-CAM, HiResCAM, LRP, ...) and measure how faithful each explanation is. Research use only.")
MAX_BATCH = 4096


class CommandParser(argparse.ArgumentParser):
    """One-line usage errors, and an epilog computed only when help is shown (so ``info`` and
    ``convert`` never import torch)."""

    def __init__(self, *args: Any, lazy_epilog: Callable[[], str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self.lazy_epilog = lazy_epilog

    def format_help(self) -> str:
        if self.lazy_epilog is not None:
            self.epilog = self.lazy_epilog()
        return super().format_help()

    def error(self, message: str) -> NoReturn:
        fail(f"Invalid option: {message} (see '{self.prog} --help')")
        raise SystemExit(ExitCode.USAGE)


def build_parser() -> CommandParser:
    parser = CommandParser(prog="camviewer", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"camviewer {__version__}")
    parser.add_argument("--self-test", dest="run", action="store_const", const="run_self_test",
                        help="check this installation: bundled files, the default model, a sample explained, the window's toolkit")
    parser.set_defaults(command_module="selftest")  # each sub-command sets its own
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    _info(commands.add_parser("info", help="show an image's metadata and window presets",
                              description="Show an image's metadata, window presets and warnings."))
    _convert(commands.add_parser("convert", help="write the image as displayed to PNG",
                                 description="Write the image as displayed (window, polarity) to a PNG at full resolution."))
    _explain(commands.add_parser("explain", help="predict and explain images with a model", lazy_epilog=_methods_epilog,
                                 description="Predict each image with a model, explain its targets, write overlays and exports."))
    _evaluate(commands.add_parser("evaluate", help="perturbation curves, AOPC and Max Sensitivity of explanations",
                                  lazy_epilog=_evaluate_epilog,
                                  description="Measure how faithful each explanation is: MoRF/LeRF/random curves, AOPC, "
                                              "Max Sensitivity."))
    _batch(commands.add_parser("batch", help="predict, explain and evaluate every image of a folder, into reports",
                               lazy_epilog=_evaluate_epilog,
                               description="Walk FOLDER, predict, explain and measure every image; write results.csv, summary.json, "
                                           "report.html and maps.zip into DIR. Resumable: the same command continues a stopped run."))
    _demo(commands.add_parser("demo-data", help="write a folder of synthetic chest radiographs with lesion masks",
                              description="Write synthetic chest phantoms with lesion masks and label files."))
    return parser


def opens_viewer(argv: list[str]) -> bool:
    """``camviewer [FILE|FOLDER ...] [--model CARD] [--device D]``: no sub-command, no --help or --version."""
    commands = {"info", "convert", "explain", "evaluate", "batch", "demo-data"}
    return not argv or (argv[0] not in commands and argv[0] not in ("-h", "--help", "--version", "--self-test"))


def viewer_parser() -> CommandParser:
    parser = CommandParser(prog="camviewer", description=DESCRIPTION + " Sub-commands: camviewer --help.")
    parser.add_argument("paths", type=Path, nargs="*", metavar="FILE|FOLDER",
                        help="radiographs to open, or a folder for the study browser (default: the bundled samples)")
    parser.add_argument("--model", type=Path, metavar="CARD", help="the model card (JSON); default: the demo model")
    parser.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    parser.add_argument("--trust-code", action="store_true", help="allow the card's factory to run its Python code")
    parser.set_defaults(command_module="viewer", run="run_viewer")
    return parser


def _info(info: CommandParser) -> None:
    info.add_argument("file", type=Path)
    info.add_argument("--json", action="store_true", help="print one JSON document")
    info.add_argument("--anonymize", action="store_true", help="print no identifying or free-text values from the file")
    info.set_defaults(command_module="data", run="run_info")


def _convert(convert: CommandParser) -> None:
    convert.add_argument("file", type=Path)
    convert.add_argument("out", type=Path, metavar="OUT.png")
    choice = convert.add_mutually_exclusive_group()
    choice.add_argument("--window", type=window, metavar="CENTER,WIDTH", help="a linear window in modality units")
    choice.add_argument("--preset", type=bounded_int(1), metavar="N", help="window preset N as listed by 'camviewer info'")
    convert.add_argument("--bits", type=int, choices=(8, 16), default=8, help="PNG sample depth (default 8)")
    convert.add_argument("--force", action="store_true", help="replace an existing OUT that is not a PNG, or write a name not ending in .png")
    convert.set_defaults(command_module="data", run="run_convert")


def _model_arguments(parser: CommandParser) -> None:
    parser.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    parser.add_argument("--model", type=Path, metavar="CARD", help="the model card (JSON); default: the demo model")
    parser.add_argument("--methods", type=lazy("methods"), default=("gradcam",), metavar="M[,M...]",
                        help="comma-separated method names (listed below; default gradcam)")
    parser.add_argument("--target", type=lazy("targets"), default=None, metavar="T[,T...]",
                        help="top<K>, class names or indices, comma-separated (default top1)")
    parser.add_argument("--layer", help="target layer for CAM methods (module name); default: the card's, else automatic")
    parser.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    parser.add_argument("--trust-code", action="store_true", help="allow the card's factory to run its Python code")


def _explain(explain: CommandParser) -> None:
    _model_arguments(explain)
    explain.add_argument("--out", type=Path, metavar="DIR", help="write overlay PNGs here")
    explain.add_argument("--save-maps", action="store_true", help="also write each raw map as float32 .npy (needs --out)")
    explain.add_argument("--export", type=lazy("exports"), default=(), metavar="png,panel,dicom",
                         help="annotated PNG at source resolution, an [original | heatmap | overlay] panel, "
                              "DICOM Secondary Capture (needs --out)")
    explain.add_argument("--keep-identity", action="store_true",
                         help="DICOM exports keep the source's patient and study, for your own PACS (default: de-identified)")
    explain.add_argument("--names-from-input", action="store_true",
                         help="name outputs after the input files (default: image0001 ..., since names may hold PHI)")
    explain.add_argument("--colormap", choices=tuple(OPENCV_MAPS), default="inferno", help="for unsigned maps (default inferno)")
    explain.add_argument("--opacity", type=fraction(closed_top=True), default=0.45, help="heatmap opacity 0..1 (default 0.45)")
    explain.add_argument("--threshold", type=fraction(closed_top=False), default=0.0,
                         help="display values below this fraction of the scale stay transparent")
    explain.add_argument("--contours", action="store_true", help="draw iso-contours instead of a filled heatmap")
    explain.add_argument("--batch-size", type=bounded_int(1, MAX_BATCH), default=8, metavar="N", help="images per batch (default 8)")
    explain.add_argument("--json", action="store_true", help="print one JSON document")
    explain.set_defaults(command_module="explain", run="explain_command")


def _evaluate(evaluate: CommandParser) -> None:
    _model_arguments(evaluate)
    evaluate.add_argument("--grid", type=bounded_int(2), default=9, metavar="R", help="R x R regions (default 9)")
    evaluate.add_argument("--perturb", type=lazy("perturbation"), default=None, metavar="SPEC",
                          help="constant:V, gaussian:SIGMA, uniform, blur:SIGMA or mean (default gaussian:0.1)")
    evaluate.add_argument("--steps", type=bounded_int(1), metavar="L", help="perturb at most L regions (default R*R)")
    evaluate.add_argument("--seed", type=bounded_int(0, MAX_SEED), default=0, help=f"0..{MAX_SEED} (default 0)")
    evaluate.add_argument("--order", type=lazy("orders"), default=("morf",), metavar="O[,O...]",
                          help="comma-separated, from morf, lerf, random (default morf)")
    evaluate.add_argument("--score", choices=("prob", "logit"), default="prob")
    evaluate.add_argument("--sensitivity", type=lazy("sensitivity"), action="append", default=[], metavar="R,N",
                          help="Max Sensitivity with radius R and N samples (repeatable)")
    evaluate.add_argument("--batch-size", type=bounded_int(1, MAX_BATCH), metavar="N",
                          help="inputs per forward pass (default: 16 CPU, 64 GPU)")
    evaluate.add_argument("--whole-model", action="store_true",
                          help="run the whole model at every curve step (default: recompute only the changed region's footprint)")
    evaluate.add_argument("--plots", type=Path, metavar="DIR", help="write one PNG of the curves per image and target")
    evaluate.add_argument("--json", action="store_true", help="print one JSON document")
    evaluate.set_defaults(command_module="evaluate", run="evaluate_command")


def _batch(batch: CommandParser) -> None:
    batch.add_argument("folder", type=Path, metavar="FOLDER", help="searched recursively: DICOM (with or without extension), PNG, JPEG, TIFF")
    batch.add_argument("--model", type=Path, metavar="CARD", help="the model card (JSON); default: the demo model")
    batch.add_argument("--methods", type=lazy("methods"), default=("gradcam",), metavar="M[,M...]", help="default gradcam")
    batch.add_argument("--layer", help="target layer for CAM methods (module name); default: the card's, else automatic")
    batch.add_argument("--grid", type=lazy("grids"), default=(9,), metavar="R[,R...]",
                       help="R x R regions; several grids give AOPC per grid (e.g. 4,8,11,14; default 9)")
    batch.add_argument("--perturb", type=lazy("perturbation"), default=None, metavar="SPEC", help="as for evaluate (default gaussian:0.1)")
    batch.add_argument("--seed", type=bounded_int(0, MAX_SEED), default=0, help=f"0..{MAX_SEED} (default 0)")
    batch.add_argument("--labels", type=Path, metavar="CSV", help="path,label (label names; several separated by | for multi-label)")
    truth = batch.add_mutually_exclusive_group()
    truth.add_argument("--masks", type=Path, metavar="DIR", help="lesion masks (PNG, nonzero inside) named like the images")
    truth.add_argument("--boxes", type=Path, metavar="CSV", help="path,x0,y0,x1,y1 in source pixels, end-exclusive")
    batch.add_argument("--only-correct", action="store_true", help="explain and measure correctly classified images only (needs --labels)")
    batch.add_argument("--sensitivity", type=lazy("sensitivity"), action="append", default=[], metavar="R,N",
                       help="Max Sensitivity with radius R and N samples (repeatable)")
    batch.add_argument("--haas", action="store_true", help="HAAS per method over the labelled images (needs --labels)")
    batch.add_argument("--out", type=Path, metavar="DIR", help="outside FOLDER (default <FOLDER>-camviewer beside FOLDER)")
    batch.add_argument("--resume", action="store_true", help="continue the run with this configuration in DIR (it must exist)")
    batch.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    batch.add_argument("--workers", type=bounded_int(1, 8), metavar="N",
                       help="processes on a CPU (default: one per core, at most 8; 1 = this process)")
    batch.add_argument("--batch-size", type=bounded_int(1, MAX_BATCH), metavar="N", help="inputs per forward pass (default: 16 CPU, 64 GPU)")
    batch.add_argument("--trust-code", action="store_true", help="allow the card's factory to run its Python code")
    batch.set_defaults(command_module="batch", run="batch_command")


def _demo(demo: CommandParser) -> None:
    demo.add_argument("out", type=Path, metavar="OUT", help="a new or empty folder")
    demo.add_argument("--n", type=bounded_int(1, 100_000), default=20, help="number of phantoms, classes in turn (default 20)")
    demo.add_argument("--size", type=bounded_int(64, 2048), default=512, help="image width and height, 64..2048 (default 512)")
    demo.add_argument("--seed", type=bounded_int(0, MAX_DEMO_SEED), default=0, help=f"0..{MAX_DEMO_SEED}; the same seed writes the same files")
    demo.add_argument("--format", choices=("dcm", "png", "both"), default="both", help="image files (default both)")
    demo.set_defaults(command_module="data", run="run_demo_data")


def _methods_epilog() -> str:
    from camviewer.explain.cams import CAM_METHODS
    from camviewer.explain.lrp import LRP_METHODS

    cams = [f"  {m.name:<22}{m.label} ({m.reference}){'; signed' if m.signed else ''}" for m in CAM_METHODS.values()]
    lrps = [f"  {m.name:<22}{m.reference}; signed, at input resolution" for m in LRP_METHODS.values()]
    return ("methods (gradient CAMs, one shared pass; unsigned maps end in a ReLU; definitions in the README):\n" + "\n".join(cams)
            + "\n\nLRP methods:\n" + "\n".join(lrps))


def _evaluate_epilog() -> str:
    return (
        "definitions:\n"
        "  grid        region (i, j) covers rows floor(iH/R)..floor((i+1)H/R)-1, columns likewise; index i*R+j\n"
        "  ranking     by the mean of the map resized bilinearly to HxW; MoRF descending, LeRF ascending,\n"
        "              ties by index; random: a permutation seeded by --seed and the image's position, shared by methods\n"
        "  curve       f(x^(k)), k = 0..L: the target's probability (softmax; sigmoid if multi-label) or logit\n"
        "  AOPC        1/(L+1) * sum_{k=1..L} [f(x^(0)) - f(x^(k))]\n"
        "  sensitivity max over N samples y uniform in the L-inf ball of radius R (pixel scale) of ||map(x) - map(y)||_2,\n"
        "              and that divided by ||map(x)||_2\n"
        "\n" + _methods_epilog()
    )
