"""The demo models' own check: accuracy, and whether each method's map points at the lesion.

On a fresh phantom test set, fed through the model card and ``prepare()`` like any image: accuracy
per model; per method, pointing-game hit rate and relevance mass accuracy against the lesion masks
(nodule, consolidation, effusion; cardiomegaly's mask is the whole heart, so it is left out), and
AOPC on a 9x9 grid (MoRF, Gaussian sigma 0.1 in pixel scale, softmax probability of the true class);
and, for Grad-CAM and HiResCAM on every finding class, AOPC by order (MoRF, random, LeRF). All through
the engine (``run_explain``, ``run_evaluate``). Prints Markdown tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from camviewer.demo.train import SOURCE_SIZE, unpaired_phantoms
from camviewer.engine import DecodedImage, EvaluateRequest, ExplainRequest, ModelSession, run_evaluate, run_explain
from camviewer.explain.targets import ClassIndex
from camviewer.metrics.localisation import localisation
from camviewer.metrics.regions import Order
from camviewer.model.build import load_model
from camviewer.phantom import CLASSES, FINDINGS
from camviewer.phantom.write import xray_image
from camviewer.resources import MODELS

LESIONS = ("nodule", "consolidation", "effusion")
METHODS = ("gradcam", "hirescam", "gradcampp", "xgradcam", "layercam", "lrp-epf")
ORDER_METHODS = ("gradcam", "hirescam")
ORDERS: tuple[Order, ...] = ("morf", "random", "lerf")
TEST_SEED = 7_000_000


@dataclass(frozen=True, eq=False)
class PhantomSet:
    """Phantoms at their source size (as their PNG reads), class indices, and the lesion masks."""

    images: tuple[DecodedImage, ...]
    labels: np.ndarray
    masks: tuple[np.ndarray, ...]

    def of_class(self, label: int) -> list[int]:
        return [k for k, value in enumerate(self.labels) if value == label]


@dataclass(frozen=True)
class MethodScore:
    pointing: float
    pointing_by_lesion: dict[str, float]
    mass: float
    aopc: float


def phantom_test_set(per_class: int, seed: int = TEST_SEED) -> PhantomSet:
    phantoms = list(unpaired_phantoms(per_class, seed))
    return PhantomSet(tuple(DecodedImage(xray_image(p)) for p in phantoms),
                   np.array([CLASSES.index(p.label) for p in phantoms]), tuple(p.mask for p in phantoms))


def accuracy(session: ModelSession, test: PhantomSet) -> float:
    results = run_explain(ExplainRequest(test.images, ("gradcam",)), session)
    return float(np.mean([r.predictions[0].index == label for r, label in zip(results, test.labels)]))


def method_scores(session: ModelSession, test: PhantomSet, methods: Sequence[str] = METHODS) -> dict[str, MethodScore]:
    """Per method: localisation and MoRF AOPC of the true class's map, on the lesion images."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}; the demo evaluation knows {', '.join(METHODS)}")
    hits: dict[str, dict[str, list[bool]]] = {m: {lesion: [] for lesion in LESIONS} for m in methods}
    mass: dict[str, list[float]] = {m: [] for m in methods}
    aopcs: dict[str, list[float]] = {m: [] for m in methods}
    for lesion in LESIONS:
        label = CLASSES.index(lesion)
        chosen = test.of_class(label)
        request = EvaluateRequest(tuple(test.images[k] for k in chosen), tuple(methods), (ClassIndex(label),), grid=9)
        for k, result in zip(chosen, run_evaluate(request, session)):
            for e, curve in zip(result.explained.explanations, result.curves):
                found = localisation(e.map, test.masks[k])
                hits[e.method][lesion].append(found.pointing_game)
                mass[e.method].append(found.mass_accuracy)
                aopcs[e.method].append(curve.aopc)
    return {m: MethodScore(float(np.mean(sum(hits[m].values(), []))), {lesion: float(np.mean(v)) for lesion, v in hits[m].items()},
                           float(np.mean(mass[m])), float(np.mean(aopcs[m]))) for m in methods}


def order_scores(session: ModelSession, test: PhantomSet, methods: Sequence[str] = ORDER_METHODS,
                 classes: Sequence[str] = FINDINGS) -> dict[tuple[str, str], dict[str, float]]:
    """Mean AOPC per (method, class) and order (MoRF, random, LeRF) for the true class's map: a faithful
    map on a model that responds to evidence gives MoRF > random > LeRF."""
    out: dict[tuple[str, str], dict[str, list[float]]] = {(m, c): {o: [] for o in ORDERS} for m in methods for c in classes}
    for name in classes:
        label = CLASSES.index(name)
        chosen = test.of_class(label)
        request = EvaluateRequest(tuple(test.images[k] for k in chosen), tuple(methods), (ClassIndex(label),), grid=9,
                                  orders=ORDERS)
        for result in run_evaluate(request, session):
            for curve in result.curves:
                out[curve.method, name][curve.order].append(curve.aopc)
    return {key: {order: float(np.mean(values)) for order, values in orders.items()} for key, orders in out.items()}


def table(cards: list[Path], per_class: int = 20) -> str:
    test = phantom_test_set(per_class)
    lines = [f"Fresh test set: {per_class} phantoms per class (seed {TEST_SEED}, {SOURCE_SIZE} px); localisation and "
             f"AOPC on the {per_class * len(LESIONS)} lesion images (nodule, consolidation, effusion), target = true class.", "",
             "| model | accuracy | method | pointing game | (nodule / consolidation / effusion) | relevance mass | AOPC 9×9 |",
             "|---|---|---|---|---|---|---|"]
    orders = ["", f"AOPC by order on all {per_class * len(FINDINGS)} finding images (target = true class; 9×9 grid, "
                  "Gaussian σ = 0.1; random: one seeded order per image):", "",
              "| model | method | class | MoRF | random | LeRF | MoRF > random > LeRF |", "|---|---|---|---|---|---|---|"]
    for card in cards:
        session = ModelSession(load_model(card, device="cpu"))
        acc = accuracy(session, test)
        for method, score in method_scores(session, test).items():
            by_lesion = " / ".join(f"{score.pointing_by_lesion[name]:.2f}" for name in LESIONS)
            lines.append(f"| {session.card.name} | {acc:.3f} | {method} | {score.pointing:.3f} | {by_lesion} | "
                         f"{score.mass:.3f} | {score.aopc:.4f} |")
        for (method, name), aopc in order_scores(session, test).items():
            ordered = "yes" if aopc["morf"] > aopc["random"] > aopc["lerf"] else "**no**"
            orders.append(f"| {session.card.name} | {method} | {name} | {aopc['morf']:.4f} | {aopc['random']:.4f} | "
                          f"{aopc['lerf']:.4f} | {ordered} |")
    return "\n".join(lines + orders)


if __name__ == "__main__":
    print(table([MODELS / "demo-vgg.json", MODELS / "demo-resnet.json"]))
