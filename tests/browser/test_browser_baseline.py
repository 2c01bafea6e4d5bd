"""Harness check: ipywidgets, holoviews (inline BokehJS) and jupyter_bokeh render offline."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_offline_render_baseline(open_nb, browser_context):
    nb = open_nb("baseline.ipynb")
    nb.run_all(timeout=180)
    nb.wait_widgets_loaded(timeout=60)

    # ipywidgets: exactly one IntSlider, rendered by the widget manager
    assert nb.count(".widget-slider") == 1
    assert nb.count(".jupyter-widgets") >= 1
    slider = nb.page.locator(".jp-Notebook .widget-slider").first
    assert "baseline" in slider.inner_text()

    # holoviews plot + BokehModel: two bokeh canvases with a non-zero size
    n_plots = nb.wait_bokeh(min_plots=2, timeout=60)
    assert n_plots == 2
    assert nb.count("[class*=bk-]") >= 2
    assert len(nb.visible_canvases()) >= 2
    outputs = nb.page.locator(".jp-Notebook .jp-OutputArea").all_inner_texts()
    assert not any("BokehJS is loading" in t for t in outputs)

    # the kernel answers and sees the slider
    out = nb.run_cell_containing("PROBE_BASELINE")
    assert "SLIDER_VALUE= 3" in out

    nb.screenshot("rendered")
    browser_context.guard.assert_offline()
