"""Everything the command line prints: exit codes, one-line failures, text and JSON documents.

Text is printed line by line with every control and format character escaped (``\\x1b``,
``\\u202e``), so nothing read from a file can move the cursor, retitle the terminal or fake a
line. JSON is ASCII (controls escaped by the encoder), and non-finite numbers become ``null``.
"""

from __future__ import annotations

import enum
import json
import math
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from camviewer import errors
from camviewer.cli.options import flag_for

UNPRINTABLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1  # an input could not be read, or an output not written
    USAGE = 2  # a bad option
    INTERNAL = 3  # a bug in camviewer: please report it
    INTERRUPTED = 130  # Ctrl-C


def printable(text: str) -> str:
    """``text`` with every control, format and separator character written as an escape."""
    return "".join(_escape(ch) if unicodedata.category(ch) in UNPRINTABLE else ch for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def emit(lines: Iterable[str]) -> None:
    print("\n".join(printable(line) for line in lines))


def fail(message: str) -> None:
    """One line on stderr: ``camviewer: <message>``."""
    print(f"camviewer: {printable(message)}", file=sys.stderr)


def error_message(exc: errors.CamviewerError) -> str:
    """The core's message, with the command line's flag named where the user can act on it."""
    if isinstance(exc, errors.TrustRequiredError):
        return f"{exc.message}; pass --trust-code if you trust it"
    flag = flag_for(exc.option) if isinstance(exc, errors.UsageError) else None
    if flag is None:
        return exc.message
    return f"{exc.category}: {flag}: {exc.detail}"


def exit_code_for(exc: errors.CamviewerError) -> ExitCode:
    if isinstance(exc, errors.UsageError):
        return ExitCode.USAGE
    return ExitCode.INTERRUPTED if isinstance(exc, errors.Cancelled) else ExitCode.FAILED


def emit_json(document: Any) -> None:
    print(json.dumps(finite(document), indent=2, allow_nan=False))


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


Lines = Callable[[dict[str, Any]], list[str]]


class DocumentStream:
    """Per-image documents printed as they come (memory stays flat in the number of images): text
    lines (``head_lines`` of the head first), or one JSON document ``{**head, key: [document, ...]}``
    written item by item."""

    def __init__(self, as_json: bool, head: dict[str, Any], key: str, lines: Lines, head_lines: Lines) -> None:
        self.as_json, self.lines, self.count = as_json, lines, 0
        if as_json:
            opening = json.dumps(finite(head), indent=2, allow_nan=False)[:-2]
            print(f"{opening},\n  {json.dumps(key)}: [", end="")
        else:
            emit(head_lines(head))

    def add(self, document: dict[str, Any]) -> None:
        if self.as_json:
            text = json.dumps(finite(document), indent=2, allow_nan=False).replace("\n", "\n    ")
            print(f"{',' if self.count else ''}\n    {text}", end="", flush=True)
        else:
            emit(self.lines(document))
            sys.stdout.flush()
        self.count += 1

    def close(self) -> None:
        if self.as_json:
            print("\n  ]\n}" if self.count else "]\n}")


class HasError(Protocol):
    @property
    def error(self) -> errors.CamviewerError | None: ...


R = TypeVar("R", bound=HasError)


def stream_results(as_json: bool, head: dict[str, Any], results: Iterable[R], document_of: Callable[[R], dict[str, Any]],
                   lines: Lines, head_lines: Lines) -> ExitCode:
    """Print each result's document as it comes (failures also as one line on stderr); FAILED if any failed."""
    failed = False
    with document_stream(as_json, head, "images", lines, head_lines) as stream:
        for result in results:
            if result.error is not None:
                failed = True
                fail(error_message(result.error))
            stream.add(document_of(result))
    return ExitCode.FAILED if failed else ExitCode.OK


@contextmanager
def document_stream(as_json: bool, head: dict[str, Any], key: str, lines: Lines,
                    head_lines: Lines) -> Iterator[DocumentStream]:
    """A :class:`DocumentStream`, closed (the JSON completed) however the run ends: a run stopped by
    an error or Ctrl-C still leaves valid JSON holding the images done (and exits non-zero)."""
    stream = DocumentStream(as_json, head, key, lines, head_lines)
    try:
        yield stream
    finally:
        stream.close()
