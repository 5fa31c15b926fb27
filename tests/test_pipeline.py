"""The engine API shared by CLI, batch and GUI: ordered results, progress, cancel, failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from camviewer import errors
from camviewer.model import load_model
from camviewer.pipeline import ExplainRequest, run_explain
from camviewer.progress import CancelToken, Progress
from dicom_factory import good_dcm


@pytest.fixture
def images(tmp_path: Path) -> tuple[Path, ...]:
    paths = [good_dcm(tmp_path / f"img{k}.dcm") for k in range(5)]
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"\0" * 10)
    paths.insert(2, broken)
    return tuple(paths)


def test_results_come_in_order_with_progress(model_card: Path, images: tuple[Path, ...]) -> None:
    seen: list[Progress] = []
    request = ExplainRequest(images, ("gradcam", "layercam"), "top2", batch_size=2, request_id=7)
    results = list(run_explain(request, load_model(model_card, device="cpu"), progress=seen.append))
    assert [r.path for r in results] == list(images)
    assert [r.request_id for r in results] == [7] * 6
    assert isinstance(results[2].error, errors.NotDicomError) and not results[2].explanations
    assert all(len(r.explanations) == 4 for k, r in enumerate(results) if k != 2)
    assert [(p.stage, p.done, p.total) for p in seen] == [("images", 2, 6), ("images", 4, 6), ("images", 6, 6)]


def test_cancel_stops_before_the_next_batch(model_card: Path, images: tuple[Path, ...]) -> None:
    token = CancelToken()
    request = ExplainRequest(images, batch_size=2)
    produced = []
    with pytest.raises(errors.Cancelled):
        for result in run_explain(request, load_model(model_card, device="cpu"), cancel=token):
            produced.append(result)
            token.cancel()
    assert len(produced) == 2


@pytest.mark.parametrize(("changes", "fragment"), [({"methods": ("nope",)}, "unknown method"),
                                                   ({"methods": ()}, "no method"), ({"batch_size": 0}, "batch size")])
def test_requests_are_validated(changes: dict, fragment: str) -> None:
    with pytest.raises(errors.UsageError, match=fragment):
        ExplainRequest((Path("x.png"),), **changes)
