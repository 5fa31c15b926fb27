"""Explanations: the gradient CAM family from one shared pass, target layers and targets."""

from camviewer.explain.cams import CAM_METHODS, CamMethod
from camviewer.explain.engine import CamResult, compute_cams
from camviewer.explain.layers import TargetLayer, locate_layer
from camviewer.explain.targets import resolve_targets

__all__ = ["CAM_METHODS", "CamMethod", "CamResult", "TargetLayer", "compute_cams", "locate_layer", "resolve_targets"]
