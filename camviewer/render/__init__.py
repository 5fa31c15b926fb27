"""Pure NumPy/OpenCV rendering: colormaps, map normalisation, overlays."""

from camviewer.render.overlay import Normalisation, colormap, normalise, overlay

__all__ = ["Normalisation", "colormap", "normalise", "overlay"]
