"""Model files beyond the catalogue rows: the card's weights_sha256, integer-typed weights,
library warnings and files that are not regular files (pipes, folders, link loops)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import struct
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from test_model_files import CLASSES, INPUT, build_resnet, outputs
from torch import nn

from camviewer import errors
from camviewer.model import weights as weights_module
from camviewer.model.build import load_model
from camviewer.model.card import load_card
from camviewer.model.weights import load_weights

SECONDS = 5.0
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need POSIX")


def resnet_card(folder: Path, weights: str, **fields: object) -> Path:
    """A resnet18 card for ``weights``, with extra top-level ``fields``."""
    card = folder / "card.json"
    doc = {"name": "t", "classes": CLASSES, "input": INPUT, "architecture": "resnet18", "weights": weights, **fields}
    card.write_text(json.dumps(doc))
    return card


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_one_line(exc: errors.CamviewerError, named: Path, text: str = "") -> None:
    """A clean one-line message that names the file (and holds ``text``)."""
    assert "\n" not in exc.message and "Traceback" not in exc.message and str(exc) == exc.message
    assert named.name in exc.message and text in exc.message


def never_called(*args: object, **kwargs: object) -> None:
    pytest.fail("the weights were parsed")


def flip_tensor_byte(path: Path, key: str, byte: int) -> None:
    """Flip the lowest bit of byte ``byte`` of tensor ``key`` in a safetensors file (it stays valid)."""
    data = bytearray(path.read_bytes())
    header_size = struct.unpack("<Q", data[:8])[0]
    start = json.loads(data[8 : 8 + header_size])[key]["data_offsets"][0]
    data[8 + header_size + start + byte] ^= 0x01
    path.write_bytes(bytes(data))


# ---------------------------------------------------------------- weights_sha256


def test_a_flipped_byte_is_refused_when_the_card_pins_the_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = build_resnet()
    weights = tmp_path / "w.safetensors"
    save_file(reference.state_dict(), weights)
    pinned = resnet_card(tmp_path, weights.name, weights_sha256=sha256(weights).upper())
    assert load_model(pinned, device="cpu").weights_sha256 == sha256(weights)
    flip_tensor_byte(weights, "fc.bias", byte=2)
    with monkeypatch.context() as patched:
        patched.setattr(weights_module, "_read_tensors", never_called)  # refused before parsing
        with pytest.raises(errors.ModelIntegrityError) as caught:
            load_model(pinned, device="cpu")
    assert_one_line(caught.value, weights, "SHA-256")
    # control: without the pin the tampered file loads and its predictions change
    unpinned = load_model(resnet_card(tmp_path, weights.name), device="cpu")
    assert not torch.equal(outputs(unpinned.module), outputs(reference))


def test_load_weights_checks_an_expected_hash(tmp_path: Path) -> None:
    path = tmp_path / "w.pt"
    torch.save(nn.Linear(4, 3).state_dict(), path)
    assert load_weights(path, expected_sha256=sha256(path)).sha256 == sha256(path)
    with pytest.raises(errors.ModelIntegrityError) as caught:
        load_weights(path, expected_sha256="0" * 64)
    assert_one_line(caught.value, path)


# ---------------------------------------------------------------- dtypes


@pytest.mark.parametrize(("dtype", "name"), [(torch.int64, "w.pt"), (torch.bool, "w.pt"), (torch.int32, "w.safetensors")])
def test_integer_weights_for_a_float_parameter_are_refused(dtype: torch.dtype, name: str, tmp_path: Path) -> None:
    tensors = build_resnet().state_dict()
    tensors["conv1.weight"] = tensors["conv1.weight"].to(dtype)
    (torch.save if name.endswith(".pt") else save_file)(tensors, tmp_path / name)
    with pytest.raises(errors.ModelMismatchError) as caught:
        load_model(resnet_card(tmp_path, name), device="cpu")
    assert_one_line(caught.value, tmp_path / name, "conv1.weight")
    assert str(dtype).removeprefix("torch.") in caught.value.message


def test_integer_buffers_stay_accepted(tmp_path: Path) -> None:
    """BatchNorm's num_batches_tracked is int64 in the module too."""
    tensors = build_resnet().state_dict()
    assert tensors["bn1.num_batches_tracked"].dtype == torch.int64
    torch.save(tensors, tmp_path / "w.pt")
    loaded = load_model(resnet_card(tmp_path, "w.pt"), device="cpu")
    assert loaded.module.state_dict()["bn1.num_batches_tracked"].dtype == torch.int64


# ---------------------------------------------------------------- warnings


@pytest.mark.parametrize("protocol", [2, 3])
def test_a_legacy_state_dict_loads_without_a_warning(protocol: int, tmp_path: Path) -> None:
    reference = build_resnet()
    path = tmp_path / "legacy.pt"
    torch.save(reference.state_dict(), path, _use_new_zipfile_serialization=False, pickle_protocol=protocol)
    assert not zipfile.is_zipfile(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_model(resnet_card(tmp_path, path.name), device="cpu")
    assert caught == [] and loaded.notes == ()
    torch.testing.assert_close(outputs(loaded.module), outputs(reference), rtol=0, atol=0)


def test_control_torch_warns_on_a_legacy_protocol_3_file(tmp_path: Path) -> None:
    path = tmp_path / "legacy.pt"
    torch.save(nn.Linear(4, 3).state_dict(), path, _use_new_zipfile_serialization=False, pickle_protocol=3)
    with pytest.warns(UserWarning, match="Detected pickle protocol"):
        torch.load(path, weights_only=True)


def test_informative_warnings_become_notes_and_noise_is_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_load = torch.load

    def noisy_load(*args: object, **kwargs: object) -> object:
        warnings.warn("Detected pickle protocol 3 in the checkpoint", UserWarning, stacklevel=2)
        warnings.warn("some API is deprecated", FutureWarning, stacklevel=2)
        for _ in range(2):
            warnings.warn("The default load endianness was changed\nsecond line", UserWarning, stacklevel=2)
        return real_load(*args, **kwargs)

    path = tmp_path / "w.pt"
    torch.save(nn.Linear(4, 3).state_dict(), path)
    monkeypatch.setattr(torch, "load", noisy_load)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_weights(path)
    assert caught == []
    assert loaded.notes == ("loading warned: The default load endianness was changed",)


# ---------------------------------------------------------------- files that are not regular files


@contextmanager
def deadline(seconds: float = SECONDS) -> Iterator[None]:
    """Fail with TimeoutError instead of hanging (SIGALRM interrupts a blocking open)."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError("the load hung")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def refused(call: Callable[[], object], error: type[errors.CamviewerError] = errors.FileMissingError) -> errors.CamviewerError:
    with deadline(), pytest.raises(error) as caught:
        call()
    return caught.value


@needs_fifo
@pytest.mark.parametrize("name", ["card.json", "w.safetensors", "w.pt"])
def test_a_named_pipe_is_refused_without_hanging(name: str, tmp_path: Path) -> None:
    pipe = tmp_path / name
    os.mkfifo(pipe)
    read = load_card if name.endswith(".json") else load_weights
    assert_one_line(refused(lambda: read(pipe)), pipe, "a named pipe, not a regular file")


@needs_fifo
def test_a_link_to_a_pipe_named_by_a_card_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "w.safetensors").symlink_to(tmp_path / "pipe")
    error = refused(lambda: load_model(resnet_card(tmp_path, "w.safetensors"), device="cpu"))
    assert_one_line(error, tmp_path / "w.safetensors", "named pipe")


@needs_fifo
def test_a_file_swapped_for_a_pipe_after_the_check_is_refused_on_its_descriptor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pipe, regular = tmp_path / "card.json", tmp_path / "regular.json"
    os.mkfifo(pipe)
    regular.write_text("{}")
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda path, *a, **k: real_stat(regular if Path(path) == pipe else path, *a, **k))
    assert_one_line(refused(lambda: load_card(pipe)), pipe, "a named pipe, not a regular file")


def test_a_folder_is_not_a_weights_file(tmp_path: Path) -> None:
    (tmp_path / "w.pt").mkdir()
    assert_one_line(refused(lambda: load_weights(tmp_path / "w.pt")), tmp_path / "w.pt", "a folder, not a regular file")


def test_link_loops_give_one_line(tmp_path: Path) -> None:
    for name in ("card.json", "w.safetensors"):
        (tmp_path / name).symlink_to(tmp_path / name)
    assert_one_line(refused(lambda: load_card(tmp_path / "card.json")), tmp_path / "card.json", "symbolic link loop")
    (tmp_path / "sub").mkdir()
    card = load_card(resnet_card(tmp_path / "sub", "../w.safetensors"))  # parsing does not resolve the loop
    assert card.weights is not None and card.weights.name == "w.safetensors"
    assert_one_line(refused(lambda: load_model(card, device="cpu")), tmp_path / "w.safetensors", "symbolic link loop")


@pytest.mark.parametrize(("name", "read"), [("card.json", load_card), ("w.pt", load_weights)], ids=["card", "weights"])
def test_dangling_links_give_one_line(name: str, read: Callable[[Path], object], tmp_path: Path) -> None:
    (tmp_path / name).symlink_to(tmp_path / "gone")
    assert_one_line(refused(lambda: read(tmp_path / name)), tmp_path / name, "File not found")
