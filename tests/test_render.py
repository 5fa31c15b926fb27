"""Normalisation policies, colormaps and the overlay blend."""

from __future__ import annotations

import numpy as np
import pytest

from camviewer.render import Normalisation, colormap, normalise, overlay
from camviewer.render.annotate import colour_bar


def test_unsigned_per_image_normalisation_divides_by_the_maximum() -> None:
    raw = np.array([[-1.0, 0.0], [2.0, 4.0]])
    np.testing.assert_allclose(normalise(raw, signed=False), [[0, 0], [0.5, 1.0]])


def test_signed_normalisation_keeps_zero_at_zero() -> None:
    raw = np.array([[-2.0, 0.0], [1.0, 4.0]])
    np.testing.assert_allclose(normalise(raw, signed=True), [[-0.5, 0], [0.25, 1.0]])


def test_fixed_and_percentile_policies() -> None:
    raw = np.arange(101, dtype=np.float32)
    np.testing.assert_allclose(normalise(raw, False, Normalisation("fixed", scale=50.0))[[25, 50, 100]], [0.5, 1, 1])
    clipped = normalise(raw, False, Normalisation("percentile", percentile=50.0))
    assert clipped[50] == pytest.approx(1.0) and clipped[100] == 1.0 and clipped[25] == pytest.approx(0.5)


def test_an_all_zero_map_stays_zero() -> None:
    assert not normalise(np.zeros((3, 3)), signed=False).any()


def test_colormaps_are_rgb_tables() -> None:
    inferno = colormap("inferno")
    assert inferno.shape == (256, 3) and inferno.dtype == np.uint8
    assert inferno[0].sum() < inferno[255].sum()  # dark to bright
    coolwarm = colormap("coolwarm")
    assert coolwarm[0, 2] > coolwarm[0, 0] and coolwarm[255, 0] > coolwarm[255, 2]  # blue to red


def test_overlay_blends_the_resized_map_over_the_image() -> None:
    pixels = np.full((4, 6), 0.5, dtype=np.float32)
    heat = np.ones((2, 3), dtype=np.float32)
    out = overlay(pixels, heat, alpha=0.25, cmap="inferno")
    expected = np.rint(0.75 * 0.5 * 255 + 0.25 * colormap("inferno")[255].astype(np.float32))
    assert out.shape == (4, 6, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.broadcast_to(expected, (4, 6, 3)))
    np.testing.assert_array_equal(overlay(pixels, heat, alpha=0.0), np.full((4, 6, 3), 128))


@pytest.mark.parametrize("height", [48, 120, 192, 512])
def test_colour_bar_label_is_not_cut_off(height: int) -> None:
    """The normalisation label under the bar is drawn whole: its ink stays off the bottom edge."""
    labelled = colour_bar(height, "inferno", 0.0, 1.92, "shared per method")
    label_rows = (labelled != colour_bar(height, "inferno", 0.0, 1.92, "")).any(axis=(1, 2))
    assert label_rows.any() and not label_rows[-2:].any()


@pytest.mark.parametrize("height", [8, 16, 23])
def test_colour_bar_of_a_tiny_image_still_draws(height: int) -> None:
    bar = colour_bar(height, "inferno", 0.0, 1.0, "per map")
    assert bar.shape[0] == height and (bar != 255).any()


def test_curve_plots_use_a_fixed_probability_axis_and_tell_identical_curves_apart() -> None:
    from camviewer.render.plot import PALETTE, curve_plot, even_axis, nice_step, probability_axis

    assert even_axis(np.array([-3.2, 7.9])).ticks == (-5, 0, 5, 10)
    assert (nice_step(81, 8), nice_step(16, 8), nice_step(1, 8)) == (20, 2, 0.2)  # step ticks: 0, 20, 40, ...
    assert even_axis(np.array([0.31, 0.33])).ticks[0] <= 0.31 and even_axis(np.array([0.31, 0.33])).ticks[-1] >= 0.33
    curve = np.linspace(0.9, 0.1, 10)
    picture = curve_plot([("a", curve), ("b", curve.copy())], "t", "probability", probability_axis())
    plot_area = picture[64:396, 64:696].reshape(-1, 3)
    for colour in PALETTE[:2]:  # both series stay visible where they overlap (staggered markers, dashes)
        assert (np.abs(plot_area.astype(int) - colour).sum(axis=1) < 30).sum() > 20
    low = curve_plot([("a", np.full(10, 0.97))], "t", "probability", probability_axis())
    high = curve_plot([("a", np.full(10, 0.03))], "t", "probability", probability_axis())
    assert not np.array_equal(low, high)  # the axis does not stretch to the data


def test_caption_lines_wrap_to_the_width_at_separators_first() -> None:
    from camviewer.render.annotate import _width, wrapped

    line = "gradcam at layer4 | normalisation: per-image maximum | WARNING: out of scope: a demo model on a real image"
    for width in (120, 199, 300):
        lines = wrapped([line], width, 0.3)
        assert all(_width(part, 0.3) <= width for part in lines) and len(lines) > 1
        assert " ".join(lines).replace(" | ", " ") == line.replace(" | ", " ")  # nothing lost or reordered
    assert wrapped([line], 199, 0.3)[0] == "gradcam at layer4"  # broken at the separator, not inside a field
    assert wrapped([line], 10_000, 0.3) == [line] and wrapped(["averyveryverylongword"], 5, 0.3) == ["averyveryverylongword"]
