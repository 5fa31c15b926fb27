"""The bad-input catalogue (reliability_anchors.md), model files: rows M1..M12.

A refused weight file or model card must raise its ``ModelError`` subclass with a one-line
message that names the file and holds no traceback, must run none of the code it carries and
must leave every file beside it unchanged. Controls show that the hostile fixtures do run
their code when loaded unsafely, so "nothing ran" is a real observation. The happy paths load
weights through a model card and reproduce the saved model's outputs. A source grep pins
section 1's rule that camviewer never calls an unsafe loader.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import random
import re
import struct
import sys
import time
import tokenize
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from camviewer import errors
from camviewer.errors import ModelError
from camviewer.model import build
from camviewer.model.architectures import ARCHITECTURES
from camviewer.model.build import load_model
from camviewer.model.weights import load_weights

REPO = Path(__file__).resolve().parents[1]
UNSAFE_CALLS = ("weights_only=False", "pickle_module=", "torch.jit.load", "torch.export.load")
CLASSES = ["a", "b", "c"]
INPUT = {"size": [64, 64], "channels": 1, "mean": [0.5], "std": [0.25]}
MARKER = "code-ran.marker"
FACTORY_MARKER = "factory-imported.marker"
FACTORY_MODULE = "user_factory"
SCRATCH = "scratch.bin"
SCRATCH_CONTENT = b"ORIGINAL-CONTENT"
HASH_LIMIT = 64 << 20
SECONDS = 10.0

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.:FutureWarning")  # making the M3 fixture

FACTORY_SOURCE = f"""
from pathlib import Path

from torch import nn

Path(__file__).with_name({FACTORY_MARKER!r}).touch()


def build():
    return nn.Sequential(nn.Flatten(), nn.Linear(64 * 64, {len(CLASSES)}))
"""


class Evil:
    """Unpickling it creates the marker file: a stand-in for any code a pickle can run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


class ScratchWriter(nn.Module):
    """A TorchScript module whose ``__setstate__`` overwrites 8 bytes of a file at load time."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.written = torch.zeros(1, dtype=torch.uint8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    @torch.jit.export
    def __getstate__(self) -> tuple[str, bool]:
        return (self.path, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[str, bool]) -> None:
        self.path = state[0]
        self.training = state[1]
        # kept in an attribute: TorchScript drops an unused write as dead code
        self.written = torch.from_file(state[0], True, 8, dtype=torch.uint8).fill_(89)


class Linear2(nn.Module):
    """The smallest module torch.export accepts here."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


# ---------------------------------------------------------------- helpers


def sha256(path: Path) -> str:
    """The file's SHA-256 in hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder``: its SHA-256, or its size when too large to hash quickly."""
    files = (path for path in sorted(folder.rglob("*")) if path.is_file())
    return {
        str(path.relative_to(folder)): sha256(path) if path.stat().st_size <= HASH_LIMIT else f"{path.stat().st_size} B"
        for path in files
    }


def assert_clean_message(exc: ModelError, named: Path) -> None:
    """One non-blank line that names the file and holds no traceback."""
    message = exc.message
    assert message.strip() and str(exc) == message
    assert "\n" not in message and "Traceback" not in message
    assert named.name in message


def assert_refused(
    call: Callable[[], object],
    named: Path,
    error: type[ModelError] | tuple[type[ModelError], ...],
    text: str = "",
    seconds: float = SECONDS,
) -> ModelError:
    """``call`` raises ``error`` quickly, with a clean message and no warning, and changes no file beside ``named``."""
    before = snapshot(named.parent)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as warned, pytest.raises(error) as caught:
        warnings.simplefilter("always")
        call()
    assert time.perf_counter() - start < seconds
    assert [str(w.message) for w in warned] == []
    assert text.lower() in caught.value.message.lower()
    assert_clean_message(caught.value, named)
    assert snapshot(named.parent) == before  # no marker appeared, the scratch file is intact
    return caught.value


def never_called(*args: object, **kwargs: object) -> None:
    """Stands in for a reader that must not be reached."""
    pytest.fail("the file was read")


def tiny_state_dict() -> dict[str, torch.Tensor]:
    """A valid two-tensor state dict."""
    return nn.Linear(4, 3).state_dict()


def build_resnet() -> nn.Module:
    """The registered architecture the test cards name, freshly initialised, in eval mode."""
    return ARCHITECTURES["resnet18"].build(len(CLASSES), INPUT["channels"], tuple(INPUT["size"])).eval()


def outputs(module: nn.Module) -> torch.Tensor:
    """The module's scores for a fixed random batch."""
    x = torch.rand(2, INPUT["channels"], *INPUT["size"], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return module(x)


def write_card(folder: Path, **source: str) -> Path:
    """A model card in ``folder`` with the given source (``architecture``/``weights`` or ``factory``)."""
    card = folder / "card.json"
    card.write_text(json.dumps({"name": "t", "classes": CLASSES, "multilabel": False, "input": INPUT, **source}))
    return card


def resnet_card(folder: Path, weights: str) -> Path:
    """A resnet18 card whose weights file is ``weights``."""
    return write_card(folder, architecture="resnet18", weights=weights)


def factory_card(folder: Path) -> Path:
    """A card whose factory module, next to it, leaves a marker when imported."""
    (folder / f"{FACTORY_MODULE}.py").write_text(FACTORY_SOURCE)
    return write_card(folder, factory=f"{FACTORY_MODULE}:build")


@pytest.fixture
def factory_card_cleanup() -> Iterator[None]:
    """Forget the user module camviewer registers in ``sys.modules`` when it imports a factory."""
    yield
    sys.modules.pop(f"camviewer_user_models.{FACTORY_MODULE}", None)


# ---------------------------------------------------------------- hostile or broken files


def pickle_with_code(folder: Path) -> Path:
    """M1: a zip checkpoint holding a tensor and an object whose unpickling creates a file."""
    path = folder / "evil.pt"
    torch.save({"w": torch.ones(4), "x": Evil(folder / MARKER)}, path)
    return path


def raw_pickle(folder: Path, protocol: int) -> Path:
    """M2: a bare (legacy, non-zip) pickle of the same object."""
    path = folder / f"legacy-p{protocol}.pt"
    with path.open("wb") as fp:
        pickle.dump(Evil(folder / MARKER), fp, protocol=protocol)
    return path


def torchscript_archive(folder: Path) -> Path:
    """M3: a scripted module that overwrites the scratch file when ``torch.jit.load`` runs it."""
    path = folder / "scripted.pt"
    torch.jit.script(ScratchWriter(str(folder / SCRATCH))).save(str(path))
    (folder / SCRATCH).write_bytes(SCRATCH_CONTENT)
    return path


def exported_program(folder: Path, name: str) -> Path:
    """M4: an archive written by ``torch.export.save``."""
    path = folder / name
    torch.export.save(torch.export.export(Linear2(), (torch.zeros(1, 2),)), path)
    return path


def truncated_state_dict(folder: Path) -> Path:
    """M5: a state dict cut to half its length."""
    path = folder / "truncated.pt"
    torch.save(tiny_state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def empty_file(folder: Path) -> Path:
    """M6: a 0-byte .pt."""
    path = folder / "zero-bytes.pt"  # a name without "empty", which the message must say
    path.touch()
    return path


def random_bytes(folder: Path) -> Path:
    """M7: 4 KB of random bytes named .pt."""
    path = folder / "random.pt"
    path.write_bytes(random.Random(7).randbytes(4096))
    return path


def nan_state_dict(folder: Path) -> Path:
    """M9: a state dict whose tensors are all NaN."""
    path = folder / "nan.pt"
    torch.save({key: torch.full_like(value, float("nan")) for key, value in tiny_state_dict().items()}, path)
    return path


def truncated_safetensors(folder: Path) -> Path:
    """M11: a valid safetensors file cut to half its length."""
    path = folder / "truncated.safetensors"
    save_file(tiny_state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def huge_header_safetensors(folder: Path) -> Path:
    """M11: a safetensors header length of 2^62."""
    path = folder / "huge-header.safetensors"
    path.write_bytes(struct.pack("<Q", 1 << 62) + b"{}")
    return path


def huge_shape_safetensors(folder: Path) -> Path:
    """M11: a 100000x100000 float32 tensor declared over 16 bytes of data."""
    path = folder / "huge-shape.safetensors"
    header = json.dumps({"w": {"dtype": "F32", "shape": [100000, 100000], "data_offsets": [0, 16]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(16))
    return path


def pickle_as_safetensors(folder: Path) -> Path:
    """M11: the M1 pickle renamed .safetensors."""
    return pickle_with_code(folder).rename(folder / "evil.safetensors")


@dataclass(frozen=True)
class Row:
    """One catalogue row refused by ``load_weights``: its fixture and what camviewer must raise."""

    id: str
    make: Callable[[Path], Path]
    error: type[ModelError] | tuple[type[ModelError], ...]
    text: str = ""
    env: tuple[tuple[str, str], ...] = ()


UNSAFE = "Model contains executable objects"
CORRUPT = "Model file corrupt"
ROWS = (
    Row("M1", pickle_with_code, errors.UnsafeModelError, UNSAFE),
    Row("M1-force-no-weights-only", pickle_with_code, errors.UnsafeModelError, UNSAFE, (("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1"),)),
    Row("M2-protocol-2", partial(raw_pickle, protocol=2), errors.UnsafeModelError, UNSAFE),
    # protocol >= 4 starts with a FRAME opcode the weights-only unpickler stops at before it sees a global
    Row("M2-protocol-default", partial(raw_pickle, protocol=pickle.DEFAULT_PROTOCOL), errors.UnsafeModelError, UNSAFE),
    Row("M3", torchscript_archive, errors.ModelFormatError, "TorchScript models are not accepted"),
    Row("M4", partial(exported_program, name="exported.pt2"), errors.ModelFormatError, "exported programs"),
    Row("M4-renamed-pt", partial(exported_program, name="exported.pt"), errors.ModelFormatError, "exported programs"),
    Row("M5", truncated_state_dict, errors.ModelCorruptError, CORRUPT),
    Row("M6", empty_file, errors.ModelCorruptError, "empty"),
    Row("M7", random_bytes, errors.ModelCorruptError, CORRUPT),
    Row("M9", nan_state_dict, errors.ModelWeightsError, "Model weights contain non-finite values"),
    Row("M11-truncated", truncated_safetensors, errors.ModelCorruptError, CORRUPT),
    Row("M11-header-2^62", huge_header_safetensors, errors.ModelCorruptError, CORRUPT),
    Row("M11-shape-1e5x1e5", huge_shape_safetensors, errors.ModelCorruptError, CORRUPT),
    Row("M11-pickle-renamed", pickle_as_safetensors, errors.ModelCorruptError, CORRUPT),
)


# ---------------------------------------------------------------- refused files


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
def test_bad_weight_file_is_refused(row: Row, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """M1..M7, M9, M11: the right error, a clean message, no code run, no file changed."""
    path = row.make(tmp_path)
    for name, value in row.env:
        monkeypatch.setenv(name, value)
    assert_refused(lambda: load_weights(path), path, row.error, row.text)
    assert not (tmp_path / MARKER).exists()
    if (tmp_path / SCRATCH).exists():
        assert (tmp_path / SCRATCH).read_bytes() == SCRATCH_CONTENT


def test_m8_mismatched_state_dict_is_counted(tmp_path: Path) -> None:
    """M8: two renamed keys and one wrong shape give the three counts, before load_state_dict."""
    tensors = build_resnet().state_dict()
    for key in ("conv1.weight", "bn1.weight"):
        tensors[f"renamed.{key}"] = tensors.pop(key)
    tensors["fc.weight"] = torch.zeros(len(CLASSES) + 1, tensors["fc.weight"].shape[1])
    weights = tmp_path / "mismatch.pt"
    torch.save(tensors, weights)
    card = resnet_card(tmp_path, weights.name)
    assert_refused(lambda: load_model(card, device="cpu"), weights, errors.ModelMismatchError, "2 missing, 2 unexpected, 1 shape mismatches")


def test_m12_oversized_file_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """M12: a valid state dict padded (sparsely) to 5 GB is refused on its size alone."""
    path = tmp_path / "huge.pt"
    torch.save(tiny_state_dict(), path)
    with path.open("r+b") as fp:
        fp.truncate(5 << 30)
    monkeypatch.setattr(torch, "load", never_called)
    assert_refused(lambda: load_weights(path), path, errors.ModelTooLargeError, "exceeds size limit", seconds=1.0)


def test_factory_card_needs_trust(tmp_path: Path) -> None:
    """A card with a ``factory`` is refused without trust_code, before its module is imported."""
    card = factory_card(tmp_path)
    refusal = assert_refused(lambda: load_model(card, device="cpu"), card, errors.TrustRequiredError, "explicit trust")
    assert "--" not in refusal.message  # the window shows it too: no command-line flag
    assert not (tmp_path / FACTORY_MARKER).exists()


def test_a_missing_demo_model_is_one_line_without_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no card given and no demo model installed the refusal names the demo card, not a flag."""
    monkeypatch.setattr(build, "DEFAULT_CARD", tmp_path / "demo-resnet.json")
    refusal = assert_refused(lambda: load_model(None, device="cpu"), tmp_path / "demo-resnet.json", ModelError, "no model card given")
    assert "--" not in refusal.message


# ---------------------------------------------------------------- controls: the fixtures are hostile


def test_control_m1_payload_runs_code_when_unpickled(tmp_path: Path) -> None:
    """Plain ``pickle.load`` of the M2 file creates the marker, so its absence above means something."""
    path = raw_pickle(tmp_path, pickle.DEFAULT_PROTOCOL)
    with path.open("rb") as fp:
        pickle.load(fp).close()
    assert (tmp_path / MARKER).exists()


def test_control_m3_archive_writes_scratch_file_when_loaded(tmp_path: Path) -> None:
    """``torch.jit.load`` of the M3 archive overwrites the scratch file, so its hash check means something."""
    path = torchscript_archive(tmp_path)
    torch.jit.load(str(path))
    assert (tmp_path / SCRATCH).read_bytes() == b"Y" * 8 + SCRATCH_CONTENT[8:]


# ---------------------------------------------------------------- accepted files


def save_pt(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """A plain state dict written by ``torch.save``."""
    torch.save(tensors, path)


def save_safetensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """A safetensors file."""
    save_file(tensors, path)


def save_wrapped_dataparallel(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """A training checkpoint: the state dict under 'state_dict', keys prefixed 'module.'."""
    torch.save({"state_dict": {f"module.{key}": value for key, value in tensors.items()}, "epoch": 3}, path)


@pytest.mark.parametrize(
    ("save", "name"),
    [(save_pt, "w.pt"), (save_safetensors, "w.safetensors"), (save_wrapped_dataparallel, "checkpoint.pth")],
    ids=["state-dict", "safetensors", "wrapped-module-prefix"],
)
def test_valid_weights_reproduce_saved_model(save: Callable[[dict[str, torch.Tensor], Path], None], name: str, tmp_path: Path) -> None:
    """A valid weight file loads through its card and gives the saved model's outputs."""
    reference = build_resnet()
    save(reference.state_dict(), tmp_path / name)
    loaded = load_model(resnet_card(tmp_path, name), device="cpu")
    torch.testing.assert_close(outputs(loaded.module), outputs(reference), rtol=0, atol=0)
    assert loaded.weights_sha256 == sha256(tmp_path / name)
    assert loaded.notes == ()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["M10-float16", "M10-bfloat16"])
def test_m10_half_precision_is_cast_to_float32_with_a_note(dtype: torch.dtype, tmp_path: Path) -> None:
    """M10 policy: fp16/bf16 weights are accepted, cast to float32, and the cast is noted."""
    reference = build_resnet()
    half = {key: value.to(dtype) if value.is_floating_point() else value for key, value in reference.state_dict().items()}
    torch.save(half, tmp_path / "half.pt")
    reference.load_state_dict(half)  # the reference now holds the rounded weights, as float32
    loaded = load_model(resnet_card(tmp_path, "half.pt"), device="cpu")
    dtype_name = str(dtype).removeprefix("torch.")
    assert any(dtype_name in note and "float32" in note for note in loaded.notes)
    assert {p.dtype for p in loaded.module.parameters()} == {torch.float32}
    torch.testing.assert_close(outputs(loaded.module), outputs(reference), rtol=0, atol=0)


@pytest.mark.usefixtures("factory_card_cleanup")
def test_factory_card_loads_with_trust(tmp_path: Path) -> None:
    """With trust_code=True the card's factory module is imported and its model is used."""
    loaded = load_model(factory_card(tmp_path), trust_code=True, device="cpu")
    assert (tmp_path / FACTORY_MARKER).exists()
    assert outputs(loaded.module).shape == (2, len(CLASSES))


# ---------------------------------------------------------------- source rule


def unsafe_calls_in(path: Path) -> list[str]:
    """``file:line: call`` for each unsafe loader call in a source file, whitespace ignored."""
    hits = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        squeezed = "".join(line.split())
        hits += [f"{path.relative_to(REPO)}:{number}: {call}" for call in UNSAFE_CALLS if call in squeezed]
    return hits


def test_model_messages_name_no_command_line_flag() -> None:
    """camviewer/model/ is shared by the window and the CLI: no string in it names a flag such as --model."""
    sources = sorted((REPO / "camviewer" / "model").glob("*.py"))
    hits = []
    for path in sources:
        with path.open("rb") as fp:
            strings = [t for t in tokenize.tokenize(fp.readline) if t.type == tokenize.STRING]
        hits += [f"{path.name}:{t.start[0]}" for t in strings if re.search(r"--[a-z]", t.string)]
    assert sources and hits == []


def test_source_never_calls_an_unsafe_loader() -> None:
    """camviewer/ never passes weights_only=False or a pickle_module, nor loads TorchScript or .pt2."""
    sources = sorted((REPO / "camviewer").rglob("*.py"))
    assert sources
    assert [hit for path in sources for hit in unsafe_calls_in(path)] == []
