"""Worker processes of a batch run: how they start, what each one runs, and the driver's view of them.

Each worker has an inbox of its own holding at most the one chunk it computes, so the driver
always knows which chunk a worker holds; all of them answer on one outbox. A worker ignores Ctrl-C
(the driver's: it lets the current chunks finish), stops when told to or when the driver is gone,
and never waits at exit for a driver that no longer reads.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

from camviewer import errors
from camviewer.batch.config import BatchConfig
from camviewer.batch.work import Outcome, Task, decode, evaluate_tasks
from camviewer.engine import ModelSession

if TYPE_CHECKING:
    from camviewer.batch.executor import ModelLoad

PRELOAD = ["camviewer.batch.work", "camviewer.model.build"]  # imported once by a forkserver, not by each worker
POLL_SECONDS = 0.5
MAX_RESTARTS = 4  # deaths in a row, with no chunk done in between, before the run stops
STOP_SECONDS = 10.0

Ended = tuple[int, list[Outcome] | None]  # a chunk's number and outcomes; None: its worker died computing it


def start_method(session: ModelSession | None, load: ModelLoad) -> tuple[Any, ModelLoad | ModelSession]:
    """How workers start, and what they get to have a model.

    fork, inheriting the driver's loaded session (nothing imported or loaded again), on Linux with
    a CPU model when the run is driven from the main thread: a program of its own, the command line
    or a script. forkserver elsewhere on Linux (a window's worker thread: another thread may hold a
    lock that a fork would copy, held, into the child); its server imports the engine once. spawn
    on other systems: macOS's system libraries do not survive a fork, and Windows has none.
    """
    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn"), load
    if session is not None and session.device.type == "cpu" and threading.current_thread() is threading.main_thread():
        return multiprocessing.get_context("fork"), session
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context, load


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    inbox: Any
    holding: int | None = None  # the number of the chunk sent to it and not yet done


class WorkerPool:
    """The worker processes; a dead one's chunk is reported lost and the worker replaced."""

    def __init__(self, context: Any, args: tuple[Any, ...], size: int) -> None:
        self.context, self.args = context, args
        self.outbox: Any = context.Queue()
        self.workers: dict[int, _Worker] = {}
        self.deaths = 0
        for _ in range(size):
            self._start()

    def idle(self) -> list[_Worker]:
        return [w for w in self.workers.values() if w.holding is None]

    def send(self, worker: _Worker, number: int, chunk: list[Task]) -> None:
        worker.holding = number
        worker.inbox.put((number, chunk))

    def ended(self, timeout: float) -> list[Ended]:
        """Chunks that ended since the last call, waiting up to ``timeout`` for one."""
        ended = []
        message = self._receive(timeout)
        if message is not None:
            ended.append(message)
        if any(w.process.exitcode is not None for w in self.workers.values()):
            while (message := self._receive(0)) is not None:  # what a worker sent before it died is not lost
                ended.append(message)
            ended.extend((number, None) for number in self._replace_dead())
        return ended

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.inbox.put(None)
        deadline = time.monotonic() + STOP_SECONDS
        for worker in self.workers.values():
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.exitcode is None:
                worker.process.terminate()
                worker.process.join()
            worker.inbox.cancel_join_thread()

    def _start(self) -> None:
        inbox = self.context.Queue()
        process = self.context.Process(target=serve, args=(*self.args, inbox, self.outbox), daemon=True)
        with _sigint_blocked():  # a Ctrl-C while the worker starts is the driver's alone
            process.start()
        assert process.pid is not None
        self.workers[process.pid] = _Worker(process, inbox)

    def _receive(self, timeout: float) -> Ended | None:
        try:
            kind, pid, number, payload = self.outbox.get(timeout=timeout)
        except queue.Empty:
            return None
        if kind == "error":
            raise errors.WorkerError(payload)
        worker = self.workers.get(pid)
        if worker is not None and worker.holding == number:
            worker.holding = None
        self.deaths = 0
        return number, payload

    def _replace_dead(self) -> list[int]:
        """The chunks that dead workers held; each dead worker is replaced."""
        lost = []
        for pid, worker in list(self.workers.items()):
            code = worker.process.exitcode
            if code is None:
                continue
            del self.workers[pid]
            worker.inbox.cancel_join_thread()
            if worker.holding is not None:
                lost.append(worker.holding)
            self.deaths += 1
            if self.deaths > MAX_RESTARTS:
                raise errors.WorkerError(f"worker processes keep stopping (exit code {code})")
            self._start()
        return lost


class _sigint_blocked:
    """SIGINT blocked in this thread (where the system allows it), so a child starts with it blocked."""

    def __enter__(self) -> None:
        self.mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if hasattr(signal, "pthread_sigmask") else None

    def __exit__(self, *exc: object) -> None:
        if self.mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.mask)


def serve(model: ModelLoad | ModelSession, config: BatchConfig, threads: int, batch_size: int | None, inbox: Any,
          outbox: Any) -> None:
    """A worker process: the model loaded once (or inherited), then chunks computed until told to stop or the driver is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    import torch

    from camviewer.model.build import load_model

    torch.set_num_threads(threads)
    parent, pid = os.getppid(), os.getpid()
    try:
        session = model if isinstance(model, ModelSession) else ModelSession(
            load_model(model.card, trust_code=model.trust_code, device=model.device))
    except errors.CamviewerError as exc:
        outbox.put(("error", pid, -1, exc.message))
        return
    while os.getppid() == parent:
        try:
            item = inbox.get(timeout=POLL_SECONDS)
        except queue.Empty:
            continue
        if item is None:
            return
        number, chunk = item
        try:
            outcomes = evaluate_tasks(chunk, [decode(t) for t in chunk], session, config, batch_size)
        except errors.CamviewerError as exc:  # e.g. the model cannot be explained: the run stops with it
            outbox.put(("error", pid, number, exc.message))
            return
        outbox.put(("done", pid, number, outcomes))
    outbox.cancel_join_thread()  # the driver is gone: exit without waiting for it to read
