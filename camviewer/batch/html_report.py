"""``report.html``: one self-contained HTML5 file for a batch run, made from its summary and rows.

Nothing is fetched: the style and the table-sorting script are inline, thumbnails are
``data:image/png`` URIs and the plots inline SVG; a Content-Security-Policy allows no network
source, inline styles, ``data:`` images and only the report's own script (by its hash). Every
value from the run (paths, labels, messages) is HTML-escaped by Jinja2's autoescaping; the only
markup passed through is the package's own script and the plots (SVG made by matplotlib, whose
text it escapes itself).

Content: the run (times, model, versions; a banner when incomplete), the configuration, counts
and failure reasons, the classification report, per method × grid AOPC (all rows, correct rows),
Max Sensitivity, HAAS and localisation when measured, the paired comparisons, the MoRF and
AOPC(l) plots per grid, the 5 lowest (worst) and 5 highest (best) headline AOPC rows per method,
and a sortable table of every row. The page is generated and written piece by piece, the rows
read from the journal as they are written, so its size does not bound the memory it takes.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from camviewer.batch.plots import aopc_length_plot, morf_plot
from camviewer.batch.records import ImageRecord
from camviewer.io.write import NO_INPUTS, ProtectedInputs, atomic_text_file

EXTREMES = 5
Thumbnail = Callable[[str, str], bytes | None]
"""(row path, method) -> PNG bytes of that method's overlay thumbnail, or None."""
Records = Callable[[], Iterable[ImageRecord]]
"""The run's rows, read afresh on each call."""


@dataclass(frozen=True)
class ReportRow:
    """One row of the report's table: AOPC per method at the headline grid, the first method's thumbnail."""

    path: str
    status: str
    prediction: str | None
    probability: float | None
    label: str | None
    correct: bool | None
    aopc: tuple[float | None, ...]
    thumbnail: str | None


@dataclass(frozen=True)
class Extreme:
    path: str
    aopc: float
    thumbnail: str | None


@cache
def _environment() -> Environment:
    environment = Environment(loader=PackageLoader("camviewer.batch", "templates"), autoescape=True, undefined=StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)
    environment.filters["num"] = _number
    environment.filters["sortkey"] = _sort_key
    environment.filters["plain"] = _plain
    return environment


def render_report(summary: dict[str, Any], config_doc: dict[str, Any], run: dict[str, Any], records: Records,
                  thumbnail: Thumbnail) -> Iterator[str]:
    """The report's HTML. ``run`` holds started, written, seconds, images_per_second, incomplete
    (bool), images, skipped, model, model_hash, device and versions (package -> version); a missing one shows as blank."""
    methods = list(config_doc["methods"])
    grids = list(config_doc["grids"])
    rows = (_row(record, methods, thumbnail) for record in records())
    environment = _environment()
    script = environment.loader.get_source(environment, "sortable.js.j2")[0] if environment.loader else ""
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    plots = [(g, Markup(morf_plot(summary, methods, g)), Markup(aopc_length_plot(summary, methods, g))) for g in grids]
    return environment.get_template("report.html.j2").generate(
        summary=summary, config=config_doc, run=run, methods=methods, grids=grids, rows=rows, plots=plots,
        extremes={m: _extremes(records, m, thumbnail) for m in methods},
        script=Markup(script), csp=f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{digest}'; "
                                   "base-uri 'none'; form-action 'none'")


def write_report(path: str | Path, summary: dict[str, Any], config_doc: dict[str, Any], run: dict[str, Any],
                 records: Records, thumbnail: Thumbnail, *, protected: ProtectedInputs = NO_INPUTS) -> None:
    """Write :func:`render_report`'s HTML to ``path`` atomically (UTF-8), as it is generated."""
    with atomic_text_file(path, protected) as text:
        text.writelines(render_report(summary, config_doc, run, records, thumbnail))


def _row(record: ImageRecord, methods: Sequence[str], thumbnail: Thumbnail) -> ReportRow:
    found = [record.method(name) for name in methods]
    aopc = tuple(m.aopc[0] if m is not None and m.aopc else None for m in found)
    image = _data_uri(thumbnail(record.path, methods[0])) if found[0] is not None else None
    return ReportRow(record.path, record.status, record.predicted_label, record.probability, record.label, record.correct, aopc, image)


def _extremes(records: Records, method: str, thumbnail: Thumbnail) -> dict[str, list[Extreme]]:
    """The rows with the lowest ("worst") and highest ("best") headline AOPC of ``method``, ties by path."""

    def scored() -> Iterator[tuple[float, str]]:
        for record in records():
            found = record.method(method)
            if found is not None and found.aopc:
                yield found.aopc[0], record.path

    worst = heapq.nsmallest(EXTREMES, scored())
    best = heapq.nsmallest(EXTREMES, scored(), key=lambda s: (-s[0], s[1]))
    return {kind: [Extreme(path, value, _data_uri(thumbnail(path, method))) for value, path in chosen]
            for kind, chosen in (("worst", worst), ("best", best))}


def _data_uri(png: bytes | None) -> str | None:
    return None if png is None else "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _number(value: Any) -> str:
    """A number for reading: 4 significant digits, integers whole, blank for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _sort_key(value: Any) -> str:
    """A cell's ``data-sort``: numbers at full precision, booleans 1/0, blank for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    return repr(float(value)) if isinstance(value, int | float) else str(value)


def _plain(value: Any) -> str:
    """A configuration value as text: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)
