"""The window's engine worker: one thread owns the model; every job ends in one signal; only the
latest request of a view is shown; cancel and shutdown are prompt. Offscreen, with pytest-qt."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from camviewer.engine import EvaluateRequest, ExplainRequest
from camviewer.gui.jobs import LoadModel, ModelInfo
from camviewer.gui.ledger import RequestLedger
from camviewer.gui.worker import WorkerHost

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"
PHANTOMS = sorted(SAMPLES.glob("phantom_*.png"))
SLOW = EvaluateRequest(tuple(PHANTOMS) * 20, ("gradcam",), grid=12, orders=("morf", "lerf", "random"), incremental=False)


class Outcomes:
    """Everything a host emitted, and the thread each slot ran on."""

    def __init__(self, host: WorkerHost) -> None:
        self.results: list[tuple[str, int, object]] = []
        self.failures: list[tuple[str, int, str, str]] = []
        self.cancelled: list[tuple[str, int]] = []
        self.threads: set[threading.Thread] = set()
        host.result.connect(lambda *a: self._add(self.results, a))
        host.failure.connect(lambda *a: self._add(self.failures, a))
        host.cancelled.connect(lambda *a: self._add(self.cancelled, a))

    def _add(self, into: list, item: tuple) -> None:
        self.threads.add(threading.current_thread())
        into.append(item)

    def ended(self, request_id: int) -> bool:
        return any(item[1] == request_id for item in (*self.results, *self.failures, *self.cancelled))


@pytest.fixture
def host(qtbot: QtBot) -> Iterator[WorkerHost]:
    host = WorkerHost()
    yield host
    assert host.shutdown()


def loaded(host: WorkerHost, qtbot: QtBot, outcomes: Outcomes) -> ModelInfo:
    request_id = host.submit("model", LoadModel())
    qtbot.waitUntil(lambda: outcomes.ended(request_id), timeout=60_000)
    (view, _, info), = [r for r in outcomes.results if r[1] == request_id]
    assert view == "model" and isinstance(info, ModelInfo)
    return info


def test_the_ledger_keeps_one_current_request_per_view() -> None:
    ledger = RequestLedger()
    first, none = ledger.issue("image")
    second, superseded = ledger.issue("image")
    other, _ = ledger.issue("evaluation")
    assert none is None and superseded == first and first < second < other
    assert ledger.settle(first) is None  # stale: dropped
    assert ledger.view_of(second) == "image" and ledger.settle(second) == "image"
    assert ledger.current("image") is None and ledger.settle(second) is None
    assert ledger.settle(other) == "evaluation"


def test_a_sample_is_predicted_off_the_gui_thread(host: WorkerHost, qtbot: QtBot) -> None:
    outcomes = Outcomes(host)
    info = loaded(host, qtbot, outcomes)
    assert info.name == "demo-resnet" and info.demo and "nodule" in info.classes
    request_id = host.submit("image", ExplainRequest((SAMPLES / "phantom_effusion.dcm",), ("gradcam", "hirescam")))
    qtbot.waitUntil(lambda: outcomes.ended(request_id), timeout=60_000)
    (_, _, results), = [r for r in outcomes.results if r[1] == request_id]
    (result,) = results
    assert result.predictions[0].label == "effusion" and [e.method for e in result.explanations] == ["gradcam", "hirescam"]
    assert result.request_id == request_id
    assert outcomes.threads == {threading.main_thread()}  # slots run on the GUI thread


def test_only_the_latest_request_of_a_view_is_shown(host: WorkerHost, qtbot: QtBot) -> None:
    outcomes = Outcomes(host)
    loaded(host, qtbot, outcomes)
    ids = [host.submit("image", ExplainRequest((path,))) for path in PHANTOMS * 4]  # rapid image switches
    qtbot.waitUntil(lambda: outcomes.ended(ids[-1]), timeout=60_000)
    qtbot.wait(200)  # anything stale still queued would arrive now
    image_results = [r for r in outcomes.results if r[0] == "image"]
    assert [r[1] for r in image_results] == [ids[-1]] and not outcomes.cancelled
    assert image_results[0][2][0].path == PHANTOMS[-1]


def test_each_job_ends_in_one_message_and_the_worker_stays_usable(host: WorkerHost, qtbot: QtBot) -> None:
    outcomes = Outcomes(host)
    early = host.submit("image", ExplainRequest((PHANTOMS[0],)))
    qtbot.waitUntil(lambda: outcomes.ended(early), timeout=30_000)
    assert outcomes.failures[-1][1:3] == (early, "model") and "no model is loaded" in outcomes.failures[-1][3]
    missing = host.submit("model", LoadModel(Path("/nonexistent/card.json")))
    qtbot.waitUntil(lambda: outcomes.ended(missing), timeout=30_000)
    assert outcomes.failures[-1][1] == missing
    loaded(host, qtbot, outcomes)
    bad = SAMPLES.parent / "no-such-image.dcm"
    request_id = host.submit("image", ExplainRequest((bad, PHANTOMS[0])))
    qtbot.waitUntil(lambda: outcomes.ended(request_id), timeout=60_000)
    (_, _, (failed, fine)), = [r for r in outcomes.results if r[1] == request_id]
    assert failed.error is not None and fine.predictions  # one bad file fails alone


def test_a_long_evaluation_can_be_cancelled(host: WorkerHost, qtbot: QtBot) -> None:
    outcomes = Outcomes(host)
    loaded(host, qtbot, outcomes)
    steps: list[int] = []
    host.progress.connect(lambda view, request_id, stage, done, total: steps.append(done))
    request_id = host.submit("evaluation", SLOW)
    qtbot.waitUntil(lambda: len(steps) > 0, timeout=60_000)
    host.cancel("evaluation")
    started = time.monotonic()
    qtbot.waitUntil(lambda: outcomes.ended(request_id), timeout=30_000)
    assert outcomes.cancelled == [("evaluation", request_id)] and time.monotonic() - started < 5


def test_shutdown_during_inference_is_prompt(qtbot: QtBot) -> None:
    host = WorkerHost()
    outcomes = Outcomes(host)
    loaded(host, qtbot, outcomes)
    steps: list[int] = []
    host.progress.connect(lambda *a: steps.append(a[3]))
    host.submit("evaluation", SLOW)
    qtbot.waitUntil(lambda: len(steps) > 0, timeout=60_000)
    started = time.monotonic()
    assert host.shutdown(timeout_ms=5000)
    assert time.monotonic() - started < 2
