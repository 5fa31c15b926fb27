"""Localisation scores on hand-built maps and masks, including maps coarser than the mask."""

from __future__ import annotations

import numpy as np
import pytest

from camviewer.metrics.localisation import Localisation, localisation, mask_from_boxes


def test_mask_from_boxes_is_end_exclusive_clipped_and_a_union() -> None:
    mask = mask_from_boxes((4, 5), [(1, 0, 3, 2), (4, 3, 9, 9), (-2, 3, 1, 4)])
    expected = np.array([
        [0, 1, 1, 0, 0],
        [0, 1, 1, 0, 0],
        [0, 0, 0, 0, 0],
        [1, 0, 0, 0, 1],
    ], dtype=bool)
    np.testing.assert_array_equal(mask, expected)
    assert not mask_from_boxes((3, 3), [(1, 1, 1, 3)]).any()
    with pytest.raises(ValueError, match="x0 <= x1"):
        mask_from_boxes((3, 3), [(2, 0, 1, 1)])


def test_scores_on_a_full_resolution_map_by_hand() -> None:
    heat = np.array([
        [0.0, 1.0, 0.0, -5.0],
        [0.0, 4.0, 2.0, 0.0],
        [1.0, 0.0, 0.0, 0.0],
    ])
    mask = mask_from_boxes((3, 4), [(1, 0, 3, 2)])  # rows 0-1, columns 1-2
    # positive energy 8, of which 7 inside; threshold 2 selects (1,1), (1,2): IoU 2/4
    assert localisation(heat, mask) == Localisation(True, 7 / 8, 7 / 8, 0.5, 0.5)
    # threshold 0.25 -> >= 1 selects (0,1), (1,1), (1,2), (2,0): IoU 3/5
    assert localisation(heat, mask, iou_threshold=0.25).iou == pytest.approx(3 / 5)
    assert localisation(heat, ~mask).pointing_game is False


def test_ties_go_to_the_first_maximum_in_row_major_order() -> None:
    heat = np.array([[0.0, 3.0], [3.0, 0.0]])
    assert localisation(heat, mask_from_boxes((2, 2), [(1, 0, 2, 1)])).pointing_game is True
    assert localisation(heat, mask_from_boxes((2, 2), [(0, 1, 1, 2)])).pointing_game is False


def test_coarse_map_is_resized_bilinearly_to_the_mask() -> None:
    # 2x2 -> 4x4 with half-pixel centres: row weights of the top row are 1, .75, .25, 0 and
    # column weights of the right column 0, .25, .75, 1, so the upsampled map is
    # [[0, 1, 3, 4], [0, .75, 2.25, 3], [0, .25, .75, 1], [0, 0, 0, 0]] (total 16).
    heat = np.array([[0.0, 4.0], [0.0, 0.0]])
    box = mask_from_boxes((4, 4), [(2, 0, 4, 2)])  # the four values 3, 4, 2.25, 3
    assert localisation(heat, box) == Localisation(True, 12.25 / 16, 12.25 / 16, 1.0, 0.5)
    left = mask_from_boxes((4, 4), [(0, 0, 2, 4)])  # 0 + 1 + .75 + .25 inside; region {>= 2} disjoint
    assert localisation(heat, left) == Localisation(False, 2 / 16, 2 / 16, 0.0, 0.5)


def test_map_at_a_non_integer_scale() -> None:
    heat = np.zeros((3, 3))
    heat[1, 1] = 1.0
    result = localisation(heat, mask_from_boxes((7, 7), [(3, 3, 4, 4)]))
    assert result.pointing_game is True and 0 < result.energy < 1


def test_degenerate_maps() -> None:
    mask = mask_from_boxes((4, 4), [(0, 0, 2, 2)])
    assert localisation(np.zeros((2, 2)), mask) == Localisation(False, 0.0, 0.0, 0.0, 0.5)
    negative = -np.arange(1.0, 17.0).reshape(4, 4)  # maximum at (0, 0), inside the mask
    assert localisation(negative, mask) == Localisation(True, 0.0, 0.0, 0.0, 0.5)


def test_invalid_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="mask is empty"):
        localisation(np.ones((2, 2)), np.zeros((4, 4), dtype=bool))
    with pytest.raises(ValueError, match="threshold"):
        localisation(np.ones((2, 2)), np.ones((4, 4), dtype=bool), iou_threshold=0.0)
    with pytest.raises(ValueError, match="NaN"):
        localisation(np.array([[np.nan, 1.0]]), np.ones((1, 2), dtype=bool))
