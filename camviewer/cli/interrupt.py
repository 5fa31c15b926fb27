"""Ctrl-C during a run: the first press cancels the run cooperatively, a second interrupts at once.

The first press only sets the run's :class:`~camviewer.progress.CancelToken`; the engine stops at its
next check (between batches) and raises ``Cancelled``. Nothing is raised from the signal handler,
so no interrupt can be lost inside a finaliser (Python ignores exceptions raised there) and leave
the run going.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from camviewer.progress import CancelToken


@contextmanager
def ctrl_c_cancels(token: CancelToken) -> Iterator[None]:
    """Within the block, SIGINT cancels ``token`` (again: KeyboardInterrupt). Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        if token.cancelled:
            raise KeyboardInterrupt
        token.cancel()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
