"""What the window remembers between runs (QSettings): recent files, the overlay style, the
method, the last folders, and which model cards the user trusted to run their code (by hash)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

from camviewer.engine.requests import METHOD_NAMES
from camviewer.render.overlay import COLORMAPS, OverlayStyle

MAX_RECENT = 10


class Settings:
    """Typed access to a QSettings store; values that do not parse fall back to the defaults."""

    def __init__(self, store: QSettings) -> None:
        self.store = store

    def recent(self) -> list[Path]:
        return [Path(p) for p in _strings(self.store.value("recent", []))][:MAX_RECENT]

    def add_recent(self, paths: tuple[Path, ...]) -> None:
        names = [str(p) for p in paths] + [str(p) for p in self.recent() if p not in paths]
        self.store.setValue("recent", names[:MAX_RECENT])

    def folder(self, key: str) -> str:
        """The folder last used for ``key``; at first the user's Documents folder (never the program's)."""
        value = self.store.value(f"folders/{key}", "")
        return value if isinstance(value, str) and value else QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)

    def set_folder(self, key: str, folder: Path) -> None:
        self.store.setValue(f"folders/{key}", str(folder))

    def style(self) -> OverlayStyle:
        default = OverlayStyle()
        cmap = self.store.value("overlay/cmap", default.cmap)
        return OverlayStyle(cmap if cmap in COLORMAPS else default.cmap, _fraction(self.store.value("overlay/alpha"), default.alpha),
                            min(_fraction(self.store.value("overlay/threshold"), 0.0), 0.95),
                            self.store.value("overlay/contours", "false") in (True, "true"))

    def set_style(self, style: OverlayStyle) -> None:
        for key, value in (("cmap", style.cmap), ("alpha", style.alpha), ("threshold", style.threshold), ("contours", style.contours)):
            self.store.setValue(f"overlay/{key}", value)

    def method(self) -> str:
        value = self.store.value("method", "gradcam")
        return value if value in METHOD_NAMES else "gradcam"

    def set_method(self, method: str) -> None:
        self.store.setValue("method", method)

    def trusted(self, digest: str) -> bool:
        return digest in _strings(self.store.value("trusted_cards", []))

    def trust(self, digest: str) -> None:
        self.store.setValue("trusted_cards", sorted({*_strings(self.store.value("trusted_cards", [])), digest}))

    def geometry(self) -> QByteArray | None:
        value = self.store.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, geometry: QByteArray) -> None:
        self.store.setValue("window/geometry", geometry)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _fraction(value: object, default: float) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return number if 0.0 <= number <= 1.0 else default
