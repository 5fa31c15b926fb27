"""Normal chest anatomy as an attenuation map: 0 = air, 1 = the most attenuating (bone).

Shapes are drawn in normalised coordinates (see :mod:`camviewer.phantom.shapes`), so one set
of :class:`AnatomyParams` renders the same patient at any size. "Right" and "left" are the
patient's: in a posteroanterior view the patient's right lung is on the image's left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from camviewer.phantom.shapes import curves_mask, ellipse_field, ellipse_mask, grid, polygon_mask, rounded, smooth_noise, soften

# Lung outline of the patient's right lung in (u, v): u = 0 medial .. 1 lateral, v = 0 apex .. 1
# costophrenic angle; clockwise from the apex, down the chest wall, along the dome, up the mediastinum.
LUNG_TEMPLATE = np.array([
    (0.30, 0.00), (0.45, 0.01), (0.60, 0.05), (0.74, 0.13), (0.85, 0.25), (0.93, 0.42), (0.98, 0.62),
    (1.00, 0.82), (0.99, 1.00), (0.88, 0.93), (0.74, 0.87), (0.58, 0.84), (0.42, 0.84), (0.26, 0.87),
    (0.10, 0.91), (0.02, 0.93), (0.00, 0.75), (0.00, 0.50), (0.03, 0.30), (0.08, 0.15), (0.17, 0.04),
])
DOME_POINTS = slice(8, 16)  # LUNG_TEMPLATE from the costophrenic to the cardiophrenic angle
RIBS_PER_SIDE = 10
LUNG_AIR = 0.3  # attenuation the air in the lungs takes away from the soft tissue
SIDES = (-1, 1)  # -1: patient's right (image left), +1: patient's left (image right)


@dataclass(frozen=True)
class AnatomyParams:
    """The random shape of one patient, in normalised image coordinates."""

    scale: float
    midline: float
    apex: float
    mediastinum_half_width: float
    lung_widths: tuple[float, float]
    lung_heights: tuple[float, float]
    lung_jitter: tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]
    heart_center: tuple[float, float]
    heart_axes: tuple[float, float]
    heart_angle: float
    body_half_width: float
    rib_spacing: float
    rib_drop: float
    clavicle_lift: float
    vertebra_period: float
    vertebra_phase: float


@dataclass(frozen=True, eq=False)
class Regions:
    """Boolean masks of the anatomy at full resolution."""

    body: np.ndarray
    lungs: tuple[np.ndarray, np.ndarray]
    heart: np.ndarray
    spine: np.ndarray

    @property
    def both_lungs(self) -> np.ndarray:
        return self.lungs[0] | self.lungs[1]


@dataclass(frozen=True, eq=False)
class Anatomy:
    """The attenuation map (float32, [0, 1]) and the regions it was drawn from."""

    attenuation: np.ndarray
    regions: Regions


def draw_params(rng: np.random.Generator) -> AnatomyParams:
    """Random anatomy: size, position, lung shape, heart, ribs, clavicles and spine."""
    scale = rng.uniform(0.9, 1.03)
    right_height = scale * rng.uniform(0.55, 0.61)
    heights = (right_height, right_height + scale * rng.uniform(0.01, 0.04))  # the left dome lies lower
    widths = (scale * rng.uniform(0.29, 0.33), scale * rng.uniform(0.29, 0.33))
    midline = 0.5 + rng.uniform(-0.025, 0.025)
    apex = rng.uniform(0.09, 0.14)
    mediastinum = scale * rng.uniform(0.045, 0.06)
    return AnatomyParams(
        scale=scale,
        midline=midline,
        apex=apex,
        mediastinum_half_width=mediastinum,
        lung_widths=widths,
        lung_heights=heights,
        lung_jitter=tuple(_jitter(rng) for _ in SIDES),  # type: ignore[arg-type]
        heart_center=(midline + scale * rng.uniform(0.04, 0.065), apex + heights[1] * rng.uniform(0.66, 0.71)),
        heart_axes=(scale * rng.uniform(0.145, 0.165), scale * rng.uniform(0.11, 0.125)),
        heart_angle=rng.uniform(12.0, 28.0),
        body_half_width=mediastinum + max(widths) + scale * rng.uniform(0.05, 0.08),
        rib_spacing=right_height * rng.uniform(0.082, 0.092),
        rib_drop=rng.uniform(0.85, 1.15),
        clavicle_lift=rng.uniform(-0.02, 0.02),
        vertebra_period=scale * rng.uniform(0.048, 0.056),
        vertebra_phase=rng.uniform(0.0, 1.0),
    )


def _jitter(rng: np.random.Generator) -> tuple[tuple[float, float], ...]:
    offsets = rng.uniform(-0.015, 0.015, size=LUNG_TEMPLATE.shape)
    return tuple((float(du), float(dv)) for du, dv in offsets)


def render(params: AnatomyParams, size: int, rng: np.random.Generator) -> Anatomy:
    """The attenuation map at ``size`` x ``size``; ``rng`` draws the lung texture only."""
    body = body_mask(params, size)
    outlines = [rounded(polygon_mask(size, lung_outline(params, k)), size / 256) for k in range(2)]
    abdomen = below_diaphragm(params, size) & body
    heart = ellipse_mask(size, params.heart_center, params.heart_axes, params.heart_angle) & body & ~abdomen
    lungs = (outlines[0] & ~heart & body, outlines[1] & ~heart & body)
    spine = spine_column(params, size)
    regions = Regions(body=body, lungs=lungs, heart=heart, spine=spine)
    attenuation = (soft_tissue(params, size, body) + mediastinum(params, size, regions, abdomen)
                   + bones(params, size, spine, body) + lung_air(params, size, regions, rng))
    return Anatomy(np.clip(attenuation, 0.0, 1.0).astype(np.float32), regions)


def lung_outline(params: AnatomyParams, index: int) -> np.ndarray:
    """The outline of lung ``index`` (0: patient's right) as normalised (x, y) points."""
    side = SIDES[index]
    template = LUNG_TEMPLATE + np.array(params.lung_jitter[index])
    medial = params.midline + side * params.mediastinum_half_width
    x = medial + side * template[:, 0] * params.lung_widths[index]
    y = params.apex + template[:, 1] * params.lung_heights[index]
    return np.stack([x, y], axis=1)


def body_mask(params: AnatomyParams, size: int) -> np.ndarray:
    """Torso, neck and shoulders."""
    s, mid = params.scale, params.midline
    torso = ellipse_mask(size, (mid, params.apex + 0.62 * s), (params.body_half_width, 0.78 * s))
    neck = ellipse_mask(size, (mid, params.apex - 0.12), (0.09 * s, 0.2))
    shoulders = [ellipse_mask(size, (mid + side * 0.3 * s, params.apex + 0.03), (0.2 * s, 0.1 * s)) for side in SIDES]
    return rounded(torso | neck | shoulders[0] | shoulders[1], size / 64)


def soft_tissue(params: AnatomyParams, size: int, body: np.ndarray) -> np.ndarray:
    """Soft tissue, thickest along the midline."""
    _, x = grid(size)
    across = np.clip(1.0 - ((x - params.midline) / params.body_half_width) ** 2, 0.0, 1.0)
    return soften(body, size / 200) * (0.36 + 0.1 * across)


def mediastinum(params: AnatomyParams, size: int, regions: Regions, abdomen: np.ndarray) -> np.ndarray:
    """Heart, upper mediastinum, aortic knob and the abdomen below the diaphragm."""
    y, x = grid(size)
    upper = (np.abs(x - params.midline) < params.mediastinum_half_width * 1.3) & (y < params.heart_center[1])
    knob_center = (params.midline + 0.055 * params.scale, params.apex + 0.27 * params.lung_heights[1])
    knob = ellipse_mask(size, knob_center, (0.035 * params.scale, 0.03 * params.scale))
    central = np.maximum(soften(regions.heart, size / 150), soften((upper | knob) & regions.body, size / 80))
    below = soften(abdomen, size / 40)
    return 0.16 * central * (1.0 - below) + 0.12 * below


def below_diaphragm(params: AnatomyParams, size: int) -> np.ndarray:
    """Pixels below the diaphragm: under the lung domes, joined straight across the mediastinum."""
    domes = np.concatenate([lung_outline(params, k)[DOME_POINTS] for k in range(2)])
    domes = domes[np.argsort(domes[:, 0])]
    y, x = grid(size)
    return np.broadcast_to(y > np.interp(x, domes[:, 0], domes[:, 1]), (size, size)).copy()


def spine_column(params: AnatomyParams, size: int) -> np.ndarray:
    """The vertebral column along the midline."""
    _, x = grid(size)
    column = np.abs(x - params.midline) < 0.032 * params.scale
    return np.broadcast_to(column, (size, size)).copy()


def bones(params: AnatomyParams, size: int, spine: np.ndarray, body: np.ndarray) -> np.ndarray:
    """Vertebrae with disc spaces and pedicles, ribs, and clavicles."""
    return vertebrae(params, size, spine) + (ribs(params, size) + clavicles(params, size)) * soften(body, size / 100)


def vertebrae(params: AnatomyParams, size: int, spine: np.ndarray) -> np.ndarray:
    y, x = grid(size)
    period = params.vertebra_period
    local = np.mod(y / period + params.vertebra_phase, 1.0) - 0.5  # -0.5 .. 0.5 within a vertebra
    disc = np.abs(local) > 0.41
    half = 0.032 * params.scale
    pedicle = ((np.abs(x - params.midline) - 0.62 * half) / (0.2 * half)) ** 2 + (local / 0.22) ** 2 < 1.0
    bodies = soften(spine & ~disc, size / 400)
    return 0.12 * bodies + 0.05 * soften(pedicle & spine, size / 400)


def ribs(params: AnatomyParams, size: int) -> np.ndarray:
    """Posterior ribs (from the spine outwards, then down) and fainter anterior ribs."""
    paths = [rib_paths(params, index, side, k) for index, side in enumerate(SIDES) for k in range(RIBS_PER_SIDE)]
    posterior = rib_bands(size, [path[0] for path in paths], 0.021 * params.scale)
    anterior = rib_bands(size, [path[1] for path in paths], 0.016 * params.scale)
    return 0.13 * posterior + 0.07 * anterior


def rib_paths(params: AnatomyParams, index: int, side: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Centre lines of rib ``k`` on one side: posterior arc and anterior segment."""
    t = np.linspace(0.0, 1.0, 24)
    height = params.lung_heights[index]
    reach = params.mediastinum_half_width + params.lung_widths[index] + 0.015
    start = params.apex - 0.015 + k * params.rib_spacing
    px = params.midline + side * (0.025 + t * reach)
    drop = (0.12 + 0.015 * k) * height * params.rib_drop
    py = start - 0.035 * height * np.sin(np.pi * t) + drop * t**2.2
    ax = px[-1] - side * t * params.lung_widths[index] * 0.7
    ay = py[-1] + height * (0.2 * t - 0.04 * t**2)
    return np.stack([px, py], axis=1), np.stack([ax, ay], axis=1)


def rib_bands(size: int, paths: list[np.ndarray], thickness: float) -> np.ndarray:
    """Ribs along ``paths``: a denser cortex around a lighter marrow."""
    outer = soften(curves_mask(size, paths, thickness), size / 500)
    inner = soften(curves_mask(size, paths, thickness * 0.5), size / 400)
    return outer - 0.45 * inner


def clavicles(params: AnatomyParams, size: int) -> np.ndarray:
    reach = np.array([0.03, 0.14, 0.24, 0.31]) * params.scale
    height = params.apex + params.clavicle_lift + np.array([0.075, 0.05, 0.02, -0.005])
    paths = [np.stack([params.midline + side * reach, height], axis=1) for side in SIDES]
    return 0.2 * soften(curves_mask(size, paths, 0.024 * params.scale), size / 300)


def lung_air(params: AnatomyParams, size: int, regions: Regions, rng: np.random.Generator) -> np.ndarray:
    """Air in the lungs (negative attenuation) with hila, vessels and fine texture, and the trachea."""
    y, x = grid(size)
    lungs = soften(regions.both_lungs, size / 200)
    hila = [(params.midline + side * 0.1 * params.scale, params.apex + 0.42 * params.lung_heights[0]) for side in SIDES]
    hilum_glow = sum(np.exp(-3.0 * ellipse_field(size, centre, (0.1, 0.16))) for centre in hila)
    vessels = vessel_tree(params, size, hila, rng)
    markings = 0.1 * vessels + 0.05 * hilum_glow + 0.008 * smooth_noise(rng, size, size / 300)
    trachea = (np.abs(x - params.midline) < 0.016 * params.scale) & (y < params.apex + 0.3 * params.lung_heights[0])
    return -LUNG_AIR * air_fraction(regions.both_lungs) + markings * lungs - 0.07 * soften(trachea, size / 200)


def air_fraction(lung: np.ndarray) -> np.ndarray:
    """How much of the full lung air each pixel holds: 1 inside ``lung``, falling off across its edge."""
    return soften(lung, lung.shape[0] / 250)


def vessel_tree(params: AnatomyParams, size: int, hila: list[tuple[float, float]],
                rng: np.random.Generator) -> np.ndarray:
    """Pulmonary vessels: tapering, slightly curved branches fanning out from each hilum."""
    generations: list[list[np.ndarray]] = [[], [], []]
    for side, hilum in zip(SIDES, hila):
        for angle in rng.uniform(-1.25, 1.35, size=9):  # 0 points sideways, negative upwards
            start = np.array(hilum)
            for segments, length in zip(generations, rng.uniform(0.06, 0.1, size=3) * params.scale):
                angle += rng.uniform(-0.35, 0.35)
                end = start + length * np.array([side * np.cos(angle), np.sin(angle)])
                segments.append(np.stack([start, end]))
                start = end
    return np.sum([soften(curves_mask(size, segments, (0.011 - 0.003 * k) * params.scale), size / 300)
                   for k, segments in enumerate(generations)], axis=0)
