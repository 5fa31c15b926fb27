"""Logits and probabilities: softmax, or sigmoid for multi-label models."""

from __future__ import annotations

import numpy as np


def probabilities(logits: np.ndarray, multilabel: bool) -> np.ndarray:
    """Row-wise softmax, or element-wise sigmoid when ``multilabel``; computed in float64."""
    x = logits.astype(np.float64)
    if multilabel:
        return 1.0 / (1.0 + np.exp(-x))
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
