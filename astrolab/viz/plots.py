"""Holoviews builders: arrays in, holoviews elements out (bokeh backend).

These are the static, composable figures of astrolab (``hv.render(obj,
backend="bokeh")`` gives a bokeh model, ``hv.save`` an HTML/PNG). The panels use
the in-place updatable figures of :mod:`astrolab.viz.live` for linked views,
and the same science helpers from :mod:`astrolab.viz.compute`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from astrolab.errors import invalid
from astrolab.viz import compute

__all__ = [
    "DATASHADE_THRESHOLD",
    "scatter_points",
    "pdf_curves",
    "pit_histogram",
    "coverage_plot",
    "image_cutouts",
    "rgb_composite",
    "spectrum_plot",
    "lightcurve_plot",
    "phase_fold_plot",
    "periodogram_plot",
    "loss_curves",
]

#: Point count above which scatter plots are rasterised with datashader.
DATASHADE_THRESHOLD = 50_000


def _hv():
    import holoviews as hv

    from astrolab.viz import enable_inline

    enable_inline()
    return hv


def scatter_points(x: Any, y: Any, color_by: Any = None, *, threshold: int = DATASHADE_THRESHOLD,
                   x_label: str = "x", y_label: str = "y", title: str = "", width: int = 500,
                   height: int = 400, dynamic: bool = False):
    """Scatter plot, rasterised with datashader above ``threshold`` points.

    Parameters
    ----------
    x, y : array_like, shape (N,), or column names when ``color_by`` ... see below
        Coordinates (data units). Non-finite points are dropped.
    color_by : array_like, shape (N,), optional
        Values used for colour (numeric or categorical).
    threshold : int
        Above this many points the result is an ``hv.RGB`` image made by
        :func:`astrolab.viz.compute.rasterize_points` (or, with ``dynamic=True``,
        ``holoviews.operation.datashader.rasterize`` for a live bokeh server / panel).
    x_label, y_label, title : str
        Labels.
    width, height : int
        Size in screen pixels.
    dynamic : bool
        Use holoviews' dynamic datashading instead of a static raster.

    Returns
    -------
    holoviews.Points or holoviews.RGB or holoviews.DynamicMap
    """
    hv = _hv()
    import pandas as pd

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise invalid("scatter_points", f"x has shape {x.shape} and y {y.shape}", "pass two 1-D arrays of equal length")
    good = compute.finite_xy(x, y)
    cols = {x_label: x[good], y_label: y[good]}
    vdims = []
    if color_by is not None:
        c = np.asarray(color_by)[good]
        cols["color"] = c
        vdims = ["color"]
    frame = pd.DataFrame(cols)
    opts = dict(width=width, height=height, title=title)
    if good.sum() <= threshold:
        pts = hv.Points(frame, kdims=[x_label, y_label], vdims=vdims)
        extra = {"color": "color", "cmap": "viridis"} if vdims else {}
        return pts.opts(tools=["box_select", "lasso_select", "tap", "hover"], size=4, alpha=0.6, **extra, **opts)
    if dynamic:
        from holoviews.operation.datashader import rasterize

        return rasterize(hv.Points(frame, kdims=[x_label, y_label], vdims=vdims)).opts(**opts)
    rgba, xr, yr = compute.rasterize_points(frame, x_label, y_label, width=width, height=height,
                                            color_by="color" if vdims else None)
    rgb = rgba.view(np.uint8).reshape(rgba.shape + (4,))
    return hv.RGB(rgb[::-1], bounds=(xr[0], yr[0], xr[1], yr[1]), kdims=[x_label, y_label]).opts(**opts)


def pdf_curves(z_grid: Any, pdfs: Any, z_true: Any = None, labels: Sequence | None = None, *,
               max_curves: int = 20, title: str = "p(z)"):
    """Redshift PDFs with their true redshifts.

    Parameters
    ----------
    z_grid : array_like, shape (G,)
        Redshift grid (dimensionless).
    pdfs : array_like, shape (K, G)
        Probability densities on ``z_grid`` (per unit redshift).
    z_true : array_like, shape (K,), optional
        True redshifts, drawn as dashed vertical lines.
    labels : sequence, optional
        Object ids for the legend/hover.
    max_curves : int
        Only the first ``max_curves`` curves are drawn.

    Returns
    -------
    holoviews.Overlay
    """
    hv = _hv()
    z = np.asarray(z_grid, dtype=np.float64)
    p = np.atleast_2d(np.asarray(pdfs, dtype=np.float64))
    if p.shape[-1] != z.size:
        raise invalid("pdf_curves.pdfs", f"shape {p.shape} does not match z_grid ({z.size},)", "pass (K, G) PDFs")
    k = min(p.shape[0], max_curves)
    labels = list(labels) if labels is not None else list(range(p.shape[0]))
    elems = [hv.Curve((z, p[i]), "z", "p(z)", label=str(labels[i])) for i in range(k)]
    if z_true is not None:
        zt = np.asarray(z_true, dtype=np.float64)[:k]
        elems += [hv.VLine(float(v)).opts(line_dash="dashed", color="black", line_width=1)
                  for v in zt if np.isfinite(v)]
    if not elems:
        elems = [hv.Curve(([], []), "z", "p(z)")]
    return hv.Overlay(elems).opts(title=title, width=450, height=300, show_legend=k <= 10)


def pit_histogram(pit: Any, bins: int = 20, *, label: str = "all", reference: Any = None):
    """Histogram of probability integral transform values, with the uniform line.

    Parameters
    ----------
    pit : array_like, shape (N,)
        PIT values in [0, 1] (from :meth:`astrolab.metrics.pdf.RedshiftPDF.pit`).
    bins : int
        Number of bins.
    label : str
        Legend label.
    reference : array_like, shape (M,), optional
        Second PIT sample (e.g. all objects) drawn as an outline.

    Returns
    -------
    holoviews.Overlay
    """
    hv = _hv()
    pit = np.asarray(pit, dtype=np.float64)
    pit = pit[np.isfinite(pit)]
    edges = np.linspace(0, 1, bins + 1)
    dens, _ = np.histogram(pit, edges, density=pit.size > 0)
    elems = [hv.Histogram((edges, dens), kdims=["PIT"], vdims=["density"], label=label).opts(alpha=0.5)]
    if reference is not None:
        ref = np.asarray(reference, dtype=np.float64)
        ref = ref[np.isfinite(ref)]
        rd, _ = np.histogram(ref, edges, density=ref.size > 0)
        elems.append(hv.Histogram((edges, rd), kdims=["PIT"], vdims=["density"], label="reference").opts(fill_alpha=0,
                                                                                          line_width=2))
    elems.append(hv.HLine(1.0).opts(color="black", line_dash="dashed"))
    return hv.Overlay(elems).opts(title="PIT", width=400, height=280)


def coverage_plot(levels: Any, observed: Any, *, label: str = "all", others: dict | None = None):
    """Observed vs nominal coverage of credible intervals.

    Parameters
    ----------
    levels : array_like, shape (C,)
        Nominal credibility levels in (0, 1).
    observed : array_like, shape (C,)
        Fraction of objects whose truth lies in the interval (from
        :meth:`astrolab.metrics.pdf.RedshiftPDF.coverage`).
    label : str
        Legend label.
    others : dict of str -> array_like (C,), optional
        More observed curves (e.g. ``{"selection": cov_sel}``).

    Returns
    -------
    holoviews.Overlay
    """
    hv = _hv()
    lv = np.asarray(levels, dtype=np.float64)
    elems = [hv.Curve((lv, np.asarray(observed, float)), "nominal", "observed", label=label)]
    for name, obs in (others or {}).items():
        elems.append(hv.Curve((lv, np.asarray(obs, float)), "nominal", "observed", label=name))
    elems.append(hv.Curve(([0, 1], [0, 1]), "nominal", "observed", label="ideal").opts(line_dash="dashed",
                                                                                        color="black"))
    return hv.Overlay(elems).opts(title="coverage", width=400, height=280)


def image_cutouts(images: Any, bands: Sequence[str], stretch: str = "asinh", *, title: str = ""):
    """One stretched grey image per band, laid out in a row.

    Parameters
    ----------
    images : array_like, shape (B, H, W)
        Cutouts of one object (flux units); NaN pixels are allowed.
    bands : sequence of str, length B
        Band names.
    stretch : {"linear", "asinh", "zscale"}
        See :func:`astrolab.viz.compute.stretch_image`.

    Returns
    -------
    holoviews.Layout
    """
    hv = _hv()
    cube = np.asarray(images, dtype=np.float64)
    if cube.ndim != 3 or cube.shape[0] != len(bands):
        raise invalid("image_cutouts.images", f"shape {cube.shape} does not match {len(bands)} bands",
                      "pass (B, H, W) cutouts and one band name per plane")
    elems = []
    for b, img in zip(bands, cube):
        s = compute.stretch_image(img, stretch)
        h, w = s.shape
        elems.append(hv.Image(s[::-1], bounds=(0, 0, w, h), label=str(b)).opts(
            cmap="gray", xaxis=None, yaxis=None, width=150, height=150, title=f"{title} {b}".strip()))
    return hv.Layout(elems).cols(len(elems) or 1)


def rgb_composite(images: Any, bands: Sequence[str] | None = None, rgb_bands: Sequence[str] | None = None,
                  stretch: str = "asinh"):
    """RGB composite of three bands.

    Parameters
    ----------
    images : array_like, shape (B, H, W)
        Cutouts of one object, B >= 3.
    bands : sequence of str, length B, optional
        Band names, blue to red order as stored.
    rgb_bands : sequence of 3 str, optional
        Bands for red, green, blue; default the three reddest (last three, reversed).
    stretch : {"linear", "asinh", "zscale"}
        Common stretch.

    Returns
    -------
    holoviews.RGB
    """
    hv = _hv()
    cube = np.asarray(images, dtype=np.float64)
    bands = list(bands) if bands is not None else [str(i) for i in range(cube.shape[0])]
    planes = _rgb_planes(cube, bands, rgb_bands)
    rgb = compute.rgb_image(planes, stretch)
    h, w = rgb.shape[:2]
    return hv.RGB(rgb[::-1], bounds=(0, 0, w, h)).opts(xaxis=None, yaxis=None, width=150, height=150, title="RGB")


def _rgb_planes(cube, bands, rgb_bands=None):
    if cube.ndim != 3 or cube.shape[0] < 3:
        raise invalid("rgb_composite.images", f"shape {cube.shape} has fewer than 3 bands",
                      "pass (B, H, W) cutouts with B >= 3")
    if rgb_bands is None:
        idx = [cube.shape[0] - 1, cube.shape[0] - 2, cube.shape[0] - 3]
    else:
        try:
            idx = [list(bands).index(b) for b in rgb_bands]
        except ValueError as exc:
            raise invalid("rgb_composite.rgb_bands", str(exc), f"choose among {list(bands)}") from exc
    return cube[idx]


def spectrum_plot(wave: Any, flux: Any, ivar: Any = None, lines: dict | None = None, smoothing: float = 0.0,
                  redshift: float | None = None):
    """Spectrum with optional smoothing and emission/absorption line markers.

    Parameters
    ----------
    wave : array_like, shape (L,)
        Observed wavelength (Å).
    flux : array_like, shape (L,)
        Flux density (any unit).
    ivar : array_like, shape (L,), optional
        Inverse variance (for weighting the smoothing; also drawn as a 1-sigma band).
    lines : dict of str -> float, optional
        Rest-frame wavelengths (Å) of lines to mark; shifted by ``(1 + redshift)``.
    smoothing : float
        Gaussian sigma (pixels), see :func:`astrolab.viz.compute.smooth_spectrum`.
    redshift : float, optional
        Redshift of the object for the line markers.

    Returns
    -------
    holoviews.Overlay
    """
    hv = _hv()
    w = np.asarray(wave, dtype=np.float64)
    f = compute.smooth_spectrum(flux, ivar, smoothing)
    elems = []
    if ivar is not None:
        iv = np.asarray(ivar, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            sig = np.where(iv > 0, 1 / np.sqrt(iv), np.nan)
        elems.append(hv.Area((w, f - sig, f + sig), "wavelength", ["flux", "flux2"]).opts(alpha=0.2))
    elems.append(hv.Curve((w, f), "wavelength", "flux", label="flux"))
    for name, rest in (lines or {}).items():
        obs = rest * (1 + (redshift or 0.0))
        if w.size and w.min() <= obs <= w.max():
            elems.append(hv.VLine(obs).opts(color="gray", line_dash="dotted"))
            elems.append(hv.Text(obs, np.nanmax(f) if np.isfinite(f).any() else 1.0, name).opts(text_font_size="8pt"))
    return hv.Overlay(elems).opts(width=600, height=280, title="spectrum", xlabel="wavelength (Å)")


def lightcurve_plot(t: Any, y: Any, err: Any = None, band: Any = None, kind: str = "flux"):
    """Multi-band light curve with error bars.

    Parameters
    ----------
    t : array_like, shape (M,)
        Times (MJD, days).
    y : array_like, shape (M,)
        Flux or magnitude.
    err : array_like, shape (M,), optional
        1-sigma errors.
    band : array_like of str, shape (M,), optional
        Band of each point.
    kind : {"flux", "mag"}
        Magnitudes are drawn with the y axis inverted.

    Returns
    -------
    holoviews.Overlay
    """
    return _error_points(t, y, err, band, "MJD", kind, "light curve")


def phase_fold_plot(t: Any, y: Any, period: float, err: Any = None, band: Any = None, kind: str = "flux",
                    t0: float | None = None):
    """Phase-folded light curve (two cycles shown).

    Parameters
    ----------
    t, y, err, band, kind
        As in :func:`lightcurve_plot`.
    period : float
        Folding period (days).
    t0 : float, optional
        Epoch of phase 0 (days).

    Returns
    -------
    holoviews.Overlay
    """
    ph = compute.phase_fold(t, period, t0)
    y = np.asarray(y, float)
    err = None if err is None else np.asarray(err, float)
    band = None if band is None else np.asarray(band)
    return _error_points(np.r_[ph, ph + 1], np.r_[y, y], None if err is None else np.r_[err, err],
                         None if band is None else np.r_[band, band], "phase", kind, f"P = {period:.5g} d")


def _error_points(x, y, err, band, xlabel, kind, title):
    hv = _hv()
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    e = np.zeros_like(y) if err is None else np.asarray(err, float)
    b = np.full(x.shape, "all") if band is None else np.asarray(band).astype(str)
    elems = []
    for name in sorted(set(b.tolist())):
        m = b == name
        elems.append(hv.ErrorBars((x[m], y[m], e[m]), xlabel, ["value", "err"]))
        elems.append(hv.Scatter((x[m], y[m]), xlabel, "value", label=name).opts(size=5))
    if not elems:
        elems = [hv.Scatter(([], []), xlabel, "value")]
    return hv.Overlay(elems).opts(width=600, height=280, title=title, invert_yaxis=(kind == "mag"))


def periodogram_plot(t: Any, y: Any, err: Any = None, band: Any = None, **kwargs):
    """Lomb-Scargle periodogram (power vs period, days) from :func:`astrolab.viz.compute.lomb_scargle`.

    Parameters
    ----------
    t, y, err, band
        As in :func:`lightcurve_plot`.
    **kwargs
        ``min_period``, ``max_period``, ``n_freq``.

    Returns
    -------
    holoviews.Overlay
        The curve and a line at the best period.
    """
    hv = _hv()
    freq, power, best = compute.lomb_scargle(t, y, err, band, **kwargs)
    return hv.Overlay([hv.Curve((1 / freq, power), "period", "power"), hv.VLine(best).opts(color="red")]).opts(
        logx=True, width=450, height=250, title=f"best P = {best:.5g} d")


def loss_curves(history_frame: Any, metrics: Sequence[str] | None = None, logy: bool = True):
    """Training curves from a metrics history frame.

    Parameters
    ----------
    history_frame : pandas.DataFrame
        One row per epoch, column ``epoch`` plus loss/metric columns
        (``MetricsHistory.frame``).
    metrics : sequence of str, optional
        Columns to draw; default every numeric column but ``epoch``.
    logy : bool
        Log y axis.

    Returns
    -------
    holoviews.Overlay
    """
    hv = _hv()
    df = history_frame
    cols = list(metrics) if metrics else [c for c in df.columns if c != "epoch" and df[c].dtype.kind in "fi"]
    x = df["epoch"].to_numpy() if "epoch" in df.columns else np.arange(len(df))
    elems = [hv.Curve((x, df[c].to_numpy()), "epoch", "value", label=c) for c in cols]
    if not elems:
        elems = [hv.Curve(([], []), "epoch", "value")]
    return hv.Overlay(elems).opts(logy=logy, width=450, height=280, title="training")
