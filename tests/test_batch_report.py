"""The batch HTML report and its plots: strict HTML5, self-contained (no URL, no external source),
file-derived text escaped, the incomplete banner, the plots, the worst and best rows."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import html5lib
import numpy as np
import pytest
from test_batch_summary import CLASSES, CONFIG, make_records

from camviewer.batch.html_report import render_report, write_report
from camviewer.batch.plots import aopc_length_plot, morf_plot
from camviewer.batch.records import OK, ImageRecord
from camviewer.batch.reports import RunInfo
from camviewer.batch.summary import summarise
from camviewer.io.write import encode_png

HOSTILE = "<script>alert(1)</script>.dcm"
PNG = encode_png(np.full((4, 4), 128, np.uint8))
RUN = RunInfo("2025-01-01T10:00:00", "2025-01-01T10:01:00", 60.0, 0.1667, False, 12, 3, "demo <b>net</b>", "ab12", "cpu",
              {"camviewer": "0.1.0", "torch": "2"}).document()


def records() -> list[ImageRecord]:
    rows = make_records()
    hostile = rows[0]
    return [ImageRecord(HOSTILE, OK, hostile.predicted_index, hostile.predicted_label, hostile.probability, "normal", True, 1, 1,
                        hostile.methods), *rows[1:]]


def render(run: dict | None = None) -> str:
    rows = records()
    summary = summarise(rows, CONFIG, CLASSES, False)
    return "".join(render_report(summary, CONFIG.document(), RUN if run is None else run, lambda: iter(rows), lambda path, method: PNG))


@pytest.fixture(scope="module")
def html() -> str:
    return render()


def test_strict_html5(html: str) -> None:
    html5lib.HTMLParser(strict=True).parse(html)


def test_file_text_is_escaped(html: str) -> None:
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.dcm" in html
    assert "<script>alert" not in html and "<b>net</b>" not in html
    assert html.count("<script") == 1


def test_self_contained(html: str) -> None:
    assert "http://" not in html and "https://" not in html
    targets = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]*)""", html)
    assert targets and all(t.startswith(("data:", "#")) for t in targets)
    assert f"data:image/png;base64,{base64.b64encode(PNG).decode()}" in html
    assert not re.search(r"<link|@import|<iframe|<object|<embed", html)
    assert all(t.startswith("#") for t in re.findall(r"url\(([^)]*)\)", html))  # SVG clip paths in the page


def test_script_allowed_by_its_hash_only(html: str) -> None:
    script = re.search(r"<script>(.*?)</script>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html).group(1)
    assert f"script-src 'sha256-{digest}'" in policy.replace("&#39;", "'") and "default-src 'none'" in policy.replace("&#39;", "'")


def test_the_run_table_shows_each_fact_of_the_run(html: str) -> None:
    table = html.split('id="run"')[1].split("</table>")[0]
    for caption, value in (("Started", "2025-01-01T10:00:00"), ("Reports written", "2025-01-01T10:01:00"), ("Seconds", "60"),
                           ("Images listed", "12"), ("Entries skipped", "3"), ("Model hash", "ab12"), ("Device", "cpu")):
        assert re.search(rf"<th>{caption}</th><td>{re.escape(value)}[^<]*</td>", table), caption


def test_incomplete_banner(html: str) -> None:
    assert 'id="incomplete"' not in html
    assert 'id="incomplete"' in render(RUN | {"incomplete": True})


def test_plots_present(html: str) -> None:
    assert html.count("<svg") == 2 * len(CONFIG.grids)
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html


def test_sortable_table_holds_every_row(html: str) -> None:
    document = html5lib.parse(html, namespaceHTMLElements=False)
    table = document.find(".//table[@class='sortable']")
    body = table.find("tbody")
    assert len(body.findall("tr")) == len(records())
    headers = [th.text for th in table.find("thead").iter("th")]
    assert headers[:6] == ["Path", "Status", "Prediction", "Probability", "Label", "Correct"] and headers[6:] == [
        "AOPC gradcam", "AOPC hirescam", "gradcam"]


def test_worst_and_best_by_headline_aopc(html: str) -> None:
    document = html5lib.parse(html, namespaceHTMLElements=False)
    tables = {}
    for table in document.iter("table"):
        head = table.find("thead/tr/th")
        if head is not None and head.text in ("worst", "best"):
            tables.setdefault(head.text, []).append([tr.find("td").text for tr in table.find("tbody").findall("tr")])
    rows = [r for r in records() if r.methods]
    for k, method in enumerate(CONFIG.methods):
        ranked = [r.path for r in sorted(rows, key=lambda r: r.method(method).aopc[0])]
        assert tables["worst"][k] == ranked[:5] and tables["best"][k] == ranked[::-1][:5]


def test_plots_are_deterministic_svg() -> None:
    summary = summarise(make_records(), CONFIG, CLASSES, False)
    first = morf_plot(summary, CONFIG.methods, 3)
    assert first == morf_plot(summary, CONFIG.methods, 3) and first.startswith("<svg") and "http" not in first
    assert aopc_length_plot(summary, CONFIG.methods, 2) != aopc_length_plot(summary, CONFIG.methods, 3)
    assert "no curves" in morf_plot(summary, CONFIG.methods, 7)


def test_write_report(tmp_path: Path, html: str) -> None:
    rows = records()
    summary = summarise(rows, CONFIG, CLASSES, False)
    write_report(tmp_path / "report.html", summary, CONFIG.document(), RUN, lambda: rows, lambda path, method: None)
    written = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "data:image/png" not in written and written.replace("\n", "")[:200] == html.replace("\n", "")[:200]
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
