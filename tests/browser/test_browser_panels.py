"""astrolab's panels in a real JupyterLab: rendering, a mouse box-select, TrainingPanel Start/Stop.

``notebooks/panels.ipynb`` builds EmbeddingExplorer, DataBrowser, PDFExplorer and
LightCurveViewer on 240 simulated objects, all linked through one
``astrolab.selection.Selection``; it is opened and run once for this module
(the tests below share that page, in file order). ``training_panel.ipynb``
drives a TrainingPanel with a slow toy estimator.
"""

from __future__ import annotations

import re
import time

import pytest

from jlab_harness import ARTIFACTS, Notebook, close_context, launch_context

pytestmark = pytest.mark.browser

PANELS = {
    "embedding": ".astrolab-embedding",
    "databrowser": ".astrolab-databrowser",
    "pdf": ".astrolab-pdfexplorer",
    "lightcurves": ".astrolab-lightcurves",
}
# bokeh plots (BokehModel widgets) each panel shows before any selection
# (the DataBrowser shows only its table -- a SlickGrid, no canvas -- until an object is selected)
MIN_PLOTS = {"embedding": 1, "databrowser": 0, "pdf": 4, "lightcurves": 3}


@pytest.fixture(scope="module")
def panels_nb(playwright_instance, jupyterlab, tmp_path_factory):
    """panels.ipynb opened and run once; shared by the tests of this module."""
    for old in ARTIFACTS.glob("panels-*"):
        old.unlink(missing_ok=True)
    context = launch_context(playwright_instance, tmp_path_factory.mktemp("chromium-panels"))
    page = context.pages[0] if context.pages else context.new_page()
    context.guard.watch(page)
    nb = Notebook(page, jupyterlab, "panels.ipynb", "panels")
    ok = False
    try:
        nb.open(timeout=120)
        nb.run_all(timeout=240)
        nb.wait_widgets_loaded(timeout=90)
        ok = True
        yield nb
    except Exception:
        try:
            nb.screenshot("FAILED-setup", outputs=False)
        except Exception:  # noqa: BLE001
            pass
        print(f"\nJupyterLab log tail:\n{jupyterlab.log_tail(40)}\nconsole:\n{context.guard.summary()}")
        raise
    finally:
        close_context(context, "panels", check=ok)


def _panel(nb: Notebook, name: str):
    return nb.page.locator(f".jp-Notebook {PANELS[name]}").first


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


def test_panels_render(panels_nb, request):
    nb = panels_nb
    nb.test_name = request.node.name
    body = nb.body_text()
    assert "Error displaying widget" not in body
    for name, css in PANELS.items():
        panel = _panel(nb, name)
        assert panel.count() == 1, f"panel {name} ({css}) is not in the page"
        panel.scroll_into_view_if_needed()
        if MIN_PLOTS[name]:
            n = nb.wait_bokeh(MIN_PLOTS[name], timeout=60, scope=f".jp-Notebook {css}")
            assert n >= MIN_PLOTS[name]
        # status lines show no error
        err = panel.locator(".astrolab-msg-error")
        assert err.count() == 0, f"{name}: error message shown: {_text(err.first)}"
        nb.element_screenshot(panel, name)
    # the DataBrowser's bokeh DataTable shows catalog rows
    rows = _panel(nb, "databrowser").locator(".astrolab-plot-table .slick-row")
    deadline = time.monotonic() + 30
    while rows.count() == 0 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert rows.count() > 5, "DataBrowser table shows no rows"
    assert "240 of 240 objects pass the filters" in _text(_panel(nb, "databrowser").locator(".astrolab-table-info"))
    assert nb.count(".jupyter-widgets") >= 10
    assert nb.count(".widget-dropdown") >= 3
    assert nb.count("button.astrolab-clear") == 1
    nb.screenshot("all")
    nb.page.context.guard.assert_offline()


def test_pdf_explorer_renders(panels_nb, request):
    nb = panels_nb
    nb.test_name = request.node.name
    panel = _panel(nb, "pdf")
    for plot in ("zscatter", "pdfs", "pit", "coverage", "cutouts"):
        assert panel.locator(f".astrolab-plot-{plot}").count() == 1, f"PDFExplorer plot {plot} missing"
    assert "Nothing selected" in _text(panel.locator(".astrolab-status"))
    nb.element_screenshot(panel, "pdf")


def test_lightcurve_viewer_renders(panels_nb, request):
    nb = panels_nb
    nb.test_name = request.node.name
    panel = _panel(nb, "lightcurves")
    for plot in ("lightcurve", "periodogram", "folded"):
        assert panel.locator(f".astrolab-plot-{plot}").count() == 1, f"LightCurveViewer plot {plot} missing"
    _wait_text(panel.locator(".astrolab-status"), r"Object 1000: 60 points in 2 band\(s\); best period")
    nb.element_screenshot(panel, "lightcurves")
    _assert_drawn(nb, panel, ("lightcurve", "periodogram", "folded"))


_JS_TOOL_ACTIVE = """e => {
  const host = e.getRootNode().host || e.parentElement;  // the icon sits in the button's shadow root
  return !!host && host.classList.contains('bk-active');
}"""


def _assert_drawn(nb: Notebook, panel, plots) -> None:
    """Each named plot's canvas has axes and data drawn (not a blank white box)."""
    blank = {}
    for plot in plots:
        canvas = panel.locator(f".astrolab-plot-{plot} .bk-Canvas").first
        ink = nb.ink_fraction(canvas)
        if ink < 0.02:
            blank[plot] = round(ink, 4)
    assert not blank, f"blank plots (fraction of non-white pixels): {blank}"


def _activate_box_select(plot) -> None:
    """Click the bokeh toolbar's box-select button unless it is already the active drag tool."""
    icon = plot.locator(".bk-tool-icon-box-select").first
    if not icon.count():
        raise AssertionError("the embedding plot has no box-select tool in its toolbar")
    if not icon.evaluate(_JS_TOOL_ACTIVE):
        icon.click()
        time.sleep(0.3)
    assert icon.evaluate(_JS_TOOL_ACTIVE), "could not activate the box-select tool"


def test_embedding_box_select_updates_linked_views(panels_nb, request):
    nb = panels_nb
    nb.test_name = request.node.name
    page = nb.page
    explorer = _panel(nb, "embedding")
    browser = _panel(nb, "databrowser")
    pdf = _panel(nb, "pdf")
    lcv = _panel(nb, "lightcurves")

    assert "nothing selected" in _text(explorer.locator(".astrolab-count"))
    assert "Select an object" in _text(browser.locator(".astrolab-current"))
    assert _text(pdf.locator(".astrolab-stats")).strip() == ""

    plot = explorer.locator(".astrolab-plot-embedding").first
    plot.scroll_into_view_if_needed()
    nb.wait_bokeh(1, scope=".jp-Notebook .astrolab-embedding")
    _activate_box_select(plot)
    canvas = plot.locator(".bk-Canvas").first
    box = canvas.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100, f"embedding canvas too small: {box}"
    nb.element_screenshot(explorer, "before-select")
    # drag over the left ~2/3 of the plot area (inside the frame, away from axes/toolbar)
    x0, y0 = box["x"] + 0.12 * box["width"], box["y"] + 0.1 * box["height"]
    x1, y1 = box["x"] + 0.6 * box["width"], box["y"] + 0.85 * box["height"]
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=8)
    page.mouse.move(x1, y1, steps=8)
    page.mouse.up()

    # the explorer's own count, then the linked panels (kernel round trip)
    m = _wait_text(explorer.locator(".astrolab-count"), r"([\d,]+) selected", timeout=30)
    n_sel = int(m.group(1).replace(",", ""))
    assert 0 < n_sel < 240, f"box-select picked {n_sel} of 240 objects"
    _wait_text(browser.locator(".astrolab-current"), r"object \d+", timeout=30)
    _wait_text(pdf.locator(".astrolab-stats"), rf"{n_sel:,} selected; showing \d+ PDFs", timeout=30)
    # the DataBrowser table highlights the selected rows
    _wait_text(browser.locator(".astrolab-table-info"), r"240 of 240 objects", timeout=10)
    nb.element_screenshot(explorer, "after-select-embedding")
    nb.element_screenshot(browser, "after-select-databrowser")
    nb.element_screenshot(pdf, "after-select-pdf")
    nb.element_screenshot(lcv, "after-select-lightcurves")
    _assert_drawn(nb, pdf, ("zscatter", "pdfs", "pit", "coverage", "cutouts"))

    # the kernel sees the same non-empty selection in every linked panel
    out = nb.run_cell_containing("PROBE_SELECTION")
    m = re.search(r"SELECTED=(\d+) BROWSER=(\d+) PDF=(\d+) LC=(\d+) CURRENT=(\S+)", out)
    assert m, f"probe output: {out!r}"
    assert int(m.group(1)) == n_sel
    assert m.group(2) == m.group(3) == m.group(4) == m.group(1)
    assert m.group(5) != "None"
    nb.screenshot("after-select")
    # the DataBrowser shows the current object's cutouts, spectrum and light curve
    _assert_drawn(nb, browser, ("cutouts", "spectrum", "lightcurve"))
    nb.page.context.guard.assert_offline()


# --------------------------------------------------------------------------- TrainingPanel
_JS_LINE_POINTS = """(sel) => {
  // points per line glyph of the bokeh figures inside ``sel``, read from the browser's BokehJS documents
  const root = document.querySelector(sel);
  const out = [];
  for (const doc of (window.Bokeh ? Bokeh.documents : [])) {
    for (const m of doc.all_models) {
      if (m.type !== "Figure") continue;
      for (const r of m.renderers) {
        if (!r.glyph || r.glyph.type !== "Line") continue;
        const d = r.data_source.data;
        out.push(d.x ? d.x.length : 0);
      }
    }
  }
  return root ? out : null;
}"""


def _assert_every_curve_drawn(nb: Notebook, scope: str, epochs: int, names: int) -> None:
    """Every loss/metric line the kernel holds reached the browser with all its points.

    (The browser's echoes of kernel patches used to detach every line but the first: the
    legend listed val_loss, val_nmad, ... but only one curve was drawn.)"""
    counts = nb.page.evaluate(_JS_LINE_POINTS, scope)
    assert counts is not None, f"{scope} not found"
    assert len(counts) >= names, f"the browser has {len(counts)} line(s), the kernel {names}: {counts}"
    assert all(c == epochs for c in counts[-names:]), f"points per line in the browser: {counts}, epochs: {epochs}"


def _epoch(panel) -> int:
    m = re.search(r"epoch (\d+) / (\d+)", _text(panel))
    return int(m.group(1)) if m else 0


def test_training_panel_start_stop(open_nb, browser_context, request):
    nb = open_nb("training_panel.ipynb")
    nb.run_all(timeout=180)
    nb.wait_widgets_loaded(timeout=60)
    page = nb.page
    panel = page.locator(".jp-Notebook .astrolab-training").first
    assert panel.count() == 1, "TrainingPanel not rendered"
    nb.wait_bokeh(1, scope=".jp-Notebook .astrolab-training")
    assert "No runs yet" in _text(panel.locator(".astrolab-runs"))
    progress = panel.locator(".astrolab-progress")
    assert progress.count() == 1
    start = panel.locator("button.astrolab-start")
    stop = panel.locator("button.astrolab-stop")
    assert start.inner_text().strip() == "Start" and stop.is_disabled()
    nb.element_screenshot(panel, "before-start")

    start.click()
    # the epoch label advances (first epoch may wait for astrolab.train's import)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and _epoch(panel) < 3:
        time.sleep(0.3)
    reached = _epoch(panel)
    assert reached >= 3, f"training did not reach epoch 3 within 90 s (label: {_text(panel)[:300]!r})"
    assert stop.is_enabled() and start.is_disabled()
    # the progress bar follows
    bar = progress.locator(".progress-bar, .widget-progress .progress-bar").first
    if bar.count():
        width = bar.evaluate("el => el.getBoundingClientRect().width")
        assert width > 0, "progress bar did not advance"
    # the loss curve has more than one point: a visible bokeh line on the curves plot
    nb.element_screenshot(panel, "running")

    stop.click()
    _wait_text(panel.locator(".astrolab-status"), r"Run 1 stopped after (\d+) epoch", timeout=30)
    stopped_at = _epoch(panel)
    assert start.is_enabled() and stop.is_disabled()
    time.sleep(1.5)  # an epoch takes 0.4 s: it would have advanced by now
    assert _epoch(panel) == stopped_at, "training kept running after Stop"
    assert stopped_at < 40
    assert "stopped" in _text(panel.locator(".astrolab-runs"))

    out = nb.run_cell_containing("PROBE_TRAINING")
    m = re.search(r"RUNNING=(\w+) EPOCHS=(\d+) STATUS=(\w+) ERROR=(\w+)", out)
    assert m, f"probe output: {out!r}"
    assert m.group(4) == "None", f"the panel recorded a display error: {out}"
    assert m.group(1) == "False" and m.group(3) == "stopped"
    assert int(m.group(2)) >= 3, "the loss curve needs more than one point"
    assert int(m.group(2)) == stopped_at
    _assert_every_curve_drawn(nb, ".jp-Notebook .astrolab-training", stopped_at, names=2)
    nb.element_screenshot(panel, "stopped")
    nb.screenshot("stopped")
    browser_context.guard.assert_offline()


_JS_EPOCH_AT_LEAST = """([sel, n]) => {
  const p = document.querySelector(sel);
  const m = p && p.innerText.match(/epoch (\\d+) \\/ (\\d+)/);
  return !!m && Number(m[1]) >= n;
}"""


def test_training_panel_photometric_redshift(open_nb, browser_context, request):
    """TrainingPanel around astrolab.PhotometricRedshift on 1,500 simulated HSC galaxies: Start, the epochs
    and the loss curve advance, Stop mid-run, status stopped (the kernel agrees)."""
    nb = open_nb("training_photoz.ipynb")
    nb.run_all(timeout=180)
    nb.wait_widgets_loaded(timeout=60)
    page = nb.page
    scope = ".jp-Notebook .astrolab-training"
    panel = page.locator(scope).first
    assert panel.count() == 1, "TrainingPanel not rendered"
    nb.wait_bokeh(1, scope=scope)
    assert "No runs yet" in _text(panel.locator(".astrolab-runs"))
    start = panel.locator("button.astrolab-start")
    stop = panel.locator("button.astrolab-stop")
    assert start.inner_text().strip() == "Start" and stop.is_disabled()
    nb.element_screenshot(panel, "before-start")

    start.click()
    # epochs are short (~0.1 s): watch the label in the page and press Stop once two epochs are shown
    # (the first epoch waits for torch/lightning to import)
    page.wait_for_function(_JS_EPOCH_AT_LEAST, arg=[scope, 2], polling="raf", timeout=120_000)
    assert _epoch(panel) < 300, f"the run ended before Stop could be pressed: {_text(panel)[:300]!r}"
    stop.click()
    nb.element_screenshot(panel, "running")
    m = _wait_text(panel.locator(".astrolab-status"), r"Run 1 (\w+) after (\d+) epoch", timeout=60)
    assert m.group(1) == "stopped", f"run 1 {m.group(1)} (status: {_text(panel.locator('.astrolab-status'))!r})"
    stopped_at = _epoch(panel)
    assert 2 <= stopped_at < 300 and int(m.group(2)) == stopped_at
    assert start.is_enabled() and stop.is_disabled()
    time.sleep(1.5)  # several epochs' time: it would have advanced by now
    assert _epoch(panel) == stopped_at, "training kept running after Stop"
    assert "stopped" in _text(panel.locator(".astrolab-runs"))
    bar = panel.locator(".astrolab-progress .progress-bar").first
    if bar.count():
        assert bar.evaluate("el => el.getBoundingClientRect().width") > 0, "progress bar did not advance"

    out = nb.run_cell_containing("PROBE_TRAINING")
    print(out)
    m = re.search(r"RUNNING=(\w+) EPOCHS=(\d+) STATUS=(\w+) CURVE_POINTS=(\d+) HIDDEN=(\(\d+,\)) ERROR=(\w+)", out)
    assert m, f"probe output: {out!r}"
    assert m.group(6) == "None", f"the panel recorded a display error: {out}"
    assert m.group(1) == "False" and m.group(3) == "stopped"
    assert int(m.group(2)) == stopped_at
    assert int(m.group(4)) == stopped_at >= 2, "the loss curve needs more than one point"
    assert m.group(5) == "(32,)", "the panel changed the estimator's architecture"
    n_lines = len(re.search(r"SOURCES=\[([^\]]*)\]", out).group(1).split(","))
    assert n_lines >= 2, out
    _assert_every_curve_drawn(nb, scope, stopped_at, names=n_lines)
    nb.element_screenshot(panel, "stopped")
    _assert_drawn(nb, panel, ("curves",))
    nb.screenshot("stopped")
    browser_context.guard.assert_offline()


# --------------------------------------------------------------------------- astrolab.viz, inline
def test_viz_inline_holoviews_offline(open_nb, browser_context, request):
    """Bare holoviews elements from astrolab.viz (last expression of a cell) after enable_inline(): they
    render, and nothing -- BokehJS, panel's stylesheets -- is requested from outside 127.0.0.1."""
    nb = open_nb("viz_inline.ipynb")
    nb.run_all(timeout=180)
    n = nb.wait_bokeh(3, timeout=90)
    assert n == 3, f"expected the 3 plots, found {n} bokeh canvases"
    outputs = nb.page.locator(".jp-Notebook .jp-OutputArea").all_inner_texts()
    assert not any("BokehJS is loading" in t for t in outputs)
    blank = {}
    for marker in ("VIZ_SCATTER", "VIZ_PIT", "VIZ_LOSS"):
        cell = nb.page.locator(".jp-CodeCell", has=nb.page.locator(".jp-InputArea-editor", has_text=marker)).first
        canvas = cell.locator(".jp-OutputArea .bk-Canvas").first
        assert canvas.count() == 1, f"{marker}: no bokeh plot in the output"
        canvas.scroll_into_view_if_needed()
        nb.element_screenshot(cell.locator(".jp-OutputArea").first, marker.lower())
        ink = nb.ink_fraction(canvas)
        if ink < 0.02:
            blank[marker] = round(ink, 4)
    assert not blank, f"blank plots (fraction of non-white pixels): {blank}"
    nb.screenshot("rendered")
    browser_context.guard.assert_offline()
