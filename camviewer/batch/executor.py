"""Executors: where the chunks of a batch run are computed. Each yields every chunk's outcomes
(in any order) to the one journal writer, and stops between chunks when cancelled.

- :class:`LocalExecutor`: in this process with a loaded session (the window's worker thread, a GPU);
  the next chunk's files are read on a thread while this one is computed.
- :class:`ProcessExecutor`: worker processes (``camviewer.batch.workers``) with a share of the
  CPU threads each (small convolutions scale better across processes than across threads). A
  worker that dies is replaced; its chunk's images are tried again one by one, and the one it
  dies on becomes a ``failed:worker-crashed`` row (tried again by a resumed run).

A distributed engine is one more executor: chunks of tasks in, outcomes out.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from camviewer.batch.config import BatchConfig
from camviewer.batch.records import WORKER_CRASHED
from camviewer.batch.work import Outcome, Task, decode, evaluate_tasks, failure
from camviewer.batch.workers import POLL_SECONDS, WorkerPool, start_method
from camviewer.engine import DecodedImage, ModelSession
from camviewer.progress import CancelToken

Chunk = list[Task]
PREFETCH_CHUNKS = 2


class Executor(Protocol):
    def run(self, chunks: Iterable[Chunk], cancel: CancelToken | None = None) -> Iterator[list[Outcome]]:
        """Outcomes per chunk; no new chunk starts once ``cancel`` is set."""
        ...


@dataclass(frozen=True)
class ModelLoad:
    """How a worker process loads the run's model."""

    card: Path | None
    trust_code: bool
    device: str | None


def _cancelled(cancel: CancelToken | None) -> bool:
    return cancel is not None and cancel.cancelled


@dataclass(frozen=True, eq=False)
class LocalExecutor:
    session: ModelSession
    config: BatchConfig
    batch_size: int | None = None

    def run(self, chunks: Iterable[Chunk], cancel: CancelToken | None = None) -> Iterator[list[Outcome]]:
        source = iter(chunks)
        pending: deque[tuple[Chunk, list[Future[DecodedImage | Outcome]]]] = deque()
        with ThreadPoolExecutor(2, thread_name_prefix="camviewer-read") as pool:

            def read_ahead() -> None:
                chunk = next(source, None)
                if chunk is not None:
                    pending.append((chunk, [pool.submit(decode, task) for task in chunk]))

            for _ in range(PREFETCH_CHUNKS):
                read_ahead()
            while pending and not _cancelled(cancel):
                chunk, futures = pending.popleft()
                read_ahead()
                yield evaluate_tasks(chunk, [f.result() for f in futures], self.session, self.config, self.batch_size)
            for _, futures in pending:
                for f in futures:
                    f.cancel()


@dataclass(frozen=True)
class ProcessExecutor:
    load: ModelLoad
    config: BatchConfig
    workers: int
    threads: int
    batch_size: int | None = None
    session: ModelSession | None = None  # the driver's, for forked workers

    def run(self, chunks: Iterable[Chunk], cancel: CancelToken | None = None) -> Iterator[list[Outcome]]:
        context, model = start_method(self.session, self.load)
        pool = WorkerPool(context, (model, self.config, self.threads, self.batch_size), self.workers)
        source = iter(chunks)
        retry: deque[Chunk] = deque()
        in_flight: dict[int, Chunk] = {}
        numbers = itertools.count()

        def feed() -> None:
            for worker in pool.idle():
                chunk = None if _cancelled(cancel) else retry.popleft() if retry else next(source, None)
                if chunk is None:
                    return
                number = next(numbers)
                in_flight[number] = chunk
                pool.send(worker, number, chunk)

        try:
            feed()
            while in_flight:
                done = []
                for number, outcomes in pool.ended(POLL_SECONDS):
                    chunk = in_flight.pop(number)
                    if outcomes is not None:
                        done.append(outcomes)
                    elif len(chunk) > 1:  # its images again one by one: only one that kills a worker fails
                        retry.extend([task] for task in chunk)
                    else:
                        done.append([failure(chunk[0].entry, WORKER_CRASHED, chunk[0].truth)])
                feed()  # before the journal writes: the workers go on meanwhile
                yield from done
        finally:
            pool.stop()
