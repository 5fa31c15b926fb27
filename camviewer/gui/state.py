"""What the window shows, as a Qt-free observable state (napari's model/view split).

:class:`ViewerState` holds one frozen :class:`View` snapshot. Every change goes through
:meth:`ViewerState.update`, which validates the new snapshot and then calls each subscriber with
it and the names of the fields that changed; widgets subscribe and redraw, and tests drive the
state without any widget. Results from the worker enter through :meth:`ViewerState.explained`,
which ignores a result for an image that is no longer shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from camviewer.engine.requests import METHOD_NAMES
from camviewer.engine.results import ImageResult
from camviewer.render.overlay import COLORMAPS, OverlayStyle

Listener = Callable[["View", frozenset[str]], None]


@dataclass(frozen=True)
class View:
    """One consistent picture of the window: the images, which is shown, and how."""

    images: tuple[Path, ...] = ()
    index: int | None = None  # the image shown, into ``images``
    result: ImageResult | None = None  # predictions and maps of the shown image, once computed
    method: str = "gradcam"
    target: int | None = None  # the class explained; None: the top prediction
    overlay_visible: bool = True
    style: OverlayStyle = field(default_factory=OverlayStyle)
    preset: int = 0  # the window/level preset of the shown image
    anonymise: bool = True  # corner text and exports leave patient data out
    busy: str | None = None  # what the worker is doing for this view, shown with progress
    message: str | None = None  # the last error, one line, until the next action

    @property
    def current(self) -> Path | None:
        return self.images[self.index] if self.index is not None else None

    def check(self) -> None:
        """Raise ValueError for a snapshot the window could not show."""
        if self.index is not None and not 0 <= self.index < len(self.images):
            raise ValueError(f"image index {self.index} outside 0..{len(self.images) - 1}")
        if self.method not in METHOD_NAMES:
            raise ValueError(f"unknown method {self.method!r}")
        if not 0.0 <= self.style.alpha <= 1.0:
            raise ValueError("opacity must be within 0..1")
        if self.style.cmap not in COLORMAPS:
            raise ValueError(f"unknown colormap {self.style.cmap!r}")
        if self.preset < 0:
            raise ValueError("a preset index is not negative")


class ViewerState:
    """The window's state: a :class:`View` and the subscribers told of each change."""

    def __init__(self, view: View | None = None) -> None:
        self._view = view or View()
        self._view.check()
        self._listeners: list[Listener] = []

    @property
    def view(self) -> View:
        return self._view

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(view, changed)`` after every change; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def update(self, **changes: Any) -> frozenset[str]:
        """Apply ``changes`` (View fields), validated as a whole; notify if anything changed."""
        new = replace(self._view, **changes)
        new.check()
        changed = frozenset(f.name for f in fields(View) if getattr(new, f.name) != getattr(self._view, f.name))
        self._view = new
        if changed:
            for listener in tuple(self._listeners):
                listener(new, changed)
        return changed

    def open(self, images: tuple[Path, ...]) -> None:
        """Show the first of ``images``; nothing of the previous images stays."""
        self.update(images=images, index=0 if images else None, result=None, target=None, preset=0, busy=None, message=None)

    def show(self, index: int) -> None:
        """Switch to another opened image: its results are not known yet."""
        self.update(index=index, result=None, target=None, preset=0, busy=None, message=None)

    def explained(self, path: Path, result: ImageResult) -> bool:
        """Take a worker result if it belongs to the image shown; False (ignored) otherwise."""
        if path != self._view.current:
            return False
        self.update(result=result, busy=None, message=result.error.message if result.error else None)
        return True
