"""The ``camviewer`` command line. Qt-free; ``info`` and ``convert`` start without importing torch.

Every failure is one line on stderr and an exit code (:class:`camviewer.cli.report.ExitCode`):
a CamviewerError gives its message, Ctrl-C "Interrupted" (130), and an unexpected exception one
line naming it (3); ``CAMVIEWER_TRACEBACK=1`` shows the traceback instead, for bug reports.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from camviewer import errors
from camviewer.cli.parser import build_parser, opens_viewer, viewer_parser
from camviewer.cli.report import ExitCode, error_message, exit_code_for, fail

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = viewer_parser() if opens_viewer(argv) else build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return int(exc.code or 0)
    except KeyboardInterrupt:  # some values import torch while they are parsed
        fail("Interrupted")
        return ExitCode.INTERRUPTED
    if not getattr(args, "run", None):
        parser.print_help()
        return ExitCode.USAGE
    try:
        command = getattr(importlib.import_module(f"camviewer.cli.{args.command_module}"), args.run)
        return int(command(args) or ExitCode.OK)
    except (KeyboardInterrupt, errors.Cancelled):  # Ctrl-C: at once, or cancelling the run (cli.interrupt)
        fail("Interrupted")
        return ExitCode.INTERRUPTED
    except errors.CamviewerError as exc:
        fail(error_message(exc))
        return exit_code_for(exc)
    except BrokenPipeError:
        _silence_stdout()
        return ExitCode.FAILED
    except Exception as exc:
        if os.environ.get("CAMVIEWER_TRACEBACK"):
            raise
        fail(f"Internal error: {type(exc).__name__}; please report it (CAMVIEWER_TRACEBACK=1 shows where)")
        return ExitCode.INTERNAL


def _silence_stdout() -> None:
    """After a closed pipe (``camviewer ... | head``), keep Python from failing again at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
