"""The gradient CAM family as pure functions of activations A and gradients G.

A and G are (B, K, h, w): K feature maps at the target layer and the target score's gradient
with respect to them. Every method returns (B, h, w) maps, unnormalised. Each function's
docstring gives its paper's formula and any deviation from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import torch

CamFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
EPS = 1e-7


@dataclass(frozen=True)
class CamMethod:
    name: str
    label: str
    signed: bool
    compute: CamFunction
    reference: str


def grad_cam_linear(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """Σ_k α_k A_k with α_k = mean_ij G_kij: Grad-CAM before its ReLU."""
    return (grads.mean(dim=(2, 3), keepdim=True) * acts).sum(dim=1)


def grad_cam(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """Selvaraju et al. 2017, eq. 1-2: ReLU(Σ_k α_k A_k), α_k = 1/Z Σ_ij ∂s/∂A_kij. Exact."""
    return torch.relu(grad_cam_linear(acts, grads))


def hires_cam_signed(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """Σ_k G_k ⊙ A_k, HiResCAM before its ReLU. On Conv → Flatten/pool → Linear heads it sums to
    the class score minus the bias (the HiResCAM study's completeness)."""
    return (grads * acts).sum(dim=1)


def hires_cam(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """Draelos & Carin 2021 (the HiResCAM study): ReLU(Σ_k ∂s/∂A_k ⊙ A_k). Exact."""
    return torch.relu(hires_cam_signed(acts, grads))


def grad_cam_plus_plus(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """Chattopadhay et al. 2018, eq. 19 with the exponential score Y = exp(s):
    α_kij = G² / (2G² + Σ_ab A_kab · G³) (0 where G = 0), w_k = Σ_ij α_kij ReLU(G_kij),
    map = ReLU(Σ_k w_k A_k).

    Deviation: the paper's weights use ReLU(∂Y/∂A) = exp(s) · ReLU(G); the constant factor exp(s)
    is left out (it can overflow), so raw values are the paper's divided by exp(s) and every
    normalised map is the same. Where the denominator is 0, α is 0. (pytorch-grad-cam adds 1e-7 to
    the denominator instead, which changes maps whose gradients are small: G² near 1e-7.)
    """
    g2, g3 = grads.pow(2), grads.pow(3)
    denominator = 2 * g2 + acts.sum(dim=(2, 3), keepdim=True) * g3
    alpha = torch.where(denominator != 0, g2 / torch.where(denominator != 0, denominator, 1), 0)
    weights = (alpha * torch.relu(grads)).sum(dim=(2, 3), keepdim=True)
    return torch.relu((weights * acts).sum(dim=1))


def xgrad_cam(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """Fu et al. 2020: w_k = Σ_ij (A_kij / Σ_ab A_kab) G_kij, map = ReLU(Σ_k w_k A_k).

    The paper's map is Σ_k w_k A_k; the ReLU is its reference code's (and Grad-CAM's). EPS (1e-7)
    is added to Σ_ab A_kab (the reference code adds 1e-6), so an all-zero channel gets weight 0.
    """
    weights = (grads * acts / (acts.sum(dim=(2, 3), keepdim=True) + EPS)).sum(dim=(2, 3), keepdim=True)
    return torch.relu((weights * acts).sum(dim=1))


def layer_cam(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """Jiang et al. 2021, eq. 5-6: ReLU(Σ_k ReLU(G_k) ⊙ A_k). Exact."""
    return torch.relu((torch.relu(grads) * acts).sum(dim=1))


def grad_cam_elementwise(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """pytorch-grad-cam's GradCAMElementWise (no paper): ReLU(Σ_k ReLU(G_k ⊙ A_k)). Not HiResCAM:
    the ReLU comes before the channel sum."""
    return torch.relu(torch.relu(grads * acts).sum(dim=1))


CAM_METHODS: Mapping[str, CamMethod] = MappingProxyType(
    {
        m.name: m
        for m in (
            CamMethod("gradcam", "Grad-CAM", False, grad_cam, "Selvaraju et al., ICCV 2017"),
            CamMethod("hirescam", "HiResCAM", False, hires_cam, "Draelos & Carin, 2021"),
            CamMethod("hirescam-signed", "HiResCAM (signed)", True, hires_cam_signed,
                      "Draelos & Carin, 2021, before the ReLU; sums to score - bias"),
            CamMethod("gradcampp", "Grad-CAM++", False, grad_cam_plus_plus, "Chattopadhay et al., WACV 2018"),
            CamMethod("xgradcam", "XGrad-CAM", False, xgrad_cam, "Fu et al., BMVC 2020"),
            CamMethod("layercam", "LayerCAM", False, layer_cam, "Jiang et al., IEEE TIP 2021"),
            CamMethod("gradcam-elementwise", "Grad-CAM element-wise", False, grad_cam_elementwise, "pytorch-grad-cam"),
        )
    }
)
