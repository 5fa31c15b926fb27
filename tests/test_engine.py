"""The engine shared by CLI, window and batch: ordered streams, progress, cancel, validation, sessions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import write_model
from dicom_factory import gradient, make_dataset, write

import camviewer.engine.session as session_module
import camviewer.metrics.incremental as incremental
from camviewer import errors
from camviewer.engine import DecodedImage, EvaluateRequest, ExplainRequest, ModelSession, run_evaluate, run_explain
from camviewer.explain.targets import ClassName, TopK
from camviewer.io import load_image
from camviewer.metrics.perturbation import Perturbation
from camviewer.metrics.sensitivity import SensitivitySpec
from camviewer.model import load_model
from camviewer.progress import CancelToken, Progress


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> ModelSession:
    return ModelSession(load_model(write_model(tmp_path_factory.mktemp("model")), device="cpu"))


@pytest.fixture
def images(tmp_path: Path) -> tuple[Path, ...]:
    paths = [write(make_dataset(gradient(48 + 8 * k, 64, seed=k)), tmp_path / f"img{k}.dcm") for k in range(5)]
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"\0" * 10)
    paths.insert(2, broken)
    return tuple(paths)


def test_results_come_in_order_with_progress(session: ModelSession, images: tuple[Path, ...]) -> None:
    seen: list[Progress] = []
    request = ExplainRequest(images, ("gradcam", "layercam"), (TopK(2),), batch_size=2, request_id=7)
    results = list(run_explain(request, session, progress=seen.append))
    assert [r.path for r in results] == list(images) and [r.index for r in results] == list(range(6))
    assert [r.request_id for r in results] == [7] * 6
    assert isinstance(results[2].error, errors.NotDicomError) and not results[2].explanations
    assert all(len(r.explanations) == 4 and r.image is not None for k, r in enumerate(results) if k != 2)
    assert [(p.stage, p.done, p.total) for p in seen] == [("images", 2, 6), ("images", 4, 6), ("images", 6, 6)]


def test_cancel_raises_after_what_was_yielded(session: ModelSession, images: tuple[Path, ...]) -> None:
    token = CancelToken()
    produced = []
    with pytest.raises(errors.Cancelled):
        for result in run_explain(ExplainRequest(images, batch_size=2), session, cancel=token):
            produced.append(result)
            token.cancel()
    assert len(produced) == 2


def test_decoded_images_give_the_same_results_as_paths(session: ModelSession, images: tuple[Path, ...]) -> None:
    decoded = DecodedImage(load_image(images[0]), images[0])
    by_path, by_image = run_explain(ExplainRequest((images[0], decoded), ("hirescam",)), session)
    assert by_image.path == images[0] and by_image.predictions == by_path.predictions
    np.testing.assert_array_equal(by_image.explanations[0].map, by_path.explanations[0].map)


@pytest.mark.parametrize(("changes", "fragment", "option"), [
    ({"methods": ("nope",)}, "unknown method", "methods"), ({"methods": ()}, "no method", "methods"),
    ({"batch_size": 0}, "batch size", "batch_size"), ({"targets": ()}, "no class", "targets")])
def test_explain_requests_are_validated(changes: dict, fragment: str, option: str) -> None:
    with pytest.raises(errors.UsageError, match=fragment) as caught:
        ExplainRequest((Path("x.png"),), **changes)
    assert caught.value.option == option and "--" not in caught.value.message


@pytest.mark.parametrize(("changes", "option"), [
    ({"grid": 1}, "grid"), ({"steps": 82}, "steps"), ({"seed": -1}, "seed"), ({"orders": ()}, "orders"),
    ({"orders": ("up",)}, "orders"), ({"score": "odds"}, "score"), ({"batch_size": -1}, "batch_size")])
def test_evaluate_requests_are_validated(changes: dict, option: str) -> None:
    with pytest.raises(errors.UsageError) as caught:
        EvaluateRequest((Path("x.png"),), **changes)
    assert caught.value.option == option and "--" not in caught.value.message


@pytest.mark.parametrize(("request_changes", "option"), [
    ({"targets": (ClassName("Pneumothorax"),)}, "targets"), ({"targets": (TopK(4),)}, "targets"),
    ({"grid": 65}, "grid"), ({"perturbation": Perturbation("blur", 65.0)}, "perturbation")])
def test_what_needs_the_model_is_refused_before_any_image_is_read(session: ModelSession, request_changes: dict,
                                                                  option: str, tmp_path: Path) -> None:
    missing = tmp_path / "never-read.dcm"  # reading it would fail differently
    with pytest.raises(errors.UsageError) as caught:
        next(run_evaluate(EvaluateRequest((missing,), **request_changes), session))
    assert caught.value.option == option


def test_a_session_locates_each_layer_and_split_once(monkeypatch: pytest.MonkeyPatch, session: ModelSession,
                                                     images: tuple[Path, ...]) -> None:
    layers, splits = [], []
    locate, split = session_module.locate_layer, incremental.find_split
    monkeypatch.setattr(session_module, "locate_layer", lambda *a: layers.append(a[2]) or locate(*a))
    monkeypatch.setattr(incremental, "find_split", lambda *a: splits.append(a[2].max()) or split(*a))
    fresh = ModelSession(session.model)
    for grid in (3, 3, 4):
        list(run_evaluate(EvaluateRequest(images[:2], ("gradcam",), grid=grid, sensitivity=(SensitivitySpec(0.01, 1),)), fresh))
    list(run_explain(ExplainRequest(images[:2], ("gradcam", "layercam")), fresh))
    assert layers == [None] and splits == [8, 15]


def test_evaluation_streams_in_order_and_an_image_does_not_depend_on_its_neighbours(
        session: ModelSession, images: tuple[Path, ...]) -> None:
    request = EvaluateRequest(images, ("gradcam", "lrp-epf"), grid=3, orders=("morf", "random"),
                              sensitivity=(SensitivitySpec(0.02, 2),))
    seen: list[Progress] = []
    results = list(run_evaluate(request, session, progress=seen.append))
    assert [r.explained.index for r in results] == list(range(6)) and results[2].error is not None
    assert not results[2].curves
    for r in (results[0], results[5]):
        assert [(c.method, c.order) for c in r.curves] == [("gradcam", "morf"), ("gradcam", "random"),
                                                           ("lrp-epf", "morf"), ("lrp-epf", "random")]
        assert [s.method for s in r.sensitivity] == ["gradcam", "lrp-epf"]
    assert [p.done for p in seen if p.stage == "images"] == [1, 2, 3, 4, 5, 6]
    assert any(p.stage == "curves" for p in seen)
    # the same image at the same input position gives the same curves, whatever else is in the run
    alone = next(run_evaluate(EvaluateRequest(images[:1], ("gradcam", "lrp-epf"), grid=3, orders=("morf", "random"),
                                              sensitivity=(SensitivitySpec(0.02, 2),)), session))
    for ours, theirs in zip(results[0].curves, alone.curves):
        np.testing.assert_allclose(ours.values, theirs.values, rtol=1e-5, atol=1e-7)


def test_evaluation_can_be_cancelled(session: ModelSession, images: tuple[Path, ...]) -> None:
    token = CancelToken()
    produced = []
    with pytest.raises(errors.Cancelled):
        for result in run_evaluate(EvaluateRequest(images, grid=3), session, progress=lambda p: token.cancel(), cancel=token):
            produced.append(result)
    assert len(produced) <= 1
