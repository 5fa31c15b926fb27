"""The window's Qt-free state: validated snapshots, change notifications, stale results ignored."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from camviewer.engine import ExplainRequest, ModelSession, run_explain
from camviewer.gui.state import View, ViewerState
from camviewer.model.build import load_model
from camviewer.render.overlay import OverlayStyle

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"
A, B = SAMPLES / "phantom_nodule.png", SAMPLES / "phantom_effusion.png"


def recorder(state: ViewerState) -> list[frozenset[str]]:
    seen: list[frozenset[str]] = []
    state.subscribe(lambda view, changed: seen.append(changed))
    return seen


def test_subscribers_hear_which_fields_changed_and_only_real_changes() -> None:
    state = ViewerState()
    seen = recorder(state)
    state.open((A, B))
    assert seen == [frozenset({"images", "index"})] and state.view.current == A
    assert state.update(method="gradcam") == frozenset() and len(seen) == 1  # no change, no notification
    state.update(method="hirescam", style=replace(state.view.style, alpha=0.7))
    assert seen[-1] == frozenset({"method", "style"})
    unsubscribe = state.subscribe(lambda view, changed: pytest.fail("unsubscribed"))
    unsubscribe()
    state.update(overlay_visible=False)
    assert seen[-1] == frozenset({"overlay_visible"})


@pytest.mark.parametrize("changes", [{"index": 2}, {"method": "gradcam-plus"}, {"style": OverlayStyle(alpha=1.5)},
                                     {"style": OverlayStyle(cmap="rainbow")}, {"preset": -1}])
def test_a_snapshot_the_window_cannot_show_is_refused_whole(changes: dict) -> None:
    state = ViewerState(View(images=(A, B), index=0))
    seen = recorder(state)
    before = state.view
    with pytest.raises(ValueError):
        state.update(**changes)
    assert state.view is before and seen == []


def test_a_result_for_an_image_no_longer_shown_is_ignored() -> None:
    session = ModelSession(load_model(None, device="cpu"))
    first, second = run_explain(ExplainRequest((A, B)), session)
    state = ViewerState()
    state.open((A, B))
    state.update(busy="predicting")
    state.show(1)  # the user moved on before A's result arrived
    assert not state.explained(A, first) and state.view.result is None
    assert state.explained(B, second) and state.view.result is second and state.view.busy is None
    state.show(0)
    assert state.view.result is None and state.view.target is None  # a new image starts clean


def test_a_file_that_fails_leaves_one_line_for_the_user(tmp_path: Path) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\0" * 10)
    (result,) = run_explain(ExplainRequest((bad,)), ModelSession(load_model(None, device="cpu")))
    state = ViewerState()
    state.open((bad,))
    assert state.explained(bad, result)
    assert state.view.message == "Not a DICOM file (bad.dcm)" and state.view.result is result
    state.open((A,))
    assert state.view.message is None


def test_a_listener_that_updates_the_state_keeps_everyone_in_order() -> None:
    state = ViewerState(View(images=(A, B), index=0))
    heard: list[tuple[str, frozenset[str], str | None]] = []
    state.subscribe(lambda view, changed: state.update(busy="predicting") if "index" in changed else None)
    state.subscribe(lambda view, changed: heard.append(("second", changed, view.busy)))
    state.show(1)
    assert heard == [("second", frozenset({"index"}), "predicting"), ("second", frozenset({"busy"}), "predicting")]
    assert state.view.busy == "predicting"
