"""Calibration figures of redshift PDFs: PIT histogram with its band, PIT-QQ, CRPS, coverage.

Two kinds of builders, as elsewhere in :mod:`astrolab.viz`:

- holoviews builders (static, composable): :func:`pit_histogram_band`,
  :func:`pit_qq_plot`, :func:`crps_histogram`, :func:`coverage_levels_plot`;
- live bokeh views updated in place and *brushable* (a box drag along x
  selects a value range, resolved server-side from the
  :class:`bokeh.events.SelectionGeometry` event, as in
  :class:`astrolab.viz.live.RasterScatter`'s raster mode):
  :class:`BrushHistView`, :class:`BrushLinesView`.

The numbers come from :mod:`astrolab.metrics` (:class:`~astrolab.metrics.pdf.RedshiftPDF`
``pit``/``crps``/``coverage``, :func:`~astrolab.metrics.pdf.pit_ks`,
:func:`~astrolab.metrics.pdf.pit_cvm`, :func:`~astrolab.metrics.pdf.pit_histogram`)
through :func:`calibration_arrays`; nothing here is new science.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from astrolab.errors import invalid
from astrolab.viz.live import PALETTE, SELECTED_COLOR, new_figure

__all__ = ["COVERAGE_LEVELS", "EXPLANATIONS", "calibration_arrays", "pit_band", "qq_points", "coverage_curve",
           "pit_histogram_band", "pit_qq_plot", "crps_histogram", "coverage_levels_plot", "BrushHistView",
           "BrushLinesView"]

#: Nominal credible levels of the coverage curves.
COVERAGE_LEVELS = np.round(np.linspace(0.05, 0.95, 19), 2)

#: One-sentence explanation shown beside each calibration view.
EXPLANATIONS = {
    "pit": ("PIT = CDF of each PDF at the true redshift: calibrated PDFs give a flat histogram inside the grey "
            "band (±2σ for N objects); a U shape means over-confident PDFs, a hump under-confident ones, a slope "
            "a bias."),
    "qq": ("Sorted PIT values against uniform quantiles: a calibrated model follows the diagonal; curves above "
           "it mean truths sit high in their PDFs (predictions too low)."),
    "crps": ("CRPS = ∫(F(z) − 1[z ≥ z_true])² dz, in redshift units: it rewards PDFs both sharp and right, so "
             "the right tail holds the worst-predicted objects."),
    "coverage": ("Fraction of truths inside the central credible interval of each nominal level: on the "
                 "diagonal the intervals mean what they say; below it they are too narrow."),
    "outliers": ("Outliers are objects with |z_point − z_true| > η (1 + z_true): catastrophic failures that "
                 "PIT and CRPS averages can hide."),
    "gof": ("KS (largest CDF gap) and Cramér–von Mises (integrated squared gap) distances of the PIT sample "
            "from U(0, 1); p < 0.05 means the miscalibration is significant for this many objects."),
}


def calibration_arrays(pdf: Any, z_true: Any, *, point: str = "mode", outlier_eta: float = 0.15,
                       levels: Any = COVERAGE_LEVELS) -> dict:
    """Per-object and summary calibration numbers of redshift PDFs (from :mod:`astrolab.metrics`).

    Parameters
    ----------
    pdf : astrolab.metrics.pdf.RedshiftPDF
        N PDFs.
    z_true : array_like, shape (N,)
        True redshifts; NaN entries get NaN per-object values and are left out of summaries.
    point : {"mode", "median", "mean"}
        Point estimate used for the outlier rate.
    outlier_eta : float
        Outlier threshold η (dimensionless).
    levels : array_like, shape (C,)
        Nominal credible levels in (0, 1).

    Returns
    -------
    dict
        ``pit``, ``crps`` [redshift units], ``z_point``, ``required_level`` (|2 PIT − 1|: the smallest
        central credible level whose interval holds the truth), ``outlier`` (bool), all shape (N,);
        ``good`` (finite truth mask); ``levels`` (C,), ``coverage`` (C,); scalars ``outlier_rate``,
        ``ks``, ``ks_p``, ``cvm``, ``cvm_p``, ``mean_crps``, ``n_good``.
    """
    from astrolab.metrics.pdf import pit_cvm, pit_ks

    zt = np.asarray(z_true, dtype=np.float64).ravel()
    n = len(pdf)
    if zt.size != n:
        raise invalid("z_true", f"has {zt.size} values for {n} PDFs", "pass one true redshift per PDF")
    if point not in ("mode", "median", "mean"):
        raise invalid("point", f"unknown point estimate {point!r}", "use mode, median or mean")
    good = np.isfinite(zt)
    gi = np.flatnonzero(good)
    pit = np.full(n, np.nan)
    crps = np.full(n, np.nan)
    if gi.size:
        sub = pdf if gi.size == n else pdf[gi]
        pit[gi] = sub.pit(zt[gi])
        crps[gi] = sub.crps(zt[gi])
    z_point = np.asarray(getattr(pdf, point)(), dtype=np.float64)
    outlier = np.zeros(n, bool)
    outlier[gi] = np.abs(z_point[gi] - zt[gi]) > outlier_eta * (1 + zt[gi])
    levels = np.asarray(levels, dtype=np.float64)
    out = {"pit": pit, "crps": crps, "z_point": z_point, "required_level": np.abs(2 * pit - 1),
           "outlier": outlier, "good": good, "levels": levels, "n_good": int(gi.size),
           "coverage": coverage_curve(pit[gi], levels), "outlier_eta": float(outlier_eta)}
    out["outlier_rate"] = float(outlier[gi].mean()) if gi.size else float("nan")
    out["mean_crps"] = float(np.mean(crps[gi])) if gi.size else float("nan")
    if gi.size:
        ks, cvm = pit_ks(pit[gi]), pit_cvm(pit[gi])
        out.update(ks=ks.statistic, ks_p=ks.pvalue, cvm=cvm.statistic, cvm_p=cvm.pvalue)
    else:
        out.update(ks=float("nan"), ks_p=float("nan"), cvm=float("nan"), cvm_p=float("nan"))
    return out


def coverage_curve(pit: Any, levels: Any = COVERAGE_LEVELS) -> np.ndarray:
    """Fraction of PIT values inside the central interval of each level (as ``RedshiftPDF.coverage``).

    Parameters
    ----------
    pit : array_like, shape (K,)
        PIT values in [0, 1] (NaN dropped).
    levels : array_like, shape (C,)
        Nominal levels.

    Returns
    -------
    numpy.ndarray, shape (C,)
        Observed coverage (NaN for an empty sample).
    """
    p = np.asarray(pit, dtype=np.float64)
    p = p[np.isfinite(p)]
    lv = np.asarray(levels, dtype=np.float64)
    if p.size == 0:
        return np.full(lv.size, np.nan)
    lo, hi = 0.5 * (1 - lv), 0.5 * (1 + lv)
    return np.mean((p[:, None] >= lo[None]) & (p[:, None] <= hi[None]), axis=0)


def pit_band(n: int, bins: int) -> tuple[float, float]:
    """±2σ band of a PIT *density* histogram of ``n`` calibrated objects in ``bins`` bins (binomial)."""
    if n <= 0:
        return (1.0, 1.0)
    p = 1.0 / bins
    sd = np.sqrt(n * p * (1 - p))
    scale = bins / n  # counts -> density
    return (max(0.0, (n * p - 2 * sd) * scale), (n * p + 2 * sd) * scale)


def qq_points(pit: Any, max_points: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniform quantiles, sorted PIT and the order, for a PIT-QQ plot.

    Parameters
    ----------
    pit : array_like, shape (K,)
        PIT values (NaN dropped).
    max_points : int, optional
        Thin the curve to at most this many evenly spaced ranks (for drawing).

    Returns
    -------
    q_uniform, pit_sorted : numpy.ndarray, shape (M,)
    order : numpy.ndarray, shape (M,) int64
        Positions in the finite-PIT sample of each point.
    """
    p = np.asarray(pit, dtype=np.float64)
    p = p[np.isfinite(p)]
    order = np.argsort(p, kind="stable")
    k = p.size
    q = (np.arange(k) + 0.5) / max(k, 1)
    if max_points is not None and k > max_points:
        keep = np.unique(np.linspace(0, k - 1, max_points).round().astype(np.int64))
        return q[keep], p[order][keep], order[keep]
    return q, p[order], order


# ---------------------------------------------------------------------------------- holoviews builders
def _hv():
    from astrolab.viz.plots import _hv as hv_

    return hv_()


def pit_histogram_band(pit: Any, bins: int = 20, *, label: str = "all", reference: Any = None):
    """PIT histogram (density) with the ±2σ band expected for a calibrated model.

    Parameters
    ----------
    pit : array_like, shape (N,)
        PIT values in [0, 1].
    bins : int
        Number of bins.
    label : str
        Legend label.
    reference : array_like, optional
        Second PIT sample drawn as an outline.

    Returns
    -------
    holoviews.Overlay
    """
    hv = _hv()
    p = np.asarray(pit, dtype=np.float64)
    p = p[np.isfinite(p)]
    edges = np.linspace(0, 1, bins + 1)
    dens, _ = np.histogram(p, edges, density=p.size > 0)
    lo, hi = pit_band(p.size, bins)
    elems = [hv.HSpan(lo, hi).opts(color="gray", alpha=0.25),
             hv.Histogram((edges, dens), kdims=["PIT"], vdims=["density"], label=label).opts(alpha=0.5)]
    if reference is not None:
        r = np.asarray(reference, dtype=np.float64)
        r = r[np.isfinite(r)]
        rd, _ = np.histogram(r, edges, density=r.size > 0)
        elems.append(hv.Histogram((edges, rd), kdims=["PIT"], vdims=["density"], label="reference")
                     .opts(fill_alpha=0, line_width=2))
    elems.append(hv.HLine(1.0).opts(color="black", line_dash="dashed"))
    return hv.Overlay(elems).opts(title="PIT histogram", width=400, height=280)


def pit_qq_plot(pit: Any, *, label: str = "all", max_points: int = 2000):
    """PIT-QQ plot: sorted PIT against uniform quantiles, with the diagonal.

    Returns
    -------
    holoviews.Overlay
        x = uniform quantile, y = PIT quantile (both dimensionless).
    """
    hv = _hv()
    q, ps, _ = qq_points(pit, max_points)
    return hv.Overlay([hv.Curve((q, ps), "uniform quantile", "PIT quantile", label=label),
                       hv.Curve(([0, 1], [0, 1]), "uniform quantile", "PIT quantile", label="ideal")
                       .opts(color="black", line_dash="dashed")]).opts(title="PIT-QQ", width=400, height=280)


def crps_histogram(crps: Any, bins: int = 30, *, label: str = "all"):
    """Histogram of per-object CRPS [redshift units]; values above the 99.5th percentile go in the last bin.

    Returns
    -------
    holoviews.Histogram
    """
    hv = _hv()
    c = np.asarray(crps, dtype=np.float64)
    c = c[np.isfinite(c)]
    edges = crps_edges(c, bins)
    dens, _ = np.histogram(np.minimum(c, edges[-1]), edges)
    return hv.Histogram((edges, dens), kdims=["CRPS"], vdims=["objects"], label=label).opts(
        title="CRPS", width=400, height=280, alpha=0.6)


def crps_edges(crps: Any, bins: int = 30) -> np.ndarray:
    """Linear bin edges (B+1,) from 0 to the 99.5th percentile of the finite CRPS values (the tail in the last bin)."""
    c = np.asarray(crps, dtype=np.float64)
    c = c[np.isfinite(c)]
    hi = float(np.percentile(c, 99.5)) if c.size else 1.0
    return np.linspace(0.0, max(hi, 1e-6), bins + 1)


def coverage_levels_plot(levels: Any, observed: Any, *, label: str = "all", others: dict | None = None):
    """Observed vs nominal coverage (see :func:`astrolab.viz.plots.coverage_plot`)."""
    from astrolab.viz.plots import coverage_plot

    return coverage_plot(levels, observed, label=label, others=others)


# --------------------------------------------------------------------------------- live bokeh views
class _RangeBrush:
    """Box select along x on a figure; the final geometry is turned into an x range server-side."""

    def _install_brush(self, fig) -> None:
        from bokeh.events import SelectionGeometry
        from bokeh.models import BoxAnnotation, BoxSelectTool, ColumnDataSource

        self.select_target = ColumnDataSource({"x": [], "y": []})
        target = fig.scatter("x", "y", source=self.select_target, size=0, alpha=0)
        box = BoxSelectTool(renderers=[target], dimensions="width")
        fig.add_tools(box)
        fig.toolbar.active_drag = box
        self.box_select = box
        self._brush_callbacks: list[Callable] = []
        self.brushed: tuple[float, float] | None = None
        # an annotation, not a glyph: it never takes part in the plot's auto-ranging
        self.brush_box = BoxAnnotation(left=0.0, right=0.0, fill_color=SELECTED_COLOR, fill_alpha=0.12,
                                       line_alpha=0, visible=False)
        fig.add_layout(self.brush_box)
        fig.on_event(SelectionGeometry, self._on_geometry)

    def on_brush(self, callback: Callable[[float, float], Any]) -> None:
        """Call ``callback(lo, hi)`` (data units of the x axis) when the user brushes a range."""
        self._brush_callbacks.append(callback)

    def brush(self, lo: float, hi: float) -> None:
        """Brush ``[lo, hi]`` (x data units) as a browser drag would, and emit it."""
        lo, hi = sorted((float(lo), float(hi)))
        self.show_brush(lo, hi)
        for cb in list(self._brush_callbacks):
            cb(lo, hi)

    def show_brush(self, lo: float | None, hi: float | None = None) -> None:
        """Shade ``[lo, hi]`` (or nothing with ``lo=None``) without emitting."""
        if lo is None:
            self.brushed = None
            if self.brush_box.visible:
                self.brush_box.visible = False
        else:
            self.brushed = (float(lo), float(hi))
            self.brush_box.update(left=float(lo), right=float(hi), visible=True)

    def _on_geometry(self, event) -> None:
        if not getattr(event, "final", True):
            return
        g = dict(event.geometry)
        if g.get("type") == "rect" and g.get("x0") is not None and g.get("x1") is not None:
            self.brush(g["x0"], g["x1"])


class BrushHistView(_RangeBrush):
    """Histogram of all objects and of the selection, with an optional reference band; brushable along x.

    Parameters
    ----------
    title, x_label, y_label : str
        Figure labels.
    width, height : int
        Screen pixels.
    band : bool
        Draw a horizontal band (:meth:`set_band`), e.g. the PIT ±2σ band.

    Notes
    -----
    :meth:`update` takes ``name`` ("all" or "selection"), ``edges`` (B+1,) and
    heights (B,). A drag with the box-select tool calls the :meth:`on_brush`
    callbacks with the x range.
    """

    def __init__(self, title="", x_label="", y_label="density", width=320, height=250, band=False):
        from bokeh.models import ColumnDataSource

        self.figure = new_figure(title, x_label, y_label, width, height, tools="pan,wheel_zoom,reset,save")
        self.band = None
        if band:
            self.band = ColumnDataSource({"left": [], "right": [], "bottom": [], "top": []})
            self.figure.quad(left="left", right="right", bottom="bottom", top="top", source=self.band,
                             fill_color="gray", fill_alpha=0.25, line_alpha=0, legend_label="±2σ (uniform)")
        self.sources = {}
        for i, name in enumerate(("all", "selection")):
            src = ColumnDataSource({"left": [], "right": [], "top": []})
            color = PALETTE[0] if i == 0 else SELECTED_COLOR
            self.figure.quad(left="left", right="right", bottom=0, top="top", source=src,
                             fill_alpha=0.35 if i == 0 else 0.0, fill_color=color, line_color=color,
                             line_width=1 if i == 0 else 2.5, legend_label=name)
            self.sources[name] = src
        self.figure.legend.location = "top_right"
        self.figure.legend.background_fill_alpha = 0.6
        self.figure.legend.label_text_font_size = "8pt"
        self.figure.legend.spacing = 0
        self.figure.legend.padding = 4
        self._install_brush(self.figure)

    def update(self, name: str, edges, heights) -> None:
        """Replace histogram ``name``: ``edges`` (B+1,), ``heights`` (B,)."""
        e = np.asarray(edges, dtype=np.float64)
        self.sources[name].data = {"left": e[:-1], "right": e[1:], "top": np.asarray(heights, dtype=np.float64)}

    def set_band(self, x0: float, x1: float, lo: float, hi: float) -> None:
        """Horizontal band from ``lo`` to ``hi`` over ``[x0, x1]``."""
        if self.band is not None:
            self.band.data = {"left": [float(x0)], "right": [float(x1)], "bottom": [float(lo)], "top": [float(hi)]}

    def data(self, name: str):
        """(edges (B+1,), heights (B,)) of histogram ``name``."""
        d = self.sources[name].data
        left = np.asarray(d["left"], float)
        if left.size == 0:
            return np.empty(0), np.empty(0)
        return np.r_[left, np.asarray(d["right"], float)[-1]], np.asarray(d["top"], float)


class BrushLinesView(_RangeBrush):
    """Named lines (QQ, coverage) with a dashed ideal diagonal; brushable along x.

    Parameters
    ----------
    names : sequence of str
        Line names in legend order.
    """

    def __init__(self, names=("all", "selection"), title="", x_label="", y_label="", width=320, height=250):
        from bokeh.models import ColumnDataSource

        self.figure = new_figure(title, x_label, y_label, width, height, tools="pan,wheel_zoom,reset,save")
        self.figure.line([0, 1], [0, 1], color="black", line_dash="dashed", legend_label="ideal")
        self.sources = {}
        colors = [PALETTE[0], SELECTED_COLOR, *PALETTE[2:]]
        for i, name in enumerate(names):
            src = ColumnDataSource({"x": [], "y": []})
            self.figure.line("x", "y", source=src, color=colors[i % len(colors)], line_width=2, legend_label=name)
            self.sources[name] = src
        self.figure.legend.location = "top_left"
        self.figure.legend.background_fill_alpha = 0.6
        self.figure.legend.label_text_font_size = "8pt"
        self.figure.legend.spacing = 0
        self.figure.legend.padding = 4
        self._install_brush(self.figure)

    def update(self, name: str, x, y) -> None:
        """Replace line ``name`` (x, y shape (M,))."""
        self.sources[name].data = {"x": np.asarray(x, dtype=np.float64), "y": np.asarray(y, dtype=np.float64)}

    def data(self, name: str):
        """(x, y) arrays of line ``name``."""
        d = self.sources[name].data
        return np.asarray(d["x"], float), np.asarray(d["y"], float)
