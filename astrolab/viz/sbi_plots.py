"""Holoviews builders for simulation-based inference and the CIGaRS supernova notebook (bokeh backend).

- :func:`corner_plot` -- 1-D and 2-D posterior marginals with the true values;
- :func:`rank_histograms` -- SBC rank histograms with the uniform expectation band;
- :func:`hubble_diagram` -- standardised distance moduli against redshift with the model curve;
- :func:`redshift_histograms` -- redshift distributions of hosts / all SNe / detected SNe;
- :func:`mass_step_plot` -- magnitude offsets against host stellar mass with binned means;
- :func:`photoz_comparison` -- photometric against true redshift with the 1:1 line.

Coverage curves reuse :func:`astrolab.viz.plots.coverage_plot`. Inputs are plain arrays (numbers come
from :mod:`astrolab.metrics.sbi` and :mod:`astrolab.sbi_cigars`); nothing is fitted here.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from astrolab.errors import invalid

__all__ = ["corner_plot", "rank_histograms", "hubble_diagram", "redshift_histograms", "mass_step_plot",
           "photoz_comparison"]


def _hv():
    import holoviews as hv

    from astrolab.viz import enable_inline

    enable_inline()
    return hv


def corner_plot(samples: Any, names: Sequence[str], truths: Any = None, labels: dict | None = None, *,
                bins: int = 30, size: int = 150, max_points: int = 2000, prior_samples: Any = None):
    """Corner plot: histograms on the diagonal, sample clouds below it, truths as lines/markers.

    Parameters
    ----------
    samples : array_like, shape (S, D)
        Posterior draws.
    names : sequence of str, length D
        Parameter names (dimension names of the plot).
    truths : array_like (D,) or dict, optional
        True values, drawn as red lines and crosses.
    labels : dict, optional
        Axis label per name (with units), e.g. :data:`astrolab.sim.supernovae.PARAM_LABELS`.
    bins : int
        Histogram bins.
    size : int
        Panel size [screen pixels].
    max_points : int
        Samples shown in the 2-D panels (a random subset).
    prior_samples : array_like, shape (S', D), optional
        Prior draws, drawn as grey histograms on the diagonal (contraction at a glance).

    Returns
    -------
    holoviews.GridSpace
        D × D grid (empty panels above the diagonal).
    """
    hv = _hv()
    s = np.asarray(samples, float)
    names = list(names)
    if s.ndim != 2 or s.shape[1] != len(names):
        raise invalid("corner_plot(samples)", f"has shape {s.shape} for {len(names)} names",
                      "pass samples (S, D) and D names")
    labels = labels or {}
    if isinstance(truths, dict):
        truths = [truths[n] for n in names]
    tr = None if truths is None else np.asarray(truths, float)
    rng = np.random.default_rng(0)
    sub = s[rng.choice(len(s), min(len(s), max_points), replace=False)]
    lo = np.quantile(s, 0.001, axis=0)
    hi = np.quantile(s, 0.999, axis=0)
    if tr is not None:
        pad = 0.05 * (hi - lo + 1e-12)
        lo, hi = np.minimum(lo, tr - pad), np.maximum(hi, tr + pad)
    grid = {}
    D = len(names)
    for i in range(D):  # row (y)
        for j in range(D):  # column (x)
            xl, yl = labels.get(names[j], names[j]), labels.get(names[i], names[i])
            if i == j:
                edges = np.linspace(lo[j], hi[j], bins + 1)
                counts, _ = np.histogram(s[:, j], edges, density=True)
                elems = [hv.Histogram((edges, counts), kdims=[xl], vdims=["density"]).opts(
                    fill_alpha=0.5, line_alpha=0.2)]
                if prior_samples is not None:
                    pc, _ = np.histogram(np.asarray(prior_samples, float)[:, j], edges, density=True)
                    elems.insert(0, hv.Histogram((edges, pc), kdims=[xl], vdims=["density"]).opts(
                        fill_color="lightgrey", fill_alpha=0.5, line_alpha=0.0))
                if tr is not None:
                    elems.append(hv.VLine(tr[j]).opts(color="red", line_width=1.5))
                panel = hv.Overlay(elems)
            elif i > j:
                elems = [hv.Points((sub[:, j], sub[:, i]), kdims=[xl, yl]).opts(size=1.5, alpha=0.3)]
                if tr is not None:
                    elems.append(hv.Points(([tr[j]], [tr[i]]), kdims=[xl, yl]).opts(color="red", marker="x",
                                                                                    size=10))
                panel = hv.Overlay(elems)
            else:
                panel = hv.Points(([], []), kdims=[xl, yl]).opts(alpha=0)
            grid[(j, D - 1 - i)] = panel.opts(width=size, height=size) if hasattr(panel, "opts") else panel
    layout = []
    for i in range(D):
        for j in range(D):
            el = grid[(j, D - 1 - i)]
            el = el.opts(width=size, height=size, xaxis="bottom" if i == D - 1 else None,
                         yaxis="left" if (j == 0 and i > 0) else None, toolbar=None)
            if i == j:
                el = el.opts(title=labels.get(names[i], names[i]), fontsize={"title": 9})
            layout.append(el)
    return hv.Layout(layout).cols(D).opts(shared_axes=False)


def rank_histograms(ranks: Any, n_samples: int, names: Sequence[str], *, bins: int = 10, labels: dict | None = None,
                    cols: int = 5, width: int = 200, height: int = 160):
    """SBC rank histograms, one per parameter, with the 99 % band of a uniform histogram.

    Parameters
    ----------
    ranks : array_like of int, shape (B, D)
        From :func:`astrolab.metrics.sbi.sbc_ranks`.
    n_samples : int
        Posterior draws S behind each rank (ranks are in 0..S).
    names : sequence of str, length D
    bins : int
        Histogram bins.
    labels : dict, optional
        Title per name.
    cols : int
        Panels per row.
    width, height : int
        Panel size [screen pixels].

    Returns
    -------
    holoviews.Layout
    """
    hv = _hv()
    from scipy.stats import binom

    r = np.asarray(ranks, float)
    if r.ndim != 2 or r.shape[1] != len(names):
        raise invalid("rank_histograms(ranks)", f"has shape {r.shape}", f"pass (B, {len(names)}) ranks")
    B = r.shape[0]
    edges = np.linspace(0, n_samples + 1, bins + 1)
    lo, hi = binom.ppf([0.005, 0.995], B, 1.0 / bins)
    panels = []
    for j, name in enumerate(names):
        counts, _ = np.histogram(r[:, j], edges)
        band = hv.Area((edges[[0, -1]], [lo, lo], [hi, hi]), kdims=["rank"], vdims=["lo", "hi"]).opts(
            color="lightgrey", alpha=0.6, line_alpha=0)
        hist = hv.Histogram((edges, counts), kdims=["rank"], vdims=["simulations"]).opts(fill_alpha=0.7)
        panels.append((band * hist).opts(title=(labels or {}).get(name, name), width=width, height=height,
                                         fontsize={"title": 9}, xlabel="SBC rank", ylabel="simulations"))
    return hv.Layout(panels).cols(cols)


def hubble_diagram(z: Any, mu: Any, mu_err: Any = None, model: tuple | None = None, *, color_by: Any = None,
                   color_label: str = "", title: str = "Hubble diagram", width: int = 520, height: int = 360):
    """Distance modulus against redshift, with an optional model curve.

    Parameters
    ----------
    z : array_like, shape (N,)
        Redshifts (true or photometric).
    mu : array_like, shape (N,)
        Distance moduli [mag] (e.g. :func:`astrolab.sbi_cigars.standardised_distance_modulus`).
    mu_err : array_like, shape (N,), optional
        Errors [mag], drawn as error bars.
    model : (z_grid, mu_grid), optional
        Model curve (e.g. :func:`astrolab.sim.supernovae.distance_modulus` at the truth).
    color_by : array_like, shape (N,), optional
        Point colour (e.g. host log M*).
    color_label : str
        Name of the colour dimension (with units).
    title : str
    width, height : int

    Returns
    -------
    holoviews.Overlay
    """
    hv = _hv()
    z = np.asarray(z, float)
    mu = np.asarray(mu, float)
    vd = ["μ [mag]"] + ([color_label or "colour"] if color_by is not None else [])
    data = (z, mu) + ((np.asarray(color_by, float),) if color_by is not None else ())
    pts = hv.Points(data, kdims=["redshift", "μ [mag]"], vdims=vd[1:]).opts(size=3, alpha=0.7)
    if color_by is not None:
        pts = pts.opts(color=vd[1], cmap="viridis", colorbar=True)
    elems = []
    if mu_err is not None:
        elems.append(hv.ErrorBars((z, mu, np.asarray(mu_err, float)), kdims=["redshift"],
                                  vdims=["μ [mag]", "err"]).opts(alpha=0.3, line_width=0.5))
    elems.append(pts)
    if model is not None:
        elems.append(hv.Curve((np.asarray(model[0], float), np.asarray(model[1], float)), "redshift", "μ [mag]",
                              label="model").opts(color="red"))
    return hv.Overlay(elems).opts(title=title, width=width, height=height, xlabel="redshift z",
                                  ylabel="distance modulus μ [mag]")


def redshift_histograms(samples: dict, *, bins: int = 30, z_max: float | None = None, title: str = "Redshifts",
                        width: int = 520, height: int = 220):
    """Normalised redshift histograms of several populations (step outlines).

    Parameters
    ----------
    samples : dict of str -> array_like
        Population name -> redshifts, e.g. ``{"hosts": ..., "all SNe": ..., "detected SNe": ...}``.
    bins : int
    z_max : float, optional
        Upper edge (default: the largest redshift).
    title : str
    width, height : int

    Returns
    -------
    holoviews.Overlay
    """
    hv = _hv()
    arrays = {k: np.asarray(v, float) for k, v in samples.items()}
    top = z_max if z_max is not None else max(float(np.nanmax(a)) for a in arrays.values() if a.size)
    edges = np.linspace(0.0, top, bins + 1)
    elems = []
    for name, a in arrays.items():
        dens, _ = np.histogram(a, edges, density=True)
        elems.append(hv.Histogram((edges, dens), kdims=["redshift z"], vdims=["density"], label=f"{name} ({a.size})")
                     .opts(fill_alpha=0.15, line_width=2))
    return hv.Overlay(elems).opts(title=title, width=width, height=height, legend_position="top_right",
                                  ylabel="probability density")


def mass_step_plot(log_mstar: Any, values: Any, loc: float = 10.0, *, nbins: int = 10, ylabel: str = "δM [mag]",
                   title: str = "", width: int = 520, height: int = 340, show_points: bool = True):
    """Magnitude offsets against host stellar mass, with binned means and the two-sided means.

    Parameters
    ----------
    log_mstar : array_like, shape (N,)
        Host log10 M* [Msun].
    values : array_like, shape (N,)
        δM or Hubble residuals [mag].
    loc : float
        Mass of the split; the means on either side are drawn as horizontal segments.
    nbins : int
        Mass bins of the binned means (error bars: standard error).
    ylabel, title : str
    width, height : int
    show_points : bool
        Draw the individual objects.

    Returns
    -------
    holoviews.Overlay
    """
    hv = _hv()
    lm = np.asarray(log_mstar, float)
    v = np.asarray(values, float)
    xlab = "host log10 M* [Msun]"
    edges = np.quantile(lm, np.linspace(0, 1, nbins + 1))
    idx = np.clip(np.searchsorted(edges, lm, side="right") - 1, 0, nbins - 1)
    cen, mean, err = [], [], []
    for b in range(nbins):
        sel = idx == b
        if sel.sum() >= 2:
            cen.append(lm[sel].mean())
            mean.append(v[sel].mean())
            err.append(v[sel].std(ddof=1) / np.sqrt(sel.sum()))
    elems = []
    if show_points:
        elems.append(hv.Points((lm, v), kdims=[xlab, ylabel]).opts(size=2, alpha=0.25, color="grey"))
    elems.append(hv.ErrorBars((cen, mean, err), kdims=[xlab], vdims=[ylabel, "err"]).opts(color="black"))
    elems.append(hv.Points((cen, mean), kdims=[xlab, ylabel], label="binned mean").opts(color="black", size=6))
    for side, sel in (("low", lm <= loc), ("high", lm > loc)):
        if sel.any():
            x0, x1 = (lm.min(), loc) if side == "low" else (loc, lm.max())
            elems.append(hv.Curve(([x0, x1], [v[sel].mean()] * 2), xlab, ylabel).opts(color="red", line_width=3))
    elems.append(hv.VLine(loc).opts(color="red", line_dash="dashed", line_width=1))
    return hv.Overlay(elems).opts(title=title, width=width, height=height, show_legend=False)


def photoz_comparison(z_true: Any, z_phot: Any, *, title: str = "Host photo-z", width: int = 400,
                      height: int = 380):
    """Photometric against true redshift with the 1:1 line and the ±0.05(1+z) band.

    Parameters
    ----------
    z_true, z_phot : array_like, shape (N,)
    title : str
    width, height : int

    Returns
    -------
    holoviews.Overlay
    """
    hv = _hv()
    zt = np.asarray(z_true, float)
    zp = np.asarray(z_phot, float)
    top = float(max(zt.max(), zp.max())) * 1.05
    g = np.array([0.0, top])
    return hv.Overlay([
        hv.Area((g, g - 0.05 * (1 + g), g + 0.05 * (1 + g)), kdims=["true z"], vdims=["lo", "hi"]).opts(
            color="lightgrey", alpha=0.5, line_alpha=0),
        hv.Points((zt, zp), kdims=["true z", "photometric z"]).opts(size=2, alpha=0.4),
        hv.Curve((g, g), "true z", "photometric z").opts(color="black", line_dash="dashed"),
    ]).opts(title=title, width=width, height=height, xlabel="true redshift z", ylabel="photometric redshift z_phot")
