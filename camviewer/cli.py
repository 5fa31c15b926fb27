"""The ``camviewer`` command line. Qt-free: importing it never imports PySide6."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from camviewer import __version__, errors
from camviewer.io import XrayImage, load_image
from camviewer.io.grayscale import VoiPreset, Window, to_bits
from camviewer.io.write import ProtectedInputs, write_png

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser whose epilog may be computed only when help is shown (no torch import
    for ``info`` and ``convert``)."""

    def __init__(self, *args: Any, lazy_epilog: Callable[[], str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_epilog = lazy_epilog

    def format_help(self) -> str:
        if self.lazy_epilog is not None:
            self.epilog = self.lazy_epilog()
        return super().format_help()


def methods_epilog() -> str:
    from camviewer.explain.cams import CAM_METHODS
    from camviewer.explain.lrp import LRP_METHODS

    cams = [f"  {m.name:<22}{m.label} ({m.reference}){', signed' if m.signed else ''}" for m in CAM_METHODS.values()]
    lrps = [f"  {m.name:<22}{m.reference}; signed, at input resolution" for m in LRP_METHODS.values()]
    return "methods (gradient CAMs, one shared pass):\n" + "\n".join(cams) + "\n\nLRP methods:\n" + "\n".join(lrps)


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="camviewer", description=__doc__)
    parser.add_argument("--version", action="version", version=f"camviewer {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)

    info = commands.add_parser("info", help="show an image's metadata and window presets")
    info.add_argument("file", type=Path)
    info.add_argument("--json", action="store_true", help="print one JSON document")
    info.add_argument("--anonymize", action="store_true", help="leave out patient name, ID, dates and descriptions")
    info.set_defaults(run=run_info)

    convert = commands.add_parser("convert", help="write the image as displayed to PNG")
    convert.add_argument("file", type=Path)
    convert.add_argument("out", type=Path, metavar="OUT.png")
    choice = convert.add_mutually_exclusive_group()
    choice.add_argument("--window", metavar="CENTER,WIDTH", help="a linear window in modality units")
    choice.add_argument("--preset", type=int, metavar="N", help="window preset N as listed by 'camviewer info'")
    convert.add_argument("--bits", type=int, choices=(8, 16), default=8, help="PNG sample depth (default 8)")
    convert.set_defaults(run=run_convert)

    explain = commands.add_parser("explain", help="predict and explain images with a model", lazy_epilog=methods_epilog,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    explain.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    explain.add_argument("--model", type=Path, metavar="CARD", help="the model card (JSON); default: the demo model")
    explain.add_argument("--methods", default="gradcam", help="comma-separated method names (listed below)")
    explain.add_argument("--target", default="top1", help="top<K>, class names or indices, comma-separated")
    explain.add_argument("--layer", help="target layer (module name); default: the card's, else automatic")
    explain.add_argument("--device", help="cpu, cuda, cuda:N or mps (default: the best available)")
    explain.add_argument("--trust-code", action="store_true", help="allow the card's factory to run its Python code")
    explain.add_argument("--out", type=Path, metavar="DIR", help="write overlay PNGs here")
    explain.add_argument("--save-maps", action="store_true", help="also write each raw map as float32 .npy (needs --out)")
    explain.add_argument("--export", metavar="png,panel,dicom",
                         help="annotated PNG at source resolution, an [original | heatmap | overlay] panel, "
                              "DICOM Secondary Capture (needs --out)")
    explain.add_argument("--names-from-input", action="store_true",
                         help="name outputs after the input files (default: image0001 ..., since names may hold PHI)")
    explain.add_argument("--colormap", default="inferno", help="inferno, viridis, magma, plasma, turbo, jet or hot")
    explain.add_argument("--opacity", type=float, default=0.45, help="heatmap opacity 0..1 (default 0.45)")
    explain.add_argument("--threshold", type=float, default=0.0,
                         help="display values below this fraction of the scale stay transparent")
    explain.add_argument("--contours", action="store_true", help="draw iso-contours instead of a filled heatmap")
    explain.add_argument("--batch-size", type=int, default=8)
    explain.add_argument("--json", action="store_true", help="print one JSON document")
    explain.set_defaults(run=run_explain_command)

    evaluate = commands.add_parser("evaluate", help="perturbation curves, AOPC and Max Sensitivity of explanations",
                                   lazy_epilog=evaluate_epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluate.set_defaults(run=run_evaluate_command)
    add_evaluate_arguments(evaluate)

    demo = commands.add_parser("demo-data", help="write a folder of synthetic chest radiographs with lesion masks")
    demo.add_argument("out", type=Path, metavar="OUT", help="a new or empty folder")
    demo.add_argument("--n", type=int, default=20, help="number of phantoms, classes in turn (default 20)")
    demo.add_argument("--size", type=int, default=512, help="image width and height, 64..2048 (default 512)")
    demo.add_argument("--seed", type=int, default=0, help="non-negative; the same seed writes the same files")
    demo.add_argument("--format", choices=("dcm", "png", "both"), default="both", help="image files (default both)")
    demo.set_defaults(run=run_demo_data_command)
    return parser


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    parser.add_argument("--model", type=Path, metavar="CARD", help="the model card (JSON); default: the demo model")
    parser.add_argument("--methods", default="gradcam", help="comma-separated method names (see 'camviewer explain --help')")
    parser.add_argument("--target", default="top1", help="top<K>, class names or indices, comma-separated")
    parser.add_argument("--layer", help="target layer for CAM methods")
    parser.add_argument("--grid", type=int, default=9, metavar="R", help="R x R regions (default 9)")
    parser.add_argument("--perturb", default="gaussian:0.1", metavar="SPEC",
                        help="constant:V, gaussian:SIGMA, uniform, blur:SIGMA or mean (default gaussian:0.1)")
    parser.add_argument("--steps", type=int, metavar="L", help="perturb at most L regions (default R*R)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--order", default="morf", help="comma-separated, from morf, lerf, random (default morf)")
    parser.add_argument("--score", choices=("prob", "logit"), default="prob")
    parser.add_argument("--sensitivity", action="append", default=[], metavar="R,N",
                        help="Max Sensitivity with radius R and N samples (repeatable)")
    parser.add_argument("--batch-size", type=int, metavar="N", help="inputs per forward pass (default: 16 CPU, 64 GPU)")
    parser.add_argument("--whole-model", action="store_true",
                        help="run the whole model at every curve step (default: recompute only the changed region's footprint)")
    parser.add_argument("--device", help="cpu, cuda, cuda:N or mps")
    parser.add_argument("--trust-code", action="store_true")
    parser.add_argument("--plots", type=Path, metavar="DIR", help="write one PNG of the curves per image and target")
    parser.add_argument("--json", action="store_true")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args) or EXIT_OK
    except errors.CamviewerError as exc:
        print(f"camviewer: {exc.message}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, errors.UsageError) else EXIT_FAILED


def run_info(args: argparse.Namespace) -> None:
    image = load_image(args.file)
    metadata = image.metadata.anonymized() if args.anonymize else image.metadata
    document = {
        "file": args.file.name,
        "metadata": metadata.to_dict(),
        "presets": [preset_dict(k, p) for k, p in enumerate(image.presets, start=1)],
        "default_preset": image.default_preset + 1,
        "inverted": image.invert,
        "warnings": list(image.warnings),
    }
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        print(format_info(document))


def preset_dict(number: int, preset: VoiPreset) -> dict[str, Any]:
    entry: dict[str, Any] = {"number": number, "name": preset.name, "source": preset.source}
    if preset.window is not None:
        entry.update(kind="window", center=preset.window.center, width=preset.window.width, function=preset.window.function)
    else:
        assert preset.lut is not None
        entry.update(kind="lut", entries=len(preset.lut.data), first_mapped=preset.lut.first_mapped, bits=preset.lut.bits)
    return entry


def format_info(document: dict[str, Any]) -> str:
    meta = document["metadata"]
    lines = [f"{'file':<28}{document['file']}"]
    lines += [f"{key.replace('_', ' '):<28}{_plain(value)}" for key, value in meta.items() if value is not None]
    lines.append(f"{'display inverted':<28}{'yes (MONOCHROME1)' if document['inverted'] else 'no'}")
    lines.append("window presets:")
    for preset in document["presets"]:
        marker = "*" if preset["number"] == document["default_preset"] else " "
        if preset["kind"] == "window":
            detail = f"center {preset['center']:g}, width {preset['width']:g}, {preset['function']}"
        else:
            detail = f"VOI LUT, {preset['entries']} entries, {preset['bits']} bits"
        lines.append(f" {marker}{preset['number']:>2}. {preset['name']}: {detail}")
    lines += [f"warning: {text}" for text in document["warnings"]]
    return "\n".join(lines)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return " x ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return str(value)


def run_convert(args: argparse.Namespace) -> None:
    protected = ProtectedInputs.of([args.file])
    protected.check(args.out)
    image = load_image(args.file)
    shown = image.display(chosen_preset(image, args.window, args.preset))
    write_png(args.out, to_bits(shown, args.bits), protected)


def chosen_preset(image: XrayImage, window: str | None, number: int | None) -> VoiPreset | None:
    """The preset asked for on the command line, or None for the image's default."""
    if number is not None:
        if not 1 <= number <= len(image.presets):
            raise errors.UsageError(f"--preset must be 1..{len(image.presets)}")
        return image.presets[number - 1]
    if window is None:
        return None
    try:
        center, width = (float(part) for part in window.split(","))
        return VoiPreset("Command line", "user", window=Window(center, width, "LINEAR"))
    except ValueError as exc:
        raise errors.UsageError("--window takes CENTER,WIDTH with a finite center and a width of at least 1") from exc


def evaluate_epilog() -> str:
    return (
        "definitions:\n"
        "  grid        region (i, j) covers rows floor(iH/R)..floor((i+1)H/R)-1, columns likewise; index i*R+j\n"
        "  ranking     by the mean of the map resized bilinearly to HxW; MoRF descending, LeRF ascending,\n"
        "              ties by index; random: a seeded permutation\n"
        "  curve       f(x^(k)), k = 0..L: the target's probability (softmax; sigmoid if multi-label) or logit\n"
        "  AOPC        1/(L+1) * sum_{k=1..L} [f(x^(0)) - f(x^(k))]\n"
        "  sensitivity max over N samples y uniform in the L-inf ball of radius R (pixel scale) of ||map(x) - map(y)||_2,\n"
        "              and that divided by ||map(x)||_2\n"
        "\n" + methods_epilog()
    )


def run_evaluate_command(args: argparse.Namespace) -> int:
    from camviewer.evaluate_cli import evaluate_images

    return evaluate_images(args)


def run_explain_command(args: argparse.Namespace) -> int:
    from camviewer.explain_cli import explain_images

    return explain_images(args)


def run_demo_data_command(args: argparse.Namespace) -> None:
    from camviewer.phantom.demo_data import write_demo_folder

    formats = ("dcm", "png") if args.format == "both" else (args.format,)
    try:
        summary = write_demo_folder(args.out, n=args.n, size=args.size, seed=args.seed, formats=formats)
    except ValueError as exc:
        raise errors.UsageError(str(exc)) from exc
    print(summary.describe())


if __name__ == "__main__":
    sys.exit(main())
