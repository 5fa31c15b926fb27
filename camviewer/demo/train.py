"""Seeded training of the two demo models on synthetic phantoms; writes safetensors weights and cards.

Not for diagnosis: the models only ever saw synthetic images. CPU in minutes; CUDA when available.

Training is *paired*: every training patient (a phantom seed) is drawn once per class, so the images
of one patient differ only by the finding, and each batch holds whole patients. The only evidence
that separates the classes is then the finding itself, not a patient's anatomy or exposure. Each
batch is shifted by a few pixels (edge-replicated) as augmentation.

Seeded: on the CPU, the same thread count gives the same weights (CUDA kernels may not be deterministic).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from camviewer.geometry import resize
from camviewer.io.write import atomic_write_bytes
from camviewer.metrics.regions import region_map
from camviewer.model.architectures import ARCHITECTURES
from camviewer.model.device import select_device
from camviewer.model.intended_use import PHANTOM_TRAINING
from camviewer.phantom import CLASSES, Phantom, generate

INPUT_SIZE = 192
SOURCE_SIZE = 256
MEAN, STD = 0.5, 0.25
REGION_SIGMA = 0.1  # the AOPC study's Gaussian perturbation, [0, 1] pixel scale
PERTURBED_GRIDS = (3, 12)
EVIDENCE_THRESHOLD = 1e-4  # normalised units: a finding changes pixels by far more
INTENDED_USE = {"summary": "synthetic posteroanterior chest phantoms made by camviewer.phantom (a demonstration, "
                           "never real radiographs)", "training_data": PHANTOM_TRAINING,
                "modalities": ["CR", "DX"], "body_parts": ["CHEST"], "views": ["PA"]}
TRAINING_SEED = 1000
VALIDATION_SEED = 900_000


@dataclass(frozen=True)
class TrainingPlan:
    architecture: str
    name: str
    epochs: int
    patients: int = 480
    val_per_class: int = 80
    patients_per_batch: int = 6
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    max_shift: int = 8
    seed: int = 0


def _input(pixels: np.ndarray) -> np.ndarray:
    """A phantom as camviewer's preprocessing gives it to the model (area downsampling, normalised)."""
    return (resize(pixels, (INPUT_SIZE, INPUT_SIZE)) - MEAN) / STD


def paired_labels(patients: int) -> np.ndarray:
    """The labels of a :func:`paired_set`: each patient's classes in class order."""
    return np.tile(np.arange(len(CLASSES)), patients)


def paired_set(patients: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(patients * 5, 1, S, S) inputs: patient ``seed + p`` in every class, in class order."""
    images = [_input(generate(seed=seed + p, label=label, size=SOURCE_SIZE).pixels) for p in range(patients) for label in CLASSES]
    return np.asarray(images, np.float32)[:, None], paired_labels(patients)


def unpaired_phantoms(per_class: int, seed: int) -> Iterator[Phantom]:
    """``per_class`` phantoms of each class, each a different patient: seed + k, class k mod 5."""
    for k in range(per_class * len(CLASSES)):
        yield generate(seed=seed + k, label=CLASSES[k % len(CLASSES)], size=SOURCE_SIZE)


def phantom_set(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(per_class * 5, 1, S, S) inputs and labels from :func:`unpaired_phantoms`."""
    images, labels = [], []
    for phantom in unpaired_phantoms(per_class, seed):
        images.append(_input(phantom.pixels))
        labels.append(CLASSES.index(phantom.label))
    return np.asarray(images, np.float32)[:, None], np.asarray(labels)


def shifted(batch: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """The batch moved by one random (dy, dx) in [-max_shift, max_shift], edges replicated."""
    if max_shift == 0:
        return batch
    padded = nn.functional.pad(batch, (max_shift,) * 4, mode="replicate")
    dy, dx = (int(v) for v in torch.randint(0, 2 * max_shift + 1, (2,), generator=generator))
    return padded[..., dy : dy + batch.shape[-2], dx : dx + batch.shape[-1]]


def region_perturbed(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The AOPC study's perturbation made part of the training distribution, without touching evidence.

    ``batch`` holds whole patients in class order (normal first). Evidence is where an image differs
    from its patient's normal image (the finding). Each image, with probability 1/2, gets Gaussian
    noise (sigma 0.1 in the [0, 1] pixel scale, as ``camviewer evaluate`` adds) in a random number of
    the regions of a random R x R grid (R = 3..12) that hold no evidence. So noise alone carries no
    class, and a perturbation curve falls only when the perturbation reaches the evidence.
    """
    out = batch.clone()
    size = batch.shape[-1]
    patients = batch.view(-1, len(CLASSES), size, size)
    evidence = ((patients - patients[:, :1]).abs() > EVIDENCE_THRESHOLD).view(-1, size, size)
    for k in range(len(batch)):
        if torch.rand(1, generator=generator).item() < 0.5:
            continue
        grid = int(torch.randint(PERTURBED_GRIDS[0], PERTURBED_GRIDS[1] + 1, (1,), generator=generator))
        regions = torch.from_numpy(region_map((size, size), grid))
        allowed = sorted(set(range(grid * grid)) - set(regions[evidence[k]].tolist()))
        count = int(torch.randint(0, len(allowed) + 1, (1,), generator=generator))
        chosen = torch.tensor(allowed)[torch.randperm(len(allowed), generator=generator)[:count]]
        where = torch.isin(regions, chosen)
        noise = torch.randn((size, size), generator=generator) * (REGION_SIGMA / STD)
        out[k, 0] += torch.where(where, noise, 0.0)
    return out


def patient_rows(patients: torch.Tensor) -> torch.Tensor:
    """Rows of a :func:`paired_set` holding these patients, each patient's classes together."""
    return (patients[:, None] * len(CLASSES) + torch.arange(len(CLASSES))).reshape(-1)


def train(plan: TrainingPlan, data: tuple[np.ndarray, np.ndarray], device: torch.device) -> nn.Module:
    """AdamW with a one-cycle schedule over batches of whole patients (``data`` from :func:`paired_set`)."""
    patients = len(data[1]) // len(CLASSES)
    if not np.array_equal(data[1], paired_labels(patients)):
        raise ValueError("training data must be a paired set: each patient's images in class order")
    torch.manual_seed(plan.seed)
    model = ARCHITECTURES[plan.architecture].build(len(CLASSES), 1, (INPUT_SIZE, INPUT_SIZE)).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=plan.learning_rate, weight_decay=plan.weight_decay)
    images, labels = (torch.from_numpy(a) for a in data)
    steps_per_epoch = -(-patients // plan.patients_per_batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, plan.learning_rate, total_steps=plan.epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(plan.seed)
    for epoch in range(plan.epochs):
        model.train()
        order = torch.randperm(patients, generator=generator)
        total = 0.0
        for start in range(0, patients, plan.patients_per_batch):
            rows = patient_rows(order[start : start + plan.patients_per_batch])
            batch = region_perturbed(shifted(images[rows], plan.max_shift, generator), generator).to(device)
            loss = nn.functional.cross_entropy(model(batch), labels[rows].to(device))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(rows)
        print(f"  {plan.name} epoch {epoch + 1}/{plan.epochs}: loss {total / len(labels):.4f}", flush=True)
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
        "intended_use": INTENDED_USE,
        "classes": list(CLASSES),
        "multilabel": False,
        "input": {"size": [INPUT_SIZE, INPUT_SIZE], "channels": 1, "mean": [MEAN], "std": [STD],
                  "range": [0, 1], "resize": "stretch", "dicom": "window"},
        "architecture": plan.architecture,
        "weights": weights.name,
        "weights_sha256": digest,
        "training": {"data": f"{plan.patients} synthetic patients (phantom seeds {TRAINING_SEED}..), each in all "
                             f"{len(CLASSES)} classes, at {SOURCE_SIZE} px; one random shift per batch, up to "
                             f"{plan.max_shift} px at the {INPUT_SIZE} px input; half the images with Gaussian noise "
                             f"(sigma {REGION_SIGMA}) in random regions of a random {PERTURBED_GRIDS[0]}..{PERTURBED_GRIDS[1]} "
                             f"grid that hold no finding",
                     "epochs": plan.epochs, "batch": f"{plan.patients_per_batch} patients ({plan.patients_per_batch * len(CLASSES)} images)",
                     "optimiser": f"AdamW, one-cycle learning rate up to {plan.learning_rate}, weight decay {plan.weight_decay}",
                     "seed": plan.seed, "seconds": round(seconds)},
        "validation": {"data": f"{plan.val_per_class} fresh phantoms per class (seeds {VALIDATION_SEED}..)", **validation},
    }
    path = folder / f"{plan.name}.json"
    atomic_write_bytes(path, (json.dumps(card, indent=2) + "\n").encode())
    return path


PLANS = (
    TrainingPlan("demo-vgg", "demo-vgg", epochs=20),
    TrainingPlan("demo-resnet", "demo-resnet", epochs=20),
)


def main(folder: Path = Path("models"), names: tuple[str, ...] = ()) -> None:
    """Train the plans named (all when none are) and write their weights and cards into ``folder``."""
    unknown = set(names) - {plan.name for plan in PLANS}
    if unknown:
        raise SystemExit(f"unknown demo model(s): {', '.join(sorted(unknown))}; known: {', '.join(p.name for p in PLANS)}")
    device = select_device(None)
    plans = [plan for plan in PLANS if not names or plan.name in names]
    training = {n: paired_set(n, TRAINING_SEED) for n in {plan.patients for plan in plans}}
    validation = {n: phantom_set(n, VALIDATION_SEED) for n in {plan.val_per_class for plan in plans}}
    for plan in plans:
        started = time.monotonic()
        model = train(plan, training[plan.patients], device)
        result = scores(model, validation[plan.val_per_class])
        card = write_model(folder, plan, model, result, time.monotonic() - started)
        print(f"{plan.name}: validation {result} -> {card}", flush=True)
