"""The glue between the window's state and its engine worker (no widgets).

When the shown image changes the controller has the worker decode it; once decoded, and a model
is loaded, it asks for predictions and every gradient CAM at once: they come from one shared
pass, so switching between CAM methods never recomputes. An LRP method is computed when first
shown and merged into the same result. Results are cached per (image, class) for the loaded
model, a bounded number of them, and enter the state through
:meth:`~camviewer.gui.state.ViewerState.explained`, which ignores an image no longer shown.
Evaluations and exports run on their own views, so they never cancel the image's work.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from camviewer.engine import DecodedImage, EvaluateRequest, EvaluationResult, ExplainRequest, ImageResult, OutputOptions
from camviewer.explain.cams import CAM_METHODS
from camviewer.explain.targets import ClassIndex, Target, TopK
from camviewer.gui.jobs import Export, Exported, LoadImage, LoadModel, ModelInfo
from camviewer.gui.state import View, ViewerState
from camviewer.gui.worker import WorkerHost
from camviewer.io.image import XrayImage

CACHED_RESULTS = 16  # (image, class) results kept: each holds the decoded image and its maps
Key = tuple[Path, int | None]
BUSY = {"decode": "reading the file", "image": "predicting and explaining", "evaluation": "evaluating",
        "export": "exporting", "model": "loading the model"}


class Controller(QObject):
    exported = Signal(object)  # Exported

    def __init__(self, state: ViewerState, host: WorkerHost, model: LoadModel) -> None:
        super().__init__()
        self._state, self._host = state, host
        self._asked: dict[int, Key] = {}  # image requests in flight (the host drops superseded ones)
        self._cache: OrderedDict[Key, ImageResult] = OrderedDict()
        self.last_evaluation: EvaluateRequest | None = None
        self._evaluating: int | None = None  # the evaluation in flight
        self._quiet: set[int] = set()  # cancelled because the image changed: no message
        host.result.connect(self._on_result)
        host.failure.connect(self._on_failure)
        host.cancelled.connect(self._on_cancelled)
        host.progress.connect(self._on_progress)
        state.subscribe(self._on_change)
        self.load(model)

    def load(self, model: LoadModel) -> None:
        """Load another model; the current one serves until it is ready (and stays if it fails)."""
        self._state.update(busy=BUSY["model"], message=None)
        self._host.submit("model", model)

    def explain(self) -> None:
        """Predict and explain the shown image now (when explaining on open is off)."""
        view = self._state.view
        if view.model is not None and view.current is not None and view.image is not None:
            self._explain(view, (view.current, view.target))

    def evaluate(self, request: EvaluateRequest) -> None:
        """Measure the shown image's explanations; ``request.images`` is replaced by the shown image."""
        view = self._state.view
        if view.image is None or view.current is None:
            return
        self.last_evaluation = replace(request, images=(DecodedImage(view.image, view.current),))
        self._evaluating = self._host.submit("evaluation", self.last_evaluation)
        self._state.update(evaluation=None, preview=None, busy=BUSY["evaluation"], progress=None, message=None)

    def export(self, options: OutputOptions) -> None:
        """Write the shown methods' explanations with ``options`` (folder, exports, style)."""
        view = self._state.view
        result = view.result
        if result is None or result.error is not None:
            return
        shown = tuple(e for e in result.explanations if e.method in view.methods_shown)
        if not shown:
            self._state.update(message="nothing to export: the shown method is not computed yet")
            return
        self._host.submit("export", Export(replace(result, explanations=shown), options, view.anonymise))
        self._state.update(busy=BUSY["export"], message=None)

    def cancel(self) -> None:
        for view in ("evaluation", "image", "export"):
            self._host.cancel(view)

    def _on_change(self, view: View, changed: frozenset[str]) -> None:
        if changed & {"images", "index"} and self._evaluating is not None:
            self._quiet.add(self._evaluating)  # the worker is free for the new image at once
            self._host.cancel("evaluation")
            self._evaluating = None
        if changed & {"images", "index"} and view.current is not None and view.image is None:
            self._decode(view.current)
        if changed & {"model", "image", "target", "method", "compare", "explain_on_open"} and view.explain_on_open:
            self.explain()

    def _decode(self, path: Path) -> None:
        cached = next((r.image for (p, _), r in self._cache.items() if p == path and r.image is not None), None)
        if cached is not None:
            self._state.decoded(path, cached)
            return
        self._host.submit("decode", LoadImage(path))
        self._state.update(busy=BUSY["decode"], message=None)

    def _explain(self, view: View, key: Key) -> None:
        assert view.image is not None
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            if view.result is not cached:
                self._state.explained(key[0], cached)
        missing = _missing(cached, view.methods_shown)
        if (cached is None or missing) and key not in self._asked.values():
            target: Target = TopK(1) if key[1] is None else ClassIndex(key[1])
            if cached is not None and cached.explanations:
                target = ClassIndex(cached.explanations[0].target_index)
            first = (*CAM_METHODS, *(m for m in view.methods_shown if m not in CAM_METHODS))
            request = ExplainRequest((DecodedImage(view.image, key[0]),), missing or first, (target,))
            self._asked = {self._host.submit("image", request): key}
            self._state.update(busy=BUSY["image"], message=None)

    @Slot(str, int, object)
    def _on_result(self, view: str, request_id: int, payload: object) -> None:
        if view == "model":
            assert isinstance(payload, ModelInfo)
            self._cache.clear()  # results of the previous model
            self._asked.clear()
            self._state.update(model=payload, result=None, target=None, evaluation=None, evaluated_with=None, preview=None,
                               busy=None, message=None)
        elif view == "decode":
            assert isinstance(payload, XrayImage)
            path = self._state.view.current
            self._state.update(busy=None)
            if path is not None:
                self._state.decoded(path, payload)
        elif view == "image":
            assert isinstance(payload, list)
            self._take_result(request_id, payload[0])
        elif view == "evaluation":
            self._evaluating = None
            assert isinstance(payload, list) and isinstance(payload[0], EvaluationResult)
            evaluation: EvaluationResult = payload[0]
            if evaluation.explained.path is not None and self.last_evaluation is not None:
                self._state.evaluated(evaluation.explained.path, evaluation, self.last_evaluation)
        else:
            assert isinstance(payload, Exported)
            self._state.update(busy=None, message=f"wrote {len(payload.files)} file(s)" + "".join(f"; {w}" for w in payload.warnings))
            self.exported.emit(payload)

    def _take_result(self, request_id: int, result: ImageResult) -> None:
        key = self._asked.pop(request_id, None)
        if key is None:
            return
        cached = self._cache.get(key)
        if cached is not None and result.error is None:
            result = replace(cached, explanations=cached.explanations + result.explanations)
        if result.error is None:
            self._cache[key] = result
            self._cache.move_to_end(key)
            while len(self._cache) > CACHED_RESULTS:
                self._cache.popitem(last=False)
        self._state.explained(key[0], result)
        if result.error is None:
            self.explain()  # a method chosen while this was computed

    @Slot(str, int, str, str)
    def _on_failure(self, view: str, request_id: int, reason: str, message: str) -> None:
        self._asked.pop(request_id, None)
        if view == "evaluation":
            self._evaluating = None
        self._state.update(busy=None, progress=None, message=message)

    @Slot(str, int)
    def _on_cancelled(self, view: str, request_id: int) -> None:
        self._asked.pop(request_id, None)
        if request_id in self._quiet:
            self._quiet.discard(request_id)
            return
        if view == "evaluation":
            self._evaluating = None
        self._state.update(busy=None, progress=None, message="cancelled")

    @Slot(str, int, str, int, int)
    def _on_progress(self, view: str, request_id: int, stage: str, done: int, total: int) -> None:
        if total > 0:
            self._state.update(progress=(done, total))


def _missing(result: ImageResult | None, methods: tuple[str, ...]) -> tuple[str, ...]:
    """The methods shown that ``result`` has no map for (all CAMs come with the first result)."""
    if result is None:
        return ()
    have = {e.method for e in result.explanations}
    return tuple(m for m in methods if m not in have)
