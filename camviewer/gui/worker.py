"""One long-lived worker thread that owns the model, and its host in the GUI thread.

The window never runs inference or decodes a file on its own thread. It submits frozen jobs to
:class:`WorkerHost`; each job carries a request id (from :class:`~camviewer.gui.ledger.RequestLedger`)
and a :class:`~camviewer.progress.CancelToken`. :class:`EngineWorker`, moved to a QThread, runs the
engine and ends every job with exactly one signal: finished, failed or cancelled. It catches
every exception, so a job never leaves a spinner spinning. The host forwards only results that
are still current for their view and cancels the job a new one supersedes. Only plain data
crosses threads: frozen requests in, engine dataclasses out.

The batch dialog has a host of its own (a second thread), so a long batch run leaves this one free.

Shutdown (:meth:`WorkerHost.shutdown`) cancels everything, quits the thread and waits; the engine
checks its token between batches, so a close during inference ends within a batch.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, QThread, Signal, Slot

from camviewer import errors
from camviewer.batch.run import run_batch
from camviewer.engine import ExplainRequest, ModelSession, OutputNames, run_evaluate, run_explain, write_outputs
from camviewer.gui.jobs import Export, Exported, Job, LoadImage, LoadModel, ModelInfo, Request, RunBatch
from camviewer.gui.ledger import RequestLedger
from camviewer.io import load_image
from camviewer.io.write import ProtectedInputs
from camviewer.model.build import load_model
from camviewer.progress import CancelToken, Progress


class EngineWorker(QObject):
    """Runs jobs one at a time in its thread; owns the :class:`ModelSession`."""

    finished = Signal(int, object)  # request id, payload: ModelInfo, XrayImage, [ImageResult], [EvaluationResult], Exported, BatchOutcome
    failed = Signal(int, str, str)  # request id, reason code, one-line message for the user
    cancelled = Signal(int)
    progress = Signal(int, str, int, int)  # request id, stage, done, total

    def __init__(self) -> None:
        super().__init__()
        self._session: ModelSession | None = None

    @Slot(object)
    def run(self, job: Job) -> None:
        if job.cancel.cancelled:
            self.cancelled.emit(job.request_id)
            return
        try:
            payload = self._perform(job)
        except errors.Cancelled:
            self.cancelled.emit(job.request_id)
        except errors.CamviewerError as exc:
            self.failed.emit(job.request_id, exc.reason, exc.message)
        except Exception as exc:  # every job must end in a signal (MemoryError included)
            self.failed.emit(job.request_id, "internal", f"Internal error: {type(exc).__name__}; please report it")
        else:
            self.finished.emit(job.request_id, payload)

    def _perform(self, job: Job) -> object:
        request = job.request
        if isinstance(request, LoadModel):
            session = ModelSession(load_model(request.card, trust_code=request.trust_code, device=request.device))
            self._session = session  # the old model serves until the new one is ready
            return _info(session, request.trust_code)
        if isinstance(request, LoadImage):
            return load_image(request.path)

        def report(p: Progress) -> None:
            self.progress.emit(job.request_id, p.stage, p.done, p.total)

        if isinstance(request, RunBatch):  # loads its own model: a batch host's worker holds no session
            return run_batch(replace(request.request, request_id=job.request_id), request.model, None, report, job.cancel)
        if self._session is None:
            raise errors.ModelError("no model is loaded")
        if isinstance(request, Export):
            return _export(request, self._session)
        if isinstance(request, ExplainRequest):
            return list(run_explain(replace(request, request_id=job.request_id), self._session, report, job.cancel))
        return list(run_evaluate(replace(request, request_id=job.request_id), self._session, report, job.cancel))


def _export(request: Export, session: ModelSession) -> Exported:
    result = request.result
    path = result.path
    names = OutputNames.numbered(1) if request.anonymise or path is None else OutputNames.from_inputs([path])
    request.options.folder.mkdir(parents=True, exist_ok=True)
    written = write_outputs(replace(result, index=0), names, request.options, session,
                            ProtectedInputs.of([path] if path is not None else []))
    files = [f for per in written.explanations for f in per.values()]
    return Exported(tuple(files) + ((written.panel,) if written.panel else ()), written.warnings)


def _info(session: ModelSession, trust_code: bool) -> ModelInfo:
    card = session.card
    return ModelInfo(card.name, card.path, tuple(card.classes), card.multilabel, str(session.device),
                     session.model.weights_sha256, card.intended_use.demo, tuple(session.model.notes), session.spec,
                     session.layer().name, trust_code)


class WorkerHost(QObject):
    """The GUI thread's side: submits jobs per view and forwards only current outcomes."""

    result = Signal(str, int, object)  # view, request id, payload
    failure = Signal(str, int, str, str)  # view, request id, reason, message
    cancelled = Signal(str, int)
    progress = Signal(str, int, str, int, int)  # view, request id, stage, done, total
    _dispatch = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ledger = RequestLedger()
        self._tokens: dict[int, CancelToken] = {}
        self._thread = QThread(self)
        self._thread.setObjectName("camviewer-engine")
        self._worker = EngineWorker()
        self._worker.moveToThread(self._thread)
        self._thread.finished.connect(self._worker.deleteLater)
        self._dispatch.connect(self._worker.run)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.cancelled.connect(self._on_cancelled)
        self._worker.progress.connect(self._on_progress)
        self._thread.start()

    def submit(self, view: str, request: Request) -> int:
        """Queue ``request`` for ``view``; the view's previous request is cancelled and its outcome dropped."""
        request_id, previous = self._ledger.issue(view)
        if previous is not None:
            self._tokens[previous].cancel()
        self._tokens[request_id] = CancelToken()
        self._dispatch.emit(Job(request_id, request, self._tokens[request_id]))
        return request_id

    def cancel(self, view: str) -> None:
        """Cancel the view's current request (it ends with ``cancelled``)."""
        current = self._ledger.current(view)
        if current is not None:
            self._tokens[current].cancel()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel every job, stop the thread and wait for it; False if it is still busy after the timeout."""
        for token in self._tokens.values():
            token.cancel()
        self._thread.quit()
        return bool(self._thread.wait(timeout_ms))

    def _settled(self, request_id: int) -> str | None:
        self._tokens.pop(request_id, None)
        return self._ledger.settle(request_id)

    @Slot(int, object)
    def _on_finished(self, request_id: int, payload: object) -> None:
        view = self._settled(request_id)
        if view is not None:
            self.result.emit(view, request_id, payload)

    @Slot(int, str, str)
    def _on_failed(self, request_id: int, reason: str, message: str) -> None:
        view = self._settled(request_id)
        if view is not None:
            self.failure.emit(view, request_id, reason, message)

    @Slot(int)
    def _on_cancelled(self, request_id: int) -> None:
        view = self._settled(request_id)
        if view is not None:
            self.cancelled.emit(view, request_id)

    @Slot(int, str, int, int)
    def _on_progress(self, request_id: int, stage: str, done: int, total: int) -> None:
        view = self._ledger.view_of(request_id)
        if view is not None and self._ledger.current(view) == request_id:
            self.progress.emit(view, request_id, stage, done, total)
