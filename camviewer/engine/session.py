"""A loaded model with what requests would otherwise re-derive: target layers, LRP input bounds."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import torch
from torch import nn

from camviewer import errors
from camviewer.explain.layers import TargetLayer, locate_layer
from camviewer.explain.lrp import Bounds, input_bounds
from camviewer.io import XrayImage
from camviewer.metrics.aopc import default_batch_size
from camviewer.metrics.incremental import SplitCache
from camviewer.model.build import LoadedModel
from camviewer.model.card import InputSpec, ModelCard
from camviewer.model.preprocess import ModelInput, prepare


@dataclass(eq=False)
class ModelSession:
    """One model for many requests: located target layers are cached by name (None: the default), and
    the incremental split of the model for perturbation curves by region map."""

    model: LoadedModel
    _layers: dict[str | None, TargetLayer] = field(default_factory=dict, init=False, repr=False)
    splits: SplitCache = field(default_factory=SplitCache, init=False, repr=False)

    @property
    def card(self) -> ModelCard:
        return self.model.card

    @property
    def spec(self) -> InputSpec:
        return self.model.card.input

    @property
    def module(self) -> nn.Module:
        return self.model.module

    @property
    def device(self) -> torch.device:
        return self.model.device

    def layer(self, name: str | None = None) -> TargetLayer:
        """The named target layer, or the card's/architecture's/automatic one, located once.

        A layer the caller named that cannot be used is the caller's choice: a UsageError ("layer").
        """
        if name not in self._layers:
            example = torch.zeros(1, self.spec.channels, *self.spec.size, device=self.device)
            try:
                self._layers[name] = locate_layer(self.module, example, name or self.model.default_layer)
            except errors.ExplainError as exc:
                if name is None:
                    raise
                raise errors.UsageError(exc.detail, option="layer") from exc
        return self._layers[name]

    @cached_property
    def bounds(self) -> Bounds:
        """The lowest and highest normalised input values, for LRP's zB rule."""
        return input_bounds(self.spec.value_range, self.spec.mean, self.spec.std)

    @cached_property
    def forward_batch_size(self) -> int:
        return default_batch_size(self.device)

    def prepare(self, image: XrayImage) -> ModelInput:
        return prepare(image, self.spec)
