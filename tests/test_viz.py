"""Tests of astrolab.viz: compute helpers, holoviews builders and live bokeh views."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from astrolab.errors import DataValidationError
from astrolab.viz import compute


def test_stretches_map_to_unit_interval(rng):
    img = rng.normal(0, 1, (32, 32))
    img[16, 16] = 100.0
    img[0, 0] = np.nan
    for st in compute.STRETCHES:
        out = compute.stretch_image(img, st)
        assert out.shape == (32, 32) and np.isnan(out[0, 0])
        assert np.nanmin(out) >= 0 and np.nanmax(out) <= 1
        assert out[16, 16] == pytest.approx(1.0)
    # asinh lifts faint pixels more than linear
    lin = compute.stretch_image(img, "linear")
    asi = compute.stretch_image(img, "asinh")
    assert np.nanmedian(asi) > np.nanmedian(lin)
    with pytest.raises(DataValidationError):
        compute.stretch_image(img, "log")
    rgb = compute.rgb_image(np.stack([img, img * 0.5, img * 0.1]), "asinh")
    assert rgb.shape == (32, 32, 3) and rgb.dtype == np.uint8
    assert rgb[16, 16, 0] == 255 and rgb[16, 16, 0] >= rgb[16, 16, 2]


def test_smooth_spectrum_weights_and_masks():
    flux = np.ones(100)
    flux[50] = 100.0
    ivar = np.ones(100)
    ivar[50] = 0.0  # masked spike
    out = compute.smooth_spectrum(flux, ivar, 2.0)
    assert np.allclose(out, 1.0)
    assert np.isnan(compute.smooth_spectrum(flux, ivar, 0.0)[50])


def test_phase_fold_and_lomb_scargle_recover_period(rng):
    t = np.sort(rng.uniform(0, 100, 300))
    period = 2.7
    y = np.sin(2 * np.pi * t / period) + 0.1 * rng.normal(size=t.size)
    ph = compute.phase_fold(t, period)
    assert ph.min() >= 0 and ph.max() < 1 and ph[0] == 0
    freq, power, best = compute.lomb_scargle(t, y, np.full(t.size, 0.1), n_freq=5000)
    assert freq.shape == power.shape == (5000,)
    assert best == pytest.approx(period, rel=0.01)
    bands = np.where(np.arange(t.size) % 2, "g", "r")
    _, _, best_mb = compute.lomb_scargle(t, y + (bands == "g"), np.full(t.size, 0.1), bands, n_freq=3000)
    assert best_mb == pytest.approx(period, rel=0.01)
    with pytest.raises(DataValidationError):
        compute.lomb_scargle(t[:3], y[:3])


def test_embed_pca_is_cached_and_handles_nan(rng):
    compute.clear_embedding_cache()
    lat = rng.normal(size=(300, 6)).astype(np.float32)
    lat[:, 0] *= 10  # dominant direction
    lat[5] = np.nan
    e1 = compute.embed(lat, "pca")
    e2 = compute.embed(lat, "pca")
    assert e1 is e2 and e1.shape == (300, 2)
    assert np.isnan(e1[5]).all() and np.isfinite(np.delete(e1, 5, axis=0)).all()
    assert np.nanvar(e1[:, 0]) > 20 * np.nanvar(e1[:, 1]) / 10
    with pytest.raises(DataValidationError):
        compute.embed(lat, "tsne")


def test_selection_geometry():
    x = np.array([0.0, 1.0, 2.0, np.nan, 0.5])
    y = np.array([0.0, 1.0, 2.0, 0.5, 0.5])
    assert compute.points_in_box(x, y, 1.1, -0.1, -0.1, 1.1).tolist() == [0, 1, 4]
    tri = compute.points_in_polygon(x, y, [-0.1, 1.5, -0.1], [-0.1, -0.1, 1.5])
    assert tri.tolist() == [0, 4]
    assert compute.nearest_point(x, y, 1.9, 2.1) == 2
    assert compute.nearest_point(x, y, 10, 10, max_distance=1.0) is None


def test_rasterize_points_pandas_and_dask(rng):
    import dask.dataframe as dd

    df = pd.DataFrame({"x": rng.normal(size=5000), "y": rng.normal(size=5000)})
    rgba, xr, yr = compute.rasterize_points(df, width=80, height=60)
    assert rgba.shape == (60, 80) and rgba.dtype == np.uint32
    assert (rgba >> 24).max() > 0  # some opaque pixels
    ddf = dd.from_pandas(df, npartitions=3)
    rgba2, xr2, _ = compute.rasterize_points(ddf, width=80, height=60, x_range=xr, y_range=yr)
    assert np.array_equal(rgba2 != 0, rgba != 0)


def test_holoviews_builders_render(rng):
    import holoviews as hv

    from astrolab import viz

    small = viz.scatter_points(rng.normal(size=100), rng.normal(size=100))
    big = viz.scatter_points(rng.normal(size=3000), rng.normal(size=3000), threshold=1000)
    assert isinstance(small, hv.Points) and isinstance(big, hv.RGB)
    z = np.linspace(0, 2, 50)
    p = np.exp(-0.5 * ((z[None] - np.array([[0.5], [1.0]])) / 0.1) ** 2)
    objs = [
        viz.pdf_curves(z, p, [0.5, 1.1]),
        viz.pit_histogram(rng.uniform(size=500), 10, reference=rng.uniform(size=100)),
        viz.coverage_plot([0.5, 0.9], [0.45, 0.88], others={"sel": [0.3, 0.7]}),
        viz.image_cutouts(rng.normal(size=(3, 16, 16)), ["g", "r", "i"], "zscale"),
        viz.rgb_composite(rng.normal(size=(3, 16, 16)), ["g", "r", "i"]),
        viz.spectrum_plot(np.linspace(4000, 8000, 200), rng.normal(size=200) + 5, np.ones(200),
                          {"Hα": 6562.8}, smoothing=2, redshift=0.1),
        viz.lightcurve_plot(np.arange(20.0), rng.normal(size=20), np.ones(20), ["g", "r"] * 10, kind="mag"),
        viz.phase_fold_plot(np.arange(20.0), rng.normal(size=20), 3.0),
        viz.periodogram_plot(np.sort(rng.uniform(0, 50, 80)), rng.normal(size=80), n_freq=200),
        viz.loss_curves(pd.DataFrame({"epoch": [0, 1, 2], "train_loss": [3.0, 2.0, 1.5], "val_loss": [3.1, 2.2, 1.9]})),
    ]
    for obj in objs[:3]:  # rendering is slow; render a few, build all
        assert hv.render(obj, backend="bokeh") is not None
    with pytest.raises(DataValidationError):
        viz.image_cutouts(rng.normal(size=(2, 8, 8)), ["g", "r", "i"])


def test_raster_scatter_switches_on_threshold(rng):
    from bokeh.events import SelectionGeometry

    from astrolab.viz.live import RasterScatter

    x, y = rng.normal(size=2000), rng.normal(size=2000)
    small = RasterScatter(x, y, threshold=5000)
    assert not small.rasterized and len(small.source.data["x"]) == 2000
    big = RasterScatter(x, y, threshold=1000, width=100, height=80)
    assert big.rasterized and big.source.data["image"][0].shape == (80, 100)
    got = []
    big.on_select(got.append)
    big.figure._trigger_event(SelectionGeometry(big.figure, geometry={"type": "rect", "x0": 0, "x1": 5, "y0": 0,
                                                                      "y1": 5}, final=True))
    expected = np.flatnonzero((x >= 0) & (y >= 0))
    assert np.array_equal(got[-1], expected)
    assert len(big.overlay_source.data["x"]) == expected.size
    big.set_range((0, 1), (0, 1))
    assert big.n_renders == 2 and big.source.data["dw"][0] == pytest.approx(1.0)


def test_enable_inline_keeps_holoviews_display_off_the_cdn(rng):
    """holoviews' notebook display (Renderer.components, the same path as an hv object as the last expression
    of a cell) must not link panel's stylesheets from cdn.holoviz.org once enable_inline() ran."""
    import json
    import os

    import holoviews as hv
    import panel as pn

    from astrolab import viz

    viz.enable_inline(notebook=False)
    assert os.environ["BOKEH_RESOURCES"] == "inline" and pn.config.inline
    hist = pd.DataFrame({"epoch": [0, 1, 2], "train_loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 1.5]})
    elements = [viz.scatter_points(rng.normal(size=50), rng.normal(size=50), title="s"),
                viz.pit_histogram(rng.uniform(size=200)), viz.loss_curves(hist)]
    renderer = hv.renderer("bokeh")
    for el in elements:
        data, _ = renderer.components(el)
        text = json.dumps(data)
        assert "cdn.holoviz.org" not in text and "cdn.bokeh.org" not in text, type(el).__name__
    # the hook is what does it: with panel's inline flag off the CDN links come back
    pn.config.inline = False
    try:
        data, _ = renderer.components(elements[0])
        assert "cdn.holoviz.org" in json.dumps(data)
    finally:
        pn.config.inline = True


def test_rasterizer_warm_up_is_idempotent_and_can_be_disabled(monkeypatch):
    from astrolab.viz import compute

    import astrolab.widgets  # noqa: F401 - starts the warm-up

    first = compute.warm_up_rasterizer(block=True)
    assert first is not None and not first.is_alive()
    assert compute.warm_up_rasterizer() is first  # once per process
    monkeypatch.setenv("ASTROLAB_WARMUP", "0")
    assert compute.warm_up_rasterizer() is None
    # the compiled pipeline still rasterises real data correctly afterwards
    import pandas as pd

    frame = pd.DataFrame({"x": [0.1, 0.9], "y": [0.1, 0.9]})
    rgba, xr, yr = compute.rasterize_points(frame, "x", "y", (0, 1), (0, 1), 10, 10)
    assert rgba.shape == (10, 10) and (rgba != 0).sum() == 2 and xr == (0.0, 1.0)


def test_lines_view_legend_gets_one_item_per_line_by_assignment():
    from astrolab.viz.live import LinesView

    view = LinesView(("train_loss",), "loss", "epoch", "value", y_axis_type="log")
    legend = view.figure.legend[0]
    first_items = legend.items
    view.update("val_loss", [1, 2], [3.0, 2.0])
    view.update("train_loss", [1, 2], [4.0, 2.5])  # an existing line: no new legend entry
    assert [item.label.value for item in legend.items] == ["train_loss", "val_loss"]
    assert legend.items is not first_items  # a new list, never appended in place
    assert len(legend.items[1].renderers) == 1 and legend.click_policy == "hide"
    assert list(view.data("val_loss")[1]) == [3.0, 2.0]


def test_image_grid_keeps_room_for_band_labels():
    """The auto range covers glyph anchors only: an invisible point above each label keeps the band
    names inside the figure (they were clipped at the top)."""
    import numpy as np

    from astrolab.viz.live import ImageGridView

    view = ImageGridView()
    view.update([np.zeros((16, 16)), np.zeros((16, 16, 3), dtype=np.uint8)], ["g", "RGB irg"])
    labels = view.label_source.data
    assert labels["text"] == ["g", "RGB irg"]
    assert all(top > y > 16 for top, y in zip(labels["top"], labels["y"]))
    glyph_tops = [r.glyph.y for r in view.figure.renderers if getattr(r.glyph, "y", None) == "top"]
    assert glyph_tops == ["top"], "no renderer extends the range above the labels"
