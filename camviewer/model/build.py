"""From a model card to a ready ``nn.Module`` in eval mode, validated on a synthetic input."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from camviewer import errors
from camviewer.model.architectures import ARCHITECTURES
from camviewer.model.card import ModelCard, load_card
from camviewer.model.device import select_device
from camviewer.model.weights import load_weights
from camviewer.resources import DEFAULT_CARD


@dataclass(frozen=True, eq=False)
class LoadedModel:
    card: ModelCard
    module: nn.Module
    device: torch.device
    weights_sha256: str | None
    notes: tuple[str, ...]

    @property
    def default_layer(self) -> str | None:
        if self.card.target_layer:
            return self.card.target_layer
        if self.card.architecture:
            return ARCHITECTURES[self.card.architecture].target_layer
        return None


def load_model(card: str | Path | ModelCard | None, *, trust_code: bool = False, device: str | None = None) -> LoadedModel:
    """Build the card's model (``None``: the demo model), load its weights safely, check it, move it to the device."""
    if card is None:
        if not DEFAULT_CARD.is_file():
            raise errors.ModelError("no model card given and the demo model is not installed", DEFAULT_CARD)
        card = DEFAULT_CARD
    card = card if isinstance(card, ModelCard) else load_card(card)
    target = select_device(device)
    if card.runs_user_code and not trust_code:
        raise errors.TrustRequiredError("the card's 'factory' runs Python code and needs explicit trust", card.path)
    module = _from_factory(card) if card.factory else _from_architecture(card)
    sha: str | None = None
    notes: tuple[str, ...] = ()
    if card.weights is not None:
        weights = load_weights(card.weights, expected_sha256=card.weights_sha256)
        _load_state(module, weights.tensors, card.weights)
        sha, notes = weights.sha256, weights.notes
    module = module.eval().to(target)
    _smoke_test(module, card, target)
    return LoadedModel(card, module, target, sha, notes)


def _from_architecture(card: ModelCard) -> nn.Module:
    assert card.architecture is not None
    entry = ARCHITECTURES.get(card.architecture)
    if entry is None:
        known = ", ".join(sorted(ARCHITECTURES))
        raise errors.ModelCardError(f"unknown architecture {card.architecture!r}; known: {known}", card.path)
    try:
        return entry.build(len(card.classes), card.input.channels, card.input.size)
    except ValueError as exc:
        raise errors.ModelCardError(str(exc), card.path) from exc


def _from_factory(card: ModelCard) -> nn.Module:
    """Call the user's ``module:callable``, looked up first in the card's folder."""
    assert card.factory is not None
    module_name, _, attribute = card.factory.partition(":")
    if not module_name or not attribute:
        raise errors.ModelCardError("factory must look like 'module:callable'", card.path)
    try:
        factory = getattr(_import_user_module(module_name, card.folder), attribute)
        model = factory()
    except errors.CamviewerError:
        raise
    except Exception as exc:  # the user's code may raise anything
        raise errors.ModelError(f"factory {card.factory} failed: {type(exc).__name__}", card.path) from exc
    if not isinstance(model, nn.Module):
        raise errors.ModelError(f"factory {card.factory} did not return a torch.nn.Module", card.path)
    return model


def _import_user_module(name: str, folder: Path) -> object:
    candidate = folder.joinpath(*name.split(".")).with_suffix(".py")
    if not candidate.is_file():
        return importlib.import_module(name)
    spec = importlib.util.spec_from_file_location(f"camviewer_user_models.{name}", candidate)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look modules up here
    spec.loader.exec_module(module)
    return module


def _load_state(module: nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    expected = module.state_dict()
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    mismatched = [k for k in expected if k in tensors and tensors[k].shape != expected[k].shape]
    if missing or unexpected or mismatched:
        detail = f"{len(missing)} missing, {len(unexpected)} unexpected, {len(mismatched)} shape mismatches"
        example = (missing or unexpected or mismatched)[0]
        raise errors.ModelMismatchError(f"{detail} (e.g. {example[:80]})", path)
    _check_dtypes(expected, tensors, path)
    module.load_state_dict(tensors, strict=True)


def _check_dtypes(expected: dict[str, torch.Tensor], tensors: dict[str, torch.Tensor], path: Path) -> None:
    """An integer or bool tensor for a floating-point parameter or buffer is refused, not silently cast."""
    for key, reference in expected.items():
        if reference.is_floating_point() and not tensors[key].is_floating_point():
            dtype = str(tensors[key].dtype).removeprefix("torch.")
            raise errors.ModelMismatchError(f"tensor {key[:80]} holds {dtype} values, not floating point", path)


def _smoke_test(module: nn.Module, card: ModelCard, device: torch.device) -> None:
    """A forward pass on a synthetic input must give one finite output per class."""
    x = torch.zeros(1, card.input.channels, *card.input.size, device=device)
    try:
        with torch.no_grad():
            out = module(x)
    except Exception as exc:  # a wrong input size or a broken user model
        raise errors.ModelMismatchError(f"forward pass on a {tuple(x.shape)} input failed: {type(exc).__name__}", card.path) from exc
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[1] != len(card.classes):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise errors.ModelMismatchError(f"output {shape} does not give one score per class ({len(card.classes)})", card.path)
    if not torch.isfinite(out).all():
        raise errors.ModelWeightsError("the model's outputs are not finite", card.path)
