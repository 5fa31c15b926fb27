"""The demo models' own check: accuracy, and whether each method's map points at the lesion.

On a fresh phantom test set: accuracy per model; per method, pointing-game hit rate and
relevance mass accuracy against the lesion masks (nodule, consolidation, effusion; cardiomegaly's
mask is the whole heart, so it is left out), and AOPC on a 9x9 grid (MoRF, Gaussian sigma 0.1 in
pixel scale, softmax probability of the true class). Prints a Markdown table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from camviewer.demo.train import INPUT_SIZE, MEAN, STD, unpaired_phantoms
from camviewer.explain.cams import CAM_METHODS
from camviewer.explain.engine import compute_cams
from camviewer.explain.layers import locate_layer
from camviewer.explain.lrp import compute_lrp, input_bounds
from camviewer.metrics.aopc import CurveImage, CurveRequest, perturbation_curves
from camviewer.metrics.localisation import localisation
from camviewer.metrics.perturbation import Perturbation, fully_perturbed
from camviewer.metrics.regions import rank_regions, region_map
from camviewer.model.build import LoadedModel, load_model
from camviewer.geometry import resize
from camviewer.phantom import CLASSES

LESIONS = ("nodule", "consolidation", "effusion")
METHODS = ("gradcam", "hirescam", "gradcampp", "xgradcam", "layercam", "lrp-epf")
TEST_SEED = 7_000_000


@dataclass(frozen=True)
class MethodScore:
    pointing: float
    pointing_by_lesion: dict[str, float]
    mass: float
    aopc: float


def phantom_test_set(per_class: int, seed: int = TEST_SEED) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Pixels (N, S, S) in [0, 1] at the demo models' input size, labels (N,), and the lesion
    masks at source resolution."""
    pixels, labels, masks = [], [], []
    for phantom in unpaired_phantoms(per_class, seed):
        pixels.append(resize(phantom.pixels, (INPUT_SIZE, INPUT_SIZE)))
        labels.append(CLASSES.index(phantom.label))
        masks.append(phantom.mask)
    return np.asarray(pixels, np.float32), np.asarray(labels), masks


def accuracy(model: LoadedModel, pixels: np.ndarray, labels: np.ndarray) -> float:
    with torch.inference_mode():
        predicted = model.module(torch.from_numpy((pixels[:, None] - MEAN) / STD)).argmax(1).numpy()
    return float((predicted == labels).mean())


def method_scores(model: LoadedModel, pixels: np.ndarray, labels: np.ndarray, masks: list[np.ndarray],
                  methods: Sequence[str] = METHODS) -> dict[str, MethodScore]:
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}; the demo evaluation knows {', '.join(METHODS)}")
    lesion = [k for k, label in enumerate(labels) if CLASSES[label] in LESIONS]
    inputs = torch.from_numpy((pixels[lesion][:, None] - MEAN) / STD)
    targets = [[int(labels[k])] for k in lesion]
    cam_methods = [m for m in methods if m in CAM_METHODS]
    cams = []
    if cam_methods:
        layer = locate_layer(model.module, inputs[:1], model.default_layer)
        _, cams = compute_cams(model.module, inputs, targets, cam_methods, layer)
    bounds = input_bounds((0.0, 1.0), (MEAN,), (STD,))
    lrp = compute_lrp(model.module, inputs, targets, "lrp-epf", bounds) if "lrp-epf" in methods else []
    regions = region_map((INPUT_SIZE, INPUT_SIZE), 9)
    images = [CurveImage(pixels[k][None], fully_perturbed(pixels[k][None], Perturbation("gaussian", 0.1), seed=k)) for k in lesion]
    out = {}
    for method in methods:
        maps = [r[0].map for r in lrp] if method == "lrp-epf" else [c[0].maps[method] for c in cams]
        found = [localisation(plane, masks[k]) for plane, k in zip(maps, lesion)]
        requests = [CurveRequest(n, method, targets[n][0], "morf", rank_regions(plane, regions, 9, "morf"))
                    for n, plane in enumerate(maps)]
        curves = perturbation_curves(model.module, model.card.input, images, requests, regions, 81)
        hits = np.array([f.pointing_game for f in found])
        by_lesion = {name: float(hits[[CLASSES[labels[k]] == name for k in lesion]].mean()) for name in LESIONS}
        out[method] = MethodScore(float(hits.mean()), by_lesion, float(np.mean([f.mass_accuracy for f in found])),
                                  float(np.mean([c.aopc for c in curves])))
    return out


def table(cards: list[Path], per_class: int = 20) -> str:
    pixels, labels, masks = phantom_test_set(per_class)
    lines = [f"Fresh test set: {per_class} phantoms per class (seed {TEST_SEED}); localisation and AOPC on the "
             f"{per_class * len(LESIONS)} lesion images (nodule, consolidation, effusion), target = true class.", "",
             "| model | accuracy | method | pointing game | (nodule / consolidation / effusion) | relevance mass | AOPC 9×9 |",
             "|---|---|---|---|---|---|---|"]
    for card in cards:
        model = load_model(card, device="cpu")
        acc = accuracy(model, pixels, labels)
        for method, score in method_scores(model, pixels, labels, masks).items():
            by_lesion = " / ".join(f"{score.pointing_by_lesion[name]:.2f}" for name in LESIONS)
            lines.append(f"| {model.card.name} | {acc:.3f} | {method} | {score.pointing:.3f} | {by_lesion} | {score.mass:.3f} | {score.aopc:.4f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[2] / "models"
    print(table([root / "demo-vgg.json", root / "demo-resnet.json"]))
