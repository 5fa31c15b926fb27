"""Progress reports and cancellation, shared by every long-running engine (explain, evaluate, batch).

A run reports :class:`Progress` through a callback and checks a :class:`CancelToken` between
units of work; a cancelled run raises :class:`camviewer.errors.Cancelled`, so it never looks
like a run that simply produced nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from camviewer import errors


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` units of the named ``stage`` (e.g. "images", "curves") of request ``request_id``."""

    request_id: int
    stage: str
    done: int
    total: int


ProgressCallback = Callable[[Progress], None]


class CancelToken:
    """Set from any thread; engines check it between units of work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


def raise_if_cancelled(cancel: CancelToken | None) -> None:
    """Raise :class:`camviewer.errors.Cancelled` when the token is set."""
    if cancel is not None and cancel.cancelled:
        raise errors.Cancelled()
