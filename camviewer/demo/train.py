"""Seeded training of the two demo models on synthetic phantoms; writes safetensors weights and cards.

Not for diagnosis: the models only ever saw synthetic images. CPU in minutes; CUDA when available.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from camviewer.io.write import atomic_write_bytes
from camviewer.model.architectures import ARCHITECTURES
from camviewer.model.device import select_device
from camviewer.phantom import CLASSES, generate

INPUT_SIZE = 128
SOURCE_SIZE = 256
MEAN, STD = 0.5, 0.25


@dataclass(frozen=True)
class TrainingPlan:
    architecture: str
    name: str
    epochs: int
    train_per_class: int = 480
    val_per_class: int = 80
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = 0


def phantom_set(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 1, 128, 128) normalised inputs made like camviewer's preprocessing (area downsampling)."""
    images, labels = [], []
    for k in range(per_class * len(CLASSES)):
        label = CLASSES[k % len(CLASSES)]
        phantom = generate(seed=seed + k, label=label, size=SOURCE_SIZE)
        small = cv2.resize(phantom.pixels, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
        images.append((small - MEAN) / STD)
        labels.append(k % len(CLASSES))
    return np.asarray(images, np.float32)[:, None], np.asarray(labels, np.int64)


def train(plan: TrainingPlan, data: tuple[np.ndarray, np.ndarray], device: torch.device) -> nn.Module:
    torch.manual_seed(plan.seed)
    model = ARCHITECTURES[plan.architecture].build(len(CLASSES), 1, (INPUT_SIZE, INPUT_SIZE)).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=plan.learning_rate)
    images, labels = (torch.from_numpy(a) for a in data)
    generator = torch.Generator().manual_seed(plan.seed)
    for epoch in range(plan.epochs):
        model.train()
        order = torch.randperm(len(labels), generator=generator)
        total = 0.0
        for start in range(0, len(order), plan.batch_size):
            batch = order[start : start + plan.batch_size]
            loss = nn.functional.cross_entropy(model(images[batch].to(device)), labels[batch].to(device))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        print(f"  {plan.name} epoch {epoch + 1}/{plan.epochs}: loss {total / len(order):.4f}", flush=True)
    return model.eval().cpu()


def scores(model: nn.Module, data: tuple[np.ndarray, np.ndarray]) -> dict[str, object]:
    """Accuracy and per-class F1 on a data set."""
    with torch.inference_mode():
        predicted = model(torch.from_numpy(data[0])).argmax(1).numpy()
    truth = data[1]
    f1 = {}
    for k, name in enumerate(CLASSES):
        tp = int(((predicted == k) & (truth == k)).sum())
        fp, fn = int(((predicted == k) & (truth != k)).sum()), int(((predicted != k) & (truth == k)).sum())
        f1[name] = round(2 * tp / max(2 * tp + fp + fn, 1), 4)
    return {"accuracy": round(float((predicted == truth).mean()), 4), "f1": f1}


def write_model(folder: Path, plan: TrainingPlan, model: nn.Module, validation: dict[str, object], seconds: float) -> Path:
    weights = folder / f"{plan.name}.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    card = {
        "name": plan.name,
        "description": "DEMONSTRATION ONLY, NOT FOR DIAGNOSIS: trained on synthetic chest phantoms "
                       "(camviewer.phantom), never on real radiographs.",
        "classes": list(CLASSES),
        "multilabel": False,
        "input": {"size": [INPUT_SIZE, INPUT_SIZE], "channels": 1, "mean": [MEAN], "std": [STD],
                  "range": [0, 1], "resize": "stretch", "dicom": "window"},
        "architecture": plan.architecture,
        "weights": weights.name,
        "weights_sha256": digest,
        "training": {"data": f"{plan.train_per_class} phantoms per class at {SOURCE_SIZE} px, seeds from {plan.seed}",
                     "epochs": plan.epochs, "batch_size": plan.batch_size, "learning_rate": plan.learning_rate,
                     "seed": plan.seed, "seconds": round(seconds)},
        "validation": {"data": f"{plan.val_per_class} fresh phantoms per class", **validation},
    }
    path = folder / f"{plan.name}.json"
    atomic_write_bytes(path, (json.dumps(card, indent=2) + "\n").encode())
    return path


PLANS = (
    TrainingPlan("demo-vgg", "demo-vgg", epochs=8, seed=1000),
    TrainingPlan("demo-resnet", "demo-resnet", epochs=8, seed=1000),
)
VALIDATION_SEED = 900_000


def main(folder: Path = Path("models")) -> None:
    device = select_device(None)
    torch.manual_seed(0)
    training = phantom_set(PLANS[0].train_per_class, PLANS[0].seed)
    validation = phantom_set(PLANS[0].val_per_class, VALIDATION_SEED)
    for plan in PLANS:
        started = time.monotonic()
        model = train(plan, training, device)
        result = scores(model, validation)
        card = write_model(folder, plan, model, result, time.monotonic() - started)
        print(f"{plan.name}: validation {result} -> {card}", flush=True)
