"""Request ids for the window's views, and which result is still wanted (Qt-free).

Each view ("image", "evaluation", ...) has at most one current request: issuing a new one makes
the previous one stale, so a result that arrives late (the user already switched images) is
dropped instead of shown. Ids increase monotonically across all views.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RequestLedger:
    """The latest request id of each view, and the view of every id still in flight."""

    _next: int = 1
    _current: dict[str, int] = field(default_factory=dict)
    _views: dict[int, str] = field(default_factory=dict)

    def issue(self, view: str) -> tuple[int, int | None]:
        """A new id for ``view``, and the id it supersedes (None if the view had none in flight)."""
        request_id, self._next = self._next, self._next + 1
        previous = self._current.get(view)
        self._current[view] = request_id
        self._views[request_id] = view
        return request_id, previous

    def settle(self, request_id: int) -> str | None:
        """The view of a request that ended, if it is still that view's current one (else None: drop it)."""
        view = self._views.pop(request_id, None)
        if view is None or self._current.get(view) != request_id:
            return None
        del self._current[view]
        return view

    def view_of(self, request_id: int) -> str | None:
        """The view an unsettled request was issued for."""
        return self._views.get(request_id)

    def current(self, view: str) -> int | None:
        return self._current.get(view)
