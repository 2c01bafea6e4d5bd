"""CalibrationDashboard in a real JupyterLab: it renders, and a mouse drag on the PIT histogram selects
those objects in the dashboard and in a linked PDFExplorer (kernel agrees).

``notebooks/calibration.ipynb`` (from ``build_notebooks.py``) builds a dashboard on 400 over-confident
Gaussian PDFs and a PDFExplorer sharing its ``Selection``.
"""

from __future__ import annotations

import re
import time

import pytest

pytestmark = pytest.mark.browser

PLOTS = ("calib-pit", "calib-qq", "calib-crps", "calib-coverage", "calib-pdfs")


def _text(locator) -> str:
    return locator.inner_text(timeout=10_000) if locator.count() else ""


def _wait_text(locator, pattern: str, timeout: float = 30.0) -> re.Match:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = _text(locator)
        m = re.search(pattern, text)
        if m:
            return m
        time.sleep(0.3)
    raise AssertionError(f"text /{pattern}/ did not appear within {timeout:.0f} s; last text: {text[:500]!r}")


def test_calibration_dashboard_brush_selects_everywhere(open_nb, browser_context, request):
    nb = open_nb("calibration.ipynb")
    nb.run_all(timeout=240)
    nb.wait_widgets_loaded(timeout=90)
    page = nb.page
    scope = ".jp-Notebook .astrolab-calibration"
    dash = page.locator(scope).first
    assert dash.count() == 1, "CalibrationDashboard not rendered"
    assert "Error displaying widget" not in nb.body_text()
    n = nb.wait_bokeh(5, timeout=90, scope=scope)
    assert n >= 5, f"expected 5 bokeh plots in the dashboard, found {n}"
    for plot in PLOTS:
        assert dash.locator(f".astrolab-plot-{plot}").count() == 1, f"plot {plot} missing"
    for key in ("pit", "qq", "crps", "coverage", "outliers", "gof"):
        assert dash.locator(f".astrolab-explain-{key}").count() == 1, f"explanation {key} missing"
    assert "Nothing selected" in _text(dash.locator(".astrolab-status"))
    summary = dash.locator(".astrolab-calib-summary")
    assert re.search(r"KS distance D", _text(summary)) and re.search(r"selection \(0\)", _text(summary))
    blank = {}
    for plot in ("calib-pit", "calib-qq", "calib-crps", "calib-coverage"):
        canvas = dash.locator(f".astrolab-plot-{plot} .bk-Canvas").first
        canvas.scroll_into_view_if_needed()
        ink = nb.ink_fraction(canvas)
        if ink < 0.02:
            blank[plot] = round(ink, 4)
    assert not blank, f"blank plots (fraction of non-white pixels): {blank}"
    nb.element_screenshot(dash, "before-brush")

    # drag along x over the right part of the PIT histogram (box select, width only, is the active drag)
    plot = dash.locator(".astrolab-plot-calib-pit").first
    plot.scroll_into_view_if_needed()
    canvas = plot.locator(".bk-Canvas").first
    box = canvas.bounding_box()
    assert box and box["width"] > 100, f"PIT canvas too small: {box}"
    x0, x1 = box["x"] + 0.70 * box["width"], box["x"] + 0.86 * box["width"]
    y = box["y"] + 0.5 * box["height"]
    page.mouse.move(x0, y)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, y + 5, steps=8)
    page.mouse.move(x1, y + 10, steps=8)
    page.mouse.up()

    m = _wait_text(summary, r"selection \(([\d,]+)\)", timeout=30)
    deadline = time.monotonic() + 30
    while int(m.group(1).replace(",", "")) == 0 and time.monotonic() < deadline:
        time.sleep(0.3)
        m = re.search(r"selection \(([\d,]+)\)", _text(summary))
    n_sel = int(m.group(1).replace(",", ""))
    assert 0 < n_sel < 400, f"the brush selected {n_sel} of 400 objects"
    pdf = page.locator(".jp-Notebook .astrolab-pdfexplorer").first
    _wait_text(pdf.locator(".astrolab-stats"), rf"{n_sel:,} selected; showing \d+ PDFs", timeout=30)
    nb.element_screenshot(dash, "after-brush")
    nb.element_screenshot(pdf, "after-brush-pdf")

    out = nb.run_cell_containing("PROBE_CALIBRATION")
    m = re.search(r"SELECTED=(\d+) DASH=(\d+) PDF=(\d+) MINPIT=(\S+) MAXPIT=(\S+) BRUSH=\((\S+), (\S+)\) "
                  r"ERROR=(\w+)", out)
    assert m, f"probe output: {out!r}"
    assert int(m.group(1)) == int(m.group(2)) == int(m.group(3)) == n_sel
    lo, hi = float(m.group(6)), float(m.group(7))
    assert 0.4 < lo < hi < 1.0, f"brushed PIT range {lo}-{hi}"
    assert lo <= float(m.group(4)) <= float(m.group(5)) <= hi  # the selected objects' PIT lie in the range
    assert m.group(8) == "None"
    nb.screenshot("after-brush")
    browser_context.guard.assert_offline()
