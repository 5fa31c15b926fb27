"""Typed targets: parsed once from their text form, checked against the classes, resolved per image."""

from __future__ import annotations

import numpy as np
import pytest

from camviewer import errors
from camviewer.explain.targets import ClassIndex, ClassName, TopK, check_targets, parse_targets, resolve_targets

CLASSES = ("a", "b", "c", "d")
P = np.array([0.1, 0.4, 0.3, 0.2])


def test_the_text_form_parses_into_typed_targets() -> None:
    assert parse_targets(["top3", " d ", "0"]) == (TopK(3), ClassName("d"), ClassIndex(0))
    assert [str(t) for t in parse_targets(["TOP2", "x", "-1"])] == ["top2", "x", "-1"]
    with pytest.raises(errors.UsageError) as caught:
        parse_targets([" ", ""])
    assert caught.value.option == "targets" and "--" not in caught.value.message


def test_targets_resolve_top_k_names_and_indices() -> None:
    assert resolve_targets(parse_targets(["top1"]), CLASSES, P) == (1,)
    assert resolve_targets(parse_targets(["top3"]), CLASSES, P) == (1, 2, 3)
    assert resolve_targets(parse_targets("d,0,top1,d".split(",")), CLASSES, P) == (3, 0, 1)


@pytest.mark.parametrize("text", ["top9", "top0", "x", "7", "-1"])
def test_targets_outside_the_model_are_refused_before_any_work(text: str) -> None:
    with pytest.raises(errors.UsageError) as caught:
        check_targets(parse_targets([text]), CLASSES)
    assert caught.value.option == "targets" and "--" not in caught.value.message
