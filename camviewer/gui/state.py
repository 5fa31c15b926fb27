"""What the window shows, as a Qt-free observable state (napari's model/view split).

:class:`ViewerState` holds one frozen :class:`View` snapshot. Every change goes through
:meth:`ViewerState.update`, which validates the new snapshot and then calls each subscriber with
it and the names of the fields that changed; widgets subscribe and redraw, and tests drive the
state without any widget. Results from the worker enter through :meth:`ViewerState.explained`
and :meth:`ViewerState.evaluated`, which ignore a result for an image that is no longer shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from camviewer.engine.requests import METHOD_NAMES, EvaluateRequest
from camviewer.engine.results import EvaluationResult, ImageResult
from camviewer.gui.jobs import ModelInfo
from camviewer.io.image import XrayImage
from camviewer.render.overlay import COLORMAPS, Normalisation, OverlayStyle

Listener = Callable[["View", frozenset[str]], None]
MAX_COMPARED = 4


@dataclass(frozen=True)
class Orientation:
    """How the radiograph is turned on screen: clockwise quarter turns, then flips; and gray inversion."""

    rotation: int = 0
    flip_h: bool = False
    flip_v: bool = False
    invert: bool = False

    def rotated(self) -> Orientation:
        return replace(self, rotation=(self.rotation + 1) % 4)


@dataclass(frozen=True)
class Preview:
    """The model input after ``step`` regions of ``method``'s ``order`` curve were perturbed."""

    method: str
    order: str
    step: int


@dataclass(frozen=True)
class View:
    """One consistent picture of the window: the images, which is shown, and how."""

    model: ModelInfo | None = None  # once the worker has loaded it
    images: tuple[Path, ...] = ()
    index: int | None = None  # the image shown, into ``images``
    image: XrayImage | None = None  # the shown file, once decoded
    result: ImageResult | None = None  # predictions and maps of the shown image, once computed
    method: str = "gradcam"
    target: int | None = None  # the class explained; None: the top prediction
    explain_on_open: bool = True  # predict and explain an image as soon as it is shown
    overlay_visible: bool = True
    style: OverlayStyle = field(default_factory=OverlayStyle)
    normalisation: Normalisation = field(default_factory=Normalisation)
    grid: int | None = None  # the region grid drawn over the map, with rank numbers
    preset: int = 0  # the window/level preset of the shown image
    window: tuple[float, float] | None = None  # (centre, width) set by dragging; None: the preset's
    orientation: Orientation = field(default_factory=Orientation)
    compare: tuple[str, ...] = ()  # methods side by side (2..4); empty: one view
    evaluation: EvaluationResult | None = None  # curves of the shown image and class
    evaluated_with: EvaluateRequest | None = None  # the request behind ``evaluation``
    preview: Preview | None = None
    anonymise: bool = True  # corner text and exports leave patient data out
    busy: str | None = None  # what the worker is doing for this view, shown with progress
    progress: tuple[int, int] | None = None  # (done, total) of the busy work, when known
    message: str | None = None  # the last error or notice, one line, until the next action

    @property
    def current(self) -> Path | None:
        return self.images[self.index] if self.index is not None else None

    @property
    def methods_shown(self) -> tuple[str, ...]:
        return self.compare or (self.method,)

    def check(self) -> None:
        """Raise ValueError for a snapshot the window could not show."""
        if self.index is not None and not 0 <= self.index < len(self.images):
            raise ValueError(f"image index {self.index} outside 0..{len(self.images) - 1}")
        unknown = [m for m in (self.method, *self.compare) if m not in METHOD_NAMES]
        if unknown:
            raise ValueError(f"unknown method {unknown[0]!r}")
        if self.compare and not 2 <= len(self.compare) <= MAX_COMPARED:
            raise ValueError(f"compare 2 to {MAX_COMPARED} methods")
        if not 0.0 <= self.style.alpha <= 1.0 or not 0.0 <= self.style.threshold < 1.0:
            raise ValueError("opacity must be within 0..1 and the threshold within 0..1 (1 excluded)")
        if self.style.cmap not in COLORMAPS:
            raise ValueError(f"unknown colormap {self.style.cmap!r}")
        if self.preset < 0:
            raise ValueError("a preset index is not negative")
        if self.window is not None and self.window[1] <= 0:
            raise ValueError("a window's width is positive")
        if self.grid is not None and self.grid < 2:
            raise ValueError("a region grid has at least 2 x 2 regions")


IMAGE_RESET: dict[str, Any] = dict(image=None, result=None, target=None, preset=0, window=None, evaluation=None, evaluated_with=None,
                                   preview=None,
                                   busy=None, progress=None, message=None)


class ViewerState:
    """The window's state: a :class:`View` and the subscribers told of each change."""

    def __init__(self, view: View | None = None) -> None:
        self._view = view or View()
        self._view.check()
        self._listeners: list[Listener] = []
        self._pending: frozenset[str] = frozenset()
        self._notifying = False

    @property
    def view(self) -> View:
        return self._view

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(view, changed)`` after every change; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def update(self, **changes: Any) -> frozenset[str]:
        """Apply ``changes`` (View fields), validated as a whole; notify if anything changed.

        A listener may update the state itself: that change is applied at once, and its
        notification follows the current round, so every listener sees the changes in order and
        is always handed the latest view."""
        new = replace(self._view, **changes)
        new.check()
        changed = frozenset(f.name for f in fields(View) if getattr(new, f.name) is not getattr(self._view, f.name)
                            and getattr(new, f.name) != getattr(self._view, f.name))
        self._view = new
        self._pending |= changed
        if self._notifying:
            return changed
        self._notifying = True
        try:
            while self._pending:
                pending, self._pending = self._pending, frozenset()
                for listener in tuple(self._listeners):
                    listener(self._view, pending)
        finally:
            self._notifying = False
        return changed

    def open(self, images: tuple[Path, ...], index: int = 0) -> None:
        """Show ``images[index]``; nothing of the previous images stays."""
        self.update(images=images, index=index if images else None, **IMAGE_RESET)

    def show(self, index: int) -> None:
        """Switch to another opened image: its results are not known yet."""
        self.update(index=index, **IMAGE_RESET)

    def step(self, delta: int) -> None:
        """Show the next (+1) or previous (-1) opened image, if there is one."""
        index = self._view.index
        if index is not None and 0 <= index + delta < len(self._view.images):
            self.show(index + delta)

    def explain_class(self, index: int | None) -> None:
        """Explain another class of the shown image (None: the top prediction)."""
        self.update(target=index, result=None, evaluation=None, evaluated_with=None, preview=None)

    def decoded(self, path: Path, image: XrayImage) -> bool:
        """Take a decoded file if it is the one shown; False (ignored) otherwise."""
        if path != self._view.current:
            return False
        self.update(image=image)
        return True

    def explained(self, path: Path, result: ImageResult) -> bool:
        """Take a worker result if it belongs to the image shown; False (ignored) otherwise."""
        if path != self._view.current:
            return False
        image = result.image if result.image is not None else self._view.image
        self.update(image=image, result=result, busy=None, progress=None, message=result.error.message if result.error else None)
        return True

    def evaluated(self, path: Path, evaluation: EvaluationResult, request: EvaluateRequest) -> bool:
        """Take an evaluation (made by ``request``) if it belongs to the image shown; False (ignored) otherwise."""
        if path != self._view.current:
            return False
        error = evaluation.error
        self.update(evaluation=None if error else evaluation, evaluated_with=None if error else request, preview=None, busy=None, progress=None,
                    message=error.message if error else None)
        return True
