"""The central canvas: one image view, or two to four side by side in compare mode (one method
each) with linked zoom and pan (a view the user zooms or pans leads); window/level, orientation
and layers come from the state, so they are linked too. Left drag on any view sets the shared window."""

from __future__ import annotations

from functools import partial

from PySide6.QtWidgets import QGridLayout, QWidget

from camviewer.gui.badges import provenance_parts
from camviewer.gui.image_view import ImageView
from camviewer.gui.layers import Layer, dragged, grid_overlay, heat_layer, shown_preset, step_preview, window_of
from camviewer.gui.panel import shown_explanation
from camviewer.gui.state import MAX_COMPARED, View, ViewerState
from camviewer.io.image import XrayImage

REDRAW_IMAGE = frozenset({"image", "preset", "window", "orientation", "compare"})
REDRAW_LAYERS = frozenset({"result", "method", "style", "normalisation", "overlay_visible", "grid", "compare", "preview",
                           "evaluation", "image", "model"})


class Canvas(QWidget):
    def __init__(self, state: ViewerState) -> None:
        super().__init__()
        self.state = state
        self.views = [ImageView() for _ in range(MAX_COMPARED)]
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        for k, view in enumerate(self.views):
            self._grid.addWidget(view, k // 2, k % 2)
            view.window_drag.connect(self._window_drag)
            view.box.sigRangeChangedManually.connect(partial(self.follow, view))
        self._drag_start: tuple[float, float] | None = None
        self._following = False
        self.views[0].box.sigRangeChanged.connect(self._refresh_corners)  # the zoom readout
        state.subscribe(self.redraw)
        self.redraw(state.view, REDRAW_IMAGE | REDRAW_LAYERS)

    @property
    def main(self) -> ImageView:
        return self.views[0]

    def shown_views(self, view: View) -> list[ImageView]:
        return self.views[: len(view.methods_shown)]

    def follow(self, leader: ImageView, *_: object) -> None:
        """Show the leader's zoom and pan in the other views (pyqtgraph's own X/Y links with locked
        aspect can resize each other forever)."""
        if self._following:
            return
        self._following = True
        try:
            for view in self.views:
                if view is not leader and view.isVisible():
                    view.box.setRange(leader.box.viewRect(), padding=0.0)
        finally:
            self._following = False

    def redraw(self, view: View, changed: frozenset[str]) -> None:
        for k, image_view in enumerate(self.views):
            image_view.setVisible(k < len(view.methods_shown))
        image = view.image
        if image is None:
            for image_view in self.views:
                image_view.show_nothing()
            return
        if changed & REDRAW_IMAGE:
            preset = shown_preset(image, view.preset, view.window)
            for image_view in self.shown_views(view):
                fresh = image_view.shown is not image
                image_view.show_image(image, preset, view.orientation.invert)
                if fresh or changed & {"orientation", "compare"}:
                    image_view.set_orientation(view.orientation)
        if changed & REDRAW_LAYERS:
            for image_view, method in zip(self.shown_views(view), view.methods_shown):
                self._render_layers(view, image_view, method)
        if changed & (REDRAW_IMAGE | REDRAW_LAYERS | {"anonymise"}):
            self._refresh_corners()

    def _refresh_corners(self) -> None:
        view = self.state.view
        if view.image is None:
            return
        for image_view, method in zip(self.shown_views(view), view.methods_shown):
            image_view.set_corners(corner_texts(view, view.image, method, image_view.zoom()))

    def _render_layers(self, view: View, image_view: ImageView, method: str) -> None:
        image_view.show_layer(self._preview(view), image_view.preview)
        explanation = shown_explanation(view, method)
        model_input = view.result.model_input if view.result is not None else None
        if explanation is None or model_input is None:
            image_view.show_layer(None)
            image_view.show_grid(None)
            return
        geometry = model_input.geometry
        heat = view.overlay_visible and view.preview is None
        image_view.show_layer(heat_layer(explanation.map, explanation.signed, geometry, view.style, view.normalisation) if heat else None)
        image_view.show_grid(grid_overlay(explanation.map, geometry, view.grid) if view.grid else None)

    @staticmethod
    def _preview(view: View) -> Layer | None:
        preview, evaluation, request, model = view.preview, view.evaluation, view.evaluated_with, view.model
        if preview is None or evaluation is None or request is None or model is None:
            return None
        explained = evaluation.explained.model_input
        curve = next((c for c in evaluation.curves if c.method == preview.method and c.order == preview.order), None)
        if curve is None or explained is None:
            return None
        return step_preview(explained, model.spec, request, curve, preview.step)

    def _window_drag(self, dx: float, dy: float, started: bool) -> None:
        view = self.state.view
        image = view.image
        if image is None or image.is_color:
            return
        if started or self._drag_start is None:
            self._drag_start = window_of(image, shown_preset(image, view.preset, view.window))
        self.state.update(window=dragged(self._drag_start, dx, dy, image.value_range))


def corner_texts(view: View, image: XrayImage, method: str, zoom: float) -> dict[str, str]:
    """What the four corners say: patient and study (unless anonymised), modality and view, window and zoom, map."""
    meta = image.metadata.anonymized() if view.anonymise else image.metadata
    patient = ["anonymised"] if view.anonymise else [
        v for v in (meta.patient_name, meta.patient_id, meta.study_date, meta.study_description) if v]
    acquired = [v for v in (meta.modality, meta.body_part, meta.view_position, meta.laterality) if v]
    preset = shown_preset(image, view.preset, view.window)
    window = preset.window
    levels = f"W {window.width:.0f} L {window.center:.0f}" if window is not None else preset.name
    explanation = shown_explanation(view, method)
    shown = [method]
    if explanation is not None and view.model is not None:  # provenance: what made the map on screen
        model, made = provenance_parts(view.model.name, view.model.weights_sha256, explanation)
        shown = [made, model]
    if not view.overlay_visible:
        shown.append("overlay hidden (O)")
    if view.preview is not None:
        shown = [f"preview: {view.preview.method} {view.preview.order} step {view.preview.step}"]
    return {"top_left": "\n".join(patient), "top_right": " ".join(acquired) + f"\n{meta.columns} x {meta.rows}",
            "bottom_left": f"{levels}\nzoom {zoom:.2f}", "bottom_right": "\n".join(shown)}
