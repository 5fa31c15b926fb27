"""``camviewer info``, ``convert`` and ``demo-data``: images and data, no model (no torch import)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from camviewer import errors
from camviewer.cli.report import emit, emit_json
from camviewer.io import XrayImage, load_image
from camviewer.io.grayscale import VoiPreset, Window, to_bits
from camviewer.io.write import PNG_SIGNATURE, ProtectedInputs, write_png


def run_info(args: argparse.Namespace) -> None:
    image = load_image(args.file)
    if args.anonymize:
        image = image.anonymized()
    document = {
        "file": args.file.name,
        "metadata": image.metadata.to_dict(),
        "presets": [preset_dict(k, p) for k, p in enumerate(image.presets, start=1)],
        "default_preset": image.default_preset + 1,
        "inverted": image.invert,
        "warnings": list(image.warnings),
    }
    if args.json:
        emit_json(document)
    else:
        emit(format_info(document))


def preset_dict(number: int, preset: VoiPreset) -> dict[str, Any]:
    entry: dict[str, Any] = {"number": number, "name": preset.name, "source": preset.source}
    if preset.window is not None:
        entry.update(kind="window", center=preset.window.center, width=preset.window.width, function=preset.window.function)
    else:
        assert preset.lut is not None
        entry.update(kind="lut", entries=len(preset.lut.data), first_mapped=preset.lut.first_mapped, bits=preset.lut.bits)
    return entry


def format_info(document: dict[str, Any]) -> list[str]:
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
    return lines + [f"warning: {text}" for text in document["warnings"]]


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return " x ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return str(value)


def run_convert(args: argparse.Namespace) -> None:
    protected = ProtectedInputs.of([args.file])
    protected.check(args.out)
    _check_png_target(args.out, args.force)
    image = load_image(args.file)
    shown = to_bits(image.display(chosen_preset(image, args.window, args.preset)), args.bits)
    write_png(args.out, shown, protected)
    emit([f"wrote {args.out} ({shown.shape[1]} x {shown.shape[0]}, {args.bits}-bit {'RGB' if shown.ndim == 3 else 'gray'})"])


def _check_png_target(out: Path, force: bool) -> None:
    """Refuse, unless forced, a name not ending in .png and an existing file that is not a PNG."""
    if out.is_dir():
        raise errors.OutputError("is a folder", out)
    if out.exists() and not out.is_file():
        raise errors.OutputError("exists and is not a regular file", out)
    if not out.absolute().parent.is_dir():
        raise errors.OutputError("folder does not exist", out)
    if force:
        return
    if out.suffix.lower() != ".png":
        raise errors.OutputError("the output name must end in .png (--force writes it anyway)", out)
    if out.exists() and not _is_png(out):
        raise errors.OutputError("exists and is not a PNG (--force replaces it)", out)


def _is_png(path: Path) -> bool:
    try:
        with path.open("rb") as fp:
            return fp.read(len(PNG_SIGNATURE)) == PNG_SIGNATURE
    except OSError:
        return False


def chosen_preset(image: XrayImage, window: Window | None, number: int | None) -> VoiPreset | None:
    """The preset asked for on the command line, or None for the image's default."""
    if number is not None:
        if not 1 <= number <= len(image.presets):
            raise errors.UsageError(f"this image has presets 1..{len(image.presets)}", option="preset")
        return image.presets[number - 1]
    if window is None:
        return None
    return VoiPreset("Command line", "user", window=window)


def run_demo_data(args: argparse.Namespace) -> None:
    from camviewer.phantom.demo_data import Format, write_demo_folder

    formats: tuple[Format, ...] = ("dcm", "png") if args.format == "both" else (args.format,)
    emit([write_demo_folder(args.out, n=args.n, size=args.size, seed=args.seed, formats=formats).describe()])
