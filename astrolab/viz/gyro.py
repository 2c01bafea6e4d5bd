"""Holoviews builders for gyrochronology (bokeh backend; pure functions, no fitting here).

- :func:`rotation_diagram` -- P_rot-colour scatter of a cluster with flow density contours;
- :func:`age_comparison` -- inferred vs reference cluster ages (1:1 plot with error bars);
- :func:`age_posteriors` -- posterior curves over log age (stars or clusters);
- :func:`systematics_bars` -- shift of each cluster's age between two analysis variants.

Inputs are plain arrays (or an astropy Table for the scatter), so these
functions never import :mod:`astrolab.gyro`; compute densities with
``GyroFlow.density(age_myr)`` and pass them in.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from astrolab.errors import invalid

__all__ = ["rotation_diagram", "age_comparison", "age_posteriors", "systematics_bars"]

_X = "(BP−RP)₀ [mag]"
_Y = "log10 P_rot [d]"


def _hv():
    import holoviews as hv

    from astrolab.viz import enable_inline

    enable_inline()
    return hv


def rotation_diagram(colour: Any, prot_days: Any, membership: Any = None, density: tuple | None = None, *,
                     levels: int = 6, title: str = "", width: int = 450, height: int = 350):
    """P_rot-colour diagram of one cluster with optional flow density contours.

    Parameters
    ----------
    colour : array_like, shape (N,)
        (BP-RP)_0 [mag].
    prot_days : array_like, shape (N,)
        Rotation periods [d] (plotted as log10).
    membership : array_like, shape (N,), optional
        Membership probabilities in [0, 1], used as point colour.
    density : (colour_grid (Nc,), log_period_grid (Np,), density (Np, Nc)), optional
        Flow density p(log10 P | age, colour) per dex, e.g. ``GyroFlow.density(age)``.
    levels : int
        Number of contour levels (spaced between 5 % and 95 % of the peak density).
    title : str
        Plot title.
    width, height : int
        Size [screen pixels].

    Returns
    -------
    holoviews.Overlay
    """
    hv = _hv()
    x = np.asarray(colour, dtype=np.float64)
    p = np.asarray(prot_days, dtype=np.float64)
    if x.shape != p.shape or x.ndim != 1:
        raise invalid("rotation_diagram", f"colour has shape {x.shape} and prot_days {p.shape}",
                      "pass two 1-D arrays of equal length")
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log10(p)
    good = np.isfinite(x) & np.isfinite(y)
    data = {_X: x[good], _Y: y[good]}
    vdims = []
    if membership is not None:
        data["membership"] = np.asarray(membership, dtype=np.float64)[good]
        vdims = ["membership"]
    pts = hv.Points(data, kdims=[_X, _Y], vdims=vdims).opts(
        size=4, alpha=0.6, tools=["hover"], **({"color": "membership", "cmap": "viridis", "colorbar": True,
                                               "clim": (0, 1)} if vdims else {"color": "black"}))
    elems = []
    if density is not None:
        cg, pg, dens = (np.asarray(a, dtype=np.float64) for a in density)
        if dens.shape != (pg.size, cg.size):
            raise invalid("rotation_diagram.density", f"density has shape {dens.shape}, expected "
                          f"({pg.size}, {cg.size})", "pass (colour_grid, log_period_grid, density[Np, Nc])")
        img = hv.Image((cg, pg, dens), kdims=[_X, _Y], vdims=["density [1/dex]"])
        peak = float(np.nanmax(dens)) if dens.size else 1.0
        lv = list(np.linspace(0.05, 0.95, levels) * peak)
        from holoviews.operation import contours

        elems.append(contours(img, levels=lv, filled=False).opts(cmap="Reds", line_width=1.5,
                                                               show_legend=False, colorbar=False))
    elems.append(pts)
    return hv.Overlay(elems).opts(title=title, width=width, height=height, xlabel=_X, ylabel=_Y)


def age_comparison(reference_myr: Any, inferred_myr: Any, lo_myr: Any = None, hi_myr: Any = None,
                   labels: Sequence[str] | None = None, *, title: str = "Cluster ages",
                   xlabel: str = "fiducial age [Myr] (log10)", ylabel: str = "inferred age [Myr] (log10)"):
    """Inferred vs reference cluster ages on log10 axes with error bars and the 1:1 line.

    Parameters
    ----------
    reference_myr, inferred_myr : array_like, shape (K,)
        Reference (fiducial / true) and inferred ages [Myr].
    lo_myr, hi_myr : array_like, shape (K,), optional
        Lower and upper ends of the credible interval [Myr].
    labels : sequence of str, optional
        Cluster names (hover).
    title, xlabel, ylabel : str
        Labels.

    Returns
    -------
    holoviews.Overlay
        Axes are log10(age / Myr).
    """
    hv = _hv()
    ref = np.log10(np.asarray(reference_myr, dtype=np.float64))
    inf = np.log10(np.asarray(inferred_myr, dtype=np.float64))
    if ref.shape != inf.shape:
        raise invalid("age_comparison", f"reference {ref.shape} and inferred {inf.shape} differ",
                      "pass one reference and one inferred age per cluster")
    labels = [str(v) for v in labels] if labels is not None else [str(i) for i in range(ref.size)]
    lo_all = np.nanmin(np.concatenate([ref, inf])) - 0.2 if ref.size else 0.0
    hi_all = np.nanmax(np.concatenate([ref, inf])) + 0.2 if ref.size else 4.0
    elems = [hv.Curve(([lo_all, hi_all], [lo_all, hi_all]), "x", "y").opts(color="grey", line_dash="dashed")]
    if lo_myr is not None and hi_myr is not None:
        lo = inf - np.log10(np.asarray(lo_myr, dtype=np.float64))
        hi = np.log10(np.asarray(hi_myr, dtype=np.float64)) - inf
        elems.append(hv.ErrorBars((ref, inf, lo, hi), kdims=["x"], vdims=["y", "neg", "pos"]))
    elems.append(hv.Points({"x": ref, "y": inf, "cluster": labels}, kdims=["x", "y"], vdims=["cluster"])
                 .opts(size=7, color="navy", tools=["hover"]))
    return hv.Overlay(elems).opts(title=title, xlabel=xlabel, ylabel=ylabel, width=450, height=420)


def age_posteriors(log_age_grid: Any, posteriors: Any, truth_myr: Any = None, labels: Sequence | None = None, *,
                   max_curves: int = 12, title: str = "Age posteriors"):
    """Posterior density curves over log10(age / Myr).

    Parameters
    ----------
    log_age_grid : array_like, shape (G,)
        log10(age / Myr).
    posteriors : array_like, shape (K, G) or (G,)
        Densities per dex of log age.
    truth_myr : float or array_like, shape (K,), optional
        Reference ages [Myr] drawn as dashed vertical lines.
    labels : sequence, optional
        Curve labels.
    max_curves : int
        Draw at most this many curves.
    title : str
        Plot title.

    Returns
    -------
    holoviews.Overlay
    """
    hv = _hv()
    g = np.asarray(log_age_grid, dtype=np.float64)
    p = np.atleast_2d(np.asarray(posteriors, dtype=np.float64))
    if p.shape[-1] != g.size:
        raise invalid("age_posteriors.posteriors", f"shape {p.shape} does not match the grid ({g.size},)",
                      "pass (K, G) densities on log_age_grid")
    k = min(p.shape[0], max_curves)
    labels = [str(v) for v in labels] if labels is not None else [str(i) for i in range(p.shape[0])]
    xl, yl = "log10 age [Myr]", "posterior density [1/dex]"
    elems = [hv.Curve((g, p[i]), xl, yl, label=labels[i]) for i in range(k)]
    if truth_myr is not None:
        for v in np.atleast_1d(np.asarray(truth_myr, dtype=np.float64))[:k]:
            if np.isfinite(v):
                elems.append(hv.VLine(float(np.log10(v))).opts(line_dash="dashed", color="black", line_width=1))
    if not elems:
        elems = [hv.Curve(([], []), xl, yl)]
    return hv.Overlay(elems).opts(title=title, width=500, height=320, show_legend=k <= 12,
                                  legend_position="right", xlabel=xl, ylabel=yl)


def systematics_bars(labels: Sequence[str], shift_dex: Any, *, title: str = "Age shift between variants",
                     ylabel: str = "Δ log10 age [dex]"):
    """Bar chart of per-cluster age shifts (variant minus baseline) in dex.

    Parameters
    ----------
    labels : sequence of str, length K
        Cluster names.
    shift_dex : array_like, shape (K,)
        log10(age_variant / age_baseline) [dex].
    title, ylabel : str
        Labels.

    Returns
    -------
    holoviews.Bars
    """
    hv = _hv()
    s = np.asarray(shift_dex, dtype=np.float64)
    if len(labels) != s.size:
        raise invalid("systematics_bars", f"{len(labels)} labels for {s.size} shifts", "pass one label per shift")
    return hv.Bars({"cluster": [str(v) for v in labels], "shift": s}, kdims=["cluster"], vdims=["shift"]).opts(
        title=title, ylabel=ylabel, xlabel="cluster", width=500, height=300, xrotation=45, tools=["hover"])
