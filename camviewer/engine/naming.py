"""Output file names: unique per run, numbered by input position, never taken from DICOM values.

A name is ``STEM__REST``: the stem identifies the input (``image0001`` by position, or the input
file's own stem when asked, since names often hold patient names), and stems never contain
``__``, so different inputs can never map to the same file. Stems are unique ignoring case (for
case-insensitive file systems).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from camviewer import errors
from camviewer.io.write import ProtectedInputs, safe_name

REPEATED_UNDERSCORES = re.compile(r"_{2,}")
MAX_STEM, MAX_LABEL = 96, 64


def _label(label: str) -> str:
    return safe_name(label, "class")[:MAX_LABEL]


def _stem(text: str) -> str:
    """A file's stem as an output stem: safe characters, no ``__``, no leading or trailing ``_``/``.``,
    at most ``MAX_STEM`` characters (with the rest of a name and the temporary file's affixes it
    stays within the 255 bytes file systems allow)."""
    return REPEATED_UNDERSCORES.sub("_", safe_name(text))[:MAX_STEM].strip("_.") or "image"


@dataclass(frozen=True)
class OutputNames:
    """File names for every output of a run; ``stems[k]`` belongs to input ``k``."""

    stems: tuple[str, ...]

    @classmethod
    def numbered(cls, count: int) -> OutputNames:
        return cls(tuple(f"image{k + 1:04d}" for k in range(count)))

    @classmethod
    def from_inputs(cls, paths: Sequence[Path]) -> OutputNames:
        """The inputs' own stems, made safe and unique: a repeated stem gets ``-2``, ``-3`` ..."""
        bases = [_stem(Path(p).stem) for p in paths]
        reserved = {b.lower() for b in bases}
        used: set[str] = set()
        stems = []
        for base in bases:
            candidate, n = base, 2
            while candidate.lower() in used or (candidate != base and candidate.lower() in reserved):
                candidate, n = f"{base}-{n}", n + 1
            used.add(candidate.lower())
            stems.append(candidate)
        return cls(tuple(stems))

    def overlay(self, index: int, method: str, target: int, label: str) -> str:
        return f"{self.stems[index]}__{method}__{target}-{_label(label)}.png"

    def raw_map(self, index: int, method: str, target: int, label: str) -> str:
        return f"{self.stems[index]}__{method}__{target}-{_label(label)}.npy"

    def annotated(self, index: int, method: str, target: int, label: str) -> str:
        return f"{self.stems[index]}__{method}__{target}-{_label(label)}__annotated.png"

    def secondary_capture(self, index: int, method: str, target: int, label: str) -> str:
        return f"{self.stems[index]}__{method}__{target}-{_label(label)}__annotated.dcm"

    def panel(self, index: int) -> str:
        return f"{self.stems[index]}__panel.png"

    def curves(self, index: int, target: int, label: str) -> str:
        return f"{self.stems[index]}__curves__{target}-{_label(label)}.png"

    def possible(self, index: int, methods: Iterable[str], classes: Sequence[str]) -> Iterator[str]:
        """Every name a run could write for input ``index``, whatever its targets turn out to be."""
        yield self.panel(index)
        for target, label in enumerate(classes):
            yield self.curves(index, target, label)
            for method in methods:
                for kind in (self.overlay, self.raw_map, self.annotated, self.secondary_capture):
                    yield kind(index, method, target, label)

    def could_write(self, name: str, methods: Sequence[str], classes: Sequence[str]) -> bool:
        """Whether some output of this run could be called ``name`` (ignoring case)."""
        stem = name.split("__", 1)[0].lower()
        lowered = name.lower()
        return any(lowered in {n.lower() for n in self.possible(k, methods, classes)}
                   for k, s in enumerate(self.stems) if s.lower() == stem)


def refuse_overwrites(folder: Path, names: OutputNames, methods: Sequence[str], classes: Sequence[str],
                      protected: ProtectedInputs) -> None:
    """Raise OutputError, before any work, when an output of this run could replace one of its inputs."""
    protected.check(folder)
    for entry in protected.entries_in(folder):
        if names.could_write(entry, methods, classes):
            raise errors.OutputError("an output of this run would replace one of its input files", folder / entry)
