"""``camviewer [FILE|FOLDER ...]``: open the window; without a display, say so in one line and
explain the files headless with the default exports into a new, named folder.

The window is imported only here and only when it runs (the command line stays Qt-free for
``info``, ``convert`` and machines without Qt's libraries).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from datetime import datetime
from pathlib import Path

from camviewer.cli.report import fail
from camviewer.io import RASTER_SIGNATURES, is_dicom_file
from camviewer.resources import DEFAULT_SAMPLE, frozen

HEADLESS_EXPORTS = "png,panel"
VISIBLE_PLATFORMS_OFF = {"offscreen", "minimal", "vnc"}


def has_display() -> bool:
    """Whether a window can be shown: Windows and macOS always; elsewhere an X11 or Wayland display,
    and no Qt platform that draws off screen."""
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in VISIBLE_PLATFORMS_OFF:
        return False
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_viewer(args: argparse.Namespace) -> int:
    paths = tuple(args.paths)
    missing = [p for p in paths if not p.exists()]
    if missing:
        fail(f"Cannot open {missing[0]}: no such file or folder")
        return 1
    if has_display():
        try:
            app = importlib.import_module("camviewer.gui.app")
        except ImportError as exc:  # Qt's system libraries missing
            return headless(args, f"the window cannot start ({exc})")
        jobs = importlib.import_module("camviewer.gui.jobs")
        return int(app.run_viewer(paths, jobs.LoadModel(args.model, args.device, args.trust_code)))
    return headless(args, "no display")


def headless(args: argparse.Namespace, why: str) -> int:
    """Explain the files (a folder: its images) with the default exports into a new folder."""
    files = [f for p in args.paths for f in (_images_in(p) if p.is_dir() else [p])] or [DEFAULT_SAMPLE]
    out = (Path.home() if frozen() else Path()) / f"camviewer-{datetime.now():%Y%m%d-%H%M%S}"  # a bundle: never beside itself
    print(f"camviewer: {why}; explaining {len(files)} file(s) headless into {out}/ (camviewer explain --help for more)",
          file=sys.stderr)
    argv = ["explain", *map(str, files), "--out", str(out), "--export", HEADLESS_EXPORTS]
    for flag, value in (("--model", args.model), ("--device", args.device)):
        if value is not None:
            argv += [flag, str(value)]
    if args.trust_code:
        argv.append("--trust-code")
    from camviewer.cli import main  # the package imports this module's caller

    return main(argv)


def _images_in(folder: Path) -> list[Path]:
    return [f for f in sorted(folder.rglob("*")) if f.is_file() and not f.name.startswith(".") and _is_image(f)]


def _is_image(path: Path) -> bool:
    """A DICOM Part 10 file or a PNG, JPEG or TIFF, by its first bytes."""
    try:
        with path.open("rb") as fp:
            head = fp.read(132)
    except OSError:
        return False
    return any(head.startswith(signature) for signature in RASTER_SIGNATURES) or is_dicom_file(head)
