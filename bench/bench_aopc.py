"""AOPC cost: camviewer's batched curves against Quantus RegionPerturbation and a naive loop, in one process.

    .venv/bin/python bench/bench_aopc.py [--device cpu|cuda] [--repeats 3] [--batch 16] [--threads N]
    (needs the bench extra: pip install -e ".[bench]")

One image, 224x224, 9x9 grid (L = 81, 82 forward passes), MoRF, Gaussian noise sigma 0.1, the target's
softmax probability, ranking from camviewer's HiResCAM (random-weight Grad-CAM maps can be all zero). Three ways to get the same curve:
- camviewer: ``perturbation_curves`` (batches, inference_mode, channels-last, de-duplicated inputs, and the
  incremental split: only the changed region's footprint is recomputed in the convolutional front; the
  time includes finding and checking the split);
- camviewer whole: the same with ``incremental=False`` (every step runs the whole model);
- naive: 82 forward passes of batch 1 under no_grad, x^(k) built each time;
- Quantus 0.6.0 RegionPerturbation(patch_size=25, regions_evaluation=81, normalise=False, abs=False,
  batch_gaussian_noise with std 0.1), softmax=True. Differences: Quantus ranks patches by the SUM of the
  attribution, pads 224 to 225, perturbs the normalised input (not the pixel scale) with a fresh noise
  draw per step, and returns f(x0) - f(xk) rather than the curve; its timing is what counts here.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch
import torchvision
from bench_cams import median_seconds

from camviewer.explain.engine import compute_cams
from camviewer.explain.layers import locate_layer
from camviewer.metrics.aopc import CurveImage, CurveRequest, perturbation_curves
from camviewer.metrics.perturbation import Perturbation, fully_perturbed
from camviewer.metrics.regions import rank_regions, region_map
from camviewer.model.card import InputSpec
from camviewer.model.preprocess import normalise

SPEC = InputSpec(size=(224, 224), channels=3, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
GRID, TARGET = 9, 1


def naive(model: torch.nn.Module, image: CurveImage, regions: np.ndarray, ranking: np.ndarray, device: torch.device) -> np.ndarray:
    values = []
    for k in range(GRID * GRID + 1):
        x = np.where(np.isin(regions, ranking[:k])[None], image.perturbed, image.pixels)
        with torch.no_grad():
            logits = model(normalise(torch.from_numpy(x)[None].to(device), SPEC))
        values.append(float(torch.softmax(logits, 1)[0, TARGET]))
    return np.array(values)


def quantus_run(model: torch.nn.Module, x: torch.Tensor, heat: np.ndarray, device: torch.device) -> np.ndarray:
    import quantus

    metric = quantus.RegionPerturbation(
        patch_size=25, order="morf", regions_evaluation=GRID * GRID, abs=False, normalise=False,
        perturb_func=quantus.functions.perturb_func.batch_gaussian_noise,
        perturb_func_kwargs={"perturb_mean": 0.0, "perturb_std": 0.1}, disable_warnings=True,
    )
    a_batch = torch.nn.functional.interpolate(torch.from_numpy(heat)[None, None].float(), size=(224, 224), mode="bilinear").numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(metric(model=model, x_batch=x.cpu().numpy(), y_batch=np.array([TARGET]), a_batch=a_batch,
                                 device=str(device), softmax=True))


def bench_model(name: str, device: torch.device, repeats: int, batch: int) -> dict[str, float]:
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, num_classes=4).eval().to(device)
    pixels = np.random.default_rng(0).uniform(0, 1, (3, 224, 224)).astype(np.float32)
    image = CurveImage(pixels, fully_perturbed(pixels, Perturbation("gaussian", 0.1), seed=0))
    x = normalise(torch.from_numpy(pixels)[None].to(device), SPEC)
    _, cams = compute_cams(model, x, [[TARGET]], ["hirescam"], locate_layer(model, x))
    heat = np.abs(cams[0][0].maps["hirescam"])  # Quantus refuses all-negative or all-zero attributions
    regions = region_map((224, 224), GRID)
    ranking = rank_regions(heat, regions, GRID, "morf")
    request = [CurveRequest(0, "hirescam", TARGET, "morf", ranking)]

    def ours(incremental: bool = True) -> np.ndarray:
        curves = perturbation_curves(model, SPEC, [image], request, regions, GRID * GRID, batch_size=batch, incremental=incremental)
        return curves[0].values

    reference = naive(model, image, regions, ranking, device)
    timings = {
        "ours": median_seconds(ours, repeats, device),
        "whole": median_seconds(lambda: ours(incremental=False), repeats, device),
        "naive": median_seconds(lambda: naive(model, image, regions, ranking, device), repeats, device),
        "quantus": median_seconds(lambda: quantus_run(model, x, heat, device), repeats, device),
        "max_curve_difference": float(np.abs(ours() - reference).max()),
    }
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, batch {args.batch}, 224x224, 9x9 grid")
    print(f"{'model':<12}{'camviewer':>11}{'whole':>9}{'naive':>9}{'quantus':>9}{'naive/ours':>12}{'quantus/ours':>14}"
          f"{'whole/ours':>12}{'|ours-naive|':>14}")
    for name in ("resnet18", "densenet121", "vgg16"):
        t = bench_model(name, device, args.repeats, args.batch)
        print(f"{name:<12}{t['ours']:>10.2f}s{t['whole']:>8.2f}s{t['naive']:>8.2f}s{t['quantus']:>8.2f}s"
              f"{t['naive'] / t['ours']:>11.2f}x{t['quantus'] / t['ours']:>13.2f}x{t['whole'] / t['ours']:>11.2f}x"
              f"{t['max_curve_difference']:>14.1e}", flush=True)


if __name__ == "__main__":
    main()
