"""The shipped demo models' sizing: one prediction with all five CAMs, and one 81-region AOPC curve.

    .venv/bin/python bench/bench_demo_models.py [--device cpu|cuda] [--repeats 5] [--threads N]

On the bundled sample ``phantom_nodule.png`` (read, preprocessed to the card's input), target = the
nodule class, for demo-vgg and demo-resnet:
- camviewer, five CAMs: one ``compute_cams`` pass (forward + one backward) for gradcam, hirescam,
  gradcampp, xgradcam and layercam; anchor: pytorch-grad-cam computing the same five one by one;
- camviewer AOPC: ``perturbation_curves`` on a 9x9 grid (L = 81, MoRF, Gaussian sigma 0.1, softmax
  probability; includes finding and checking the incremental split); anchor: the same curve with
  ``incremental=False`` (every step runs the whole model).
Ratios are anchor / camviewer.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from bench_cams import FIVE, median_seconds
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, XGradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from camviewer.explain.engine import compute_cams
from camviewer.explain.layers import locate_layer
from camviewer.io import load_image
from camviewer.metrics.aopc import CurveImage, CurveRequest, perturbation_curves
from camviewer.metrics.perturbation import Perturbation, fully_perturbed
from camviewer.metrics.regions import rank_regions, region_map
from camviewer.model.build import LoadedModel, load_model
from camviewer.model.preprocess import prepare, to_pixel_scale

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "samples" / "phantom_nodule.png"
ANCHORS = (GradCAM, HiResCAM, GradCAMPlusPlus, XGradCAM, LayerCAM)
GRID = 9


def anchor_five(model: torch.nn.Module, layer: torch.nn.Module, x: torch.Tensor, target: int) -> None:
    for cls in ANCHORS:
        with cls(model=model, target_layers=[layer]) as cam:
            cam(input_tensor=x, targets=[ClassifierOutputTarget(target)])


def bench_model(model: LoadedModel, device: torch.device, repeats: int) -> dict[str, float]:
    prepared = prepare(load_image(SAMPLE), model.card.input)
    x = prepared.tensor[None].to(device)
    pixels = to_pixel_scale(prepared.pixels, model.card.input).reshape(x.shape[1:])
    target = model.card.classes.index("nodule")
    layer = locate_layer(model.module, x, model.default_layer)
    _, cams = compute_cams(model.module, x, [[target]], ["hirescam"], layer)
    regions = region_map(pixels.shape[-2:], GRID)
    request = [CurveRequest(0, "hirescam", target, "morf", rank_regions(cams[0][0].maps["hirescam"], regions, GRID, "morf"))]
    image = [CurveImage(pixels, fully_perturbed(pixels, Perturbation("gaussian", 0.1), seed=0))]

    def curve(incremental: bool) -> object:
        return perturbation_curves(model.module, model.card.input, image, request, regions, GRID * GRID, incremental=incremental)

    timings = {
        "five_cams": median_seconds(lambda: compute_cams(model.module, x, [[target]], FIVE, layer), repeats, device),
        "anchor_five": median_seconds(lambda: anchor_five(model.module, layer.module, x, target), repeats, device),
        "aopc": median_seconds(lambda: curve(True), repeats, device),
        "aopc_whole": median_seconds(lambda: curve(False), repeats, device),
    }
    return timings | {"cams_ratio": timings["anchor_five"] / timings["five_cams"], "aopc_ratio": timings["aopc_whole"] / timings["aopc"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, sample {SAMPLE.name}")
    print(f"{'model':<13}{'5 CAMs':>10}{'anchor 5':>10}{'ratio':>8}{'AOPC 81':>10}{'whole':>10}{'ratio':>8}")
    for name in ("demo-vgg", "demo-resnet"):
        t = bench_model(load_model(ROOT / "models" / f"{name}.json", device=str(device)), device, args.repeats)
        print(f"{name:<13}{t['five_cams'] * 1e3:>8.1f}ms{t['anchor_five'] * 1e3:>8.1f}ms{t['cams_ratio']:>7.2f}x"
              f"{t['aopc'] * 1e3:>8.0f}ms{t['aopc_whole'] * 1e3:>8.0f}ms{t['aopc_ratio']:>7.2f}x")


if __name__ == "__main__":
    main()
