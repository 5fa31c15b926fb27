"""CAM cost: camviewer's shared pass against pytorch-grad-cam, in one process.

    .venv/bin/python bench/bench_cams.py [--device cpu|cuda] [--repeats 7] [--batch 1]

For each model (resnet18, densenet121, vgg16 at 224x224, random weights) it prints the median
wall time of: camviewer with Grad-CAM only, with Grad-CAM + HiResCAM, with five methods; and
pytorch-grad-cam computing Grad-CAM and HiResCAM separately (what a user of that library does).
Ratios: anchor pair / camviewer pair (target >= 4) and camviewer five / camviewer one (<= 1.2).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torchvision
from pytorch_grad_cam import GradCAM, HiResCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from camviewer.explain.engine import compute_cams
from camviewer.explain.layers import locate_layer

FIVE = ["gradcam", "hirescam", "gradcampp", "xgradcam", "layercam"]


def median_seconds(run: Callable[[], object], repeats: int, device: torch.device) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def anchor_pair(model: torch.nn.Module, layer: torch.nn.Module, x: torch.Tensor, target: int) -> None:
    for cls in (GradCAM, HiResCAM):
        with cls(model=model, target_layers=[layer]) as cam:
            cam(input_tensor=x, targets=[ClassifierOutputTarget(target)] * x.shape[0])


def bench_model(name: str, device: torch.device, repeats: int, batch: int) -> dict[str, float]:
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, num_classes=4).eval().to(device)
    x = torch.randn(batch, 3, 224, 224, device=device)
    layer = locate_layer(model, x[:1])
    targets = [[1]] * batch
    timings = {
        "ours_one": median_seconds(lambda: compute_cams(model, x, targets, ["gradcam"], layer), repeats, device),
        "ours_pair": median_seconds(lambda: compute_cams(model, x, targets, ["gradcam", "hirescam"], layer), repeats, device),
        "ours_five": median_seconds(lambda: compute_cams(model, x, targets, FIVE, layer), repeats, device),
        "anchor_pair": median_seconds(lambda: anchor_pair(model, layer.module, x, 1), repeats, device),
    }
    timings["pair_speedup"] = timings["anchor_pair"] / timings["ours_pair"]
    timings["five_over_one"] = timings["ours_five"] / timings["ours_one"]
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, batch {args.batch}, 224x224")
    print(f"{'model':<12}{'ours 1':>10}{'ours 2':>10}{'ours 5':>10}{'anchor 2':>10}{'2: anchor/ours':>16}{'ours 5/1':>10}")
    for name in ("resnet18", "densenet121", "vgg16"):
        t = bench_model(name, device, args.repeats, args.batch)
        print(f"{name:<12}{t['ours_one'] * 1e3:>8.1f}ms{t['ours_pair'] * 1e3:>8.1f}ms{t['ours_five'] * 1e3:>8.1f}ms"
              f"{t['anchor_pair'] * 1e3:>8.1f}ms{t['pair_speedup']:>15.2f}x{t['five_over_one']:>9.2f}x")


if __name__ == "__main__":
    main()
