"""LRP cost per image against Grad-CAM, for the VGG, ResNet and DenseNet families, in one process.

    .venv/bin/python bench/bench_lrp.py [--device cpu|cuda] [--repeats 5]

Random weights with randomised BatchNorm statistics, 224x224, batch 1, one target. Grad-CAM is
camviewer's shared-pass engine; LRP is Zennit's composites with camviewer's canonizers (applied
and undone on every call, as in use).
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
import torchvision
from bench_cams import median_seconds
from torch import nn

from camviewer.explain.engine import compute_cams
from camviewer.explain.layers import locate_layer
from camviewer.explain.lrp import LRP_METHODS, compute_lrp, input_bounds

MODELS = ("vgg16_bn", "resnet50", "densenet121")


def randomised(name: str, device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, num_classes=4)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    return model.eval().to(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    bounds = input_bounds((0.0, 1.0), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, batch 1, 224x224")
    print(f"{'model':<14}{'Grad-CAM':>10}" + "".join(f"{m:>10}" for m in LRP_METHODS) + f"{'lrp-epf / Grad-CAM':>21}")
    for name in MODELS:
        model = randomised(name, device)
        x = torch.randn(1, 3, 224, 224, device=device)
        layer = locate_layer(model, x)
        cam = median_seconds(partial(compute_cams, model, x, [[1]], ["gradcam"], layer), args.repeats, device)
        lrp = {m: median_seconds(partial(compute_lrp, model, x, [[1]], m, bounds), args.repeats, device) for m in LRP_METHODS}
        cells = "".join(f"{lrp[m] * 1e3:>8.1f}ms" for m in LRP_METHODS)
        print(f"{name:<14}{cam * 1e3:>8.1f}ms{cells}{lrp['lrp-epf'] / cam:>20.2f}x")


if __name__ == "__main__":
    main()
