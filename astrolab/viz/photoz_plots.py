"""Photo-z plot builders for the photo-z family notebooks (holoviews elements)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["binned_metric_curves", "requirement_band", "source_colour_colour", "improvement_bars"]

_LABELS = {"bias": "bias ⟨Δz/(1+z)⟩", "nmad": "σ_NMAD", "outlier_rate": "outlier rate η (|Δz|/(1+z) > 0.15)",
           "rms": "RMS of Δz/(1+z)"}


def binned_metric_curves(tables: dict, metric: str = "bias", *, title: str = "", width: int = 420,
                         height: int = 300) -> Any:
    """Overlay one metric vs redshift for several models.

    Parameters
    ----------
    tables : dict of str -> pandas.DataFrame
        Model name -> output of :func:`astrolab.metrics.binned_photoz_metrics`
        (columns ``z_lo``, ``z_hi`` and the metric).
    metric : {"bias", "nmad", "outlier_rate", "rms"}
        Column to plot against the bin centre (dimensionless redshift).
    title : str
    width, height : int
        Plot size [screen pixels].

    Returns
    -------
    holoviews.Overlay
        One curve with markers per model; a zero line for ``bias``.
    """
    from astrolab.errors import invalid
    from astrolab.viz.plots import _hv

    hv = _hv()  # loads the bokeh extension (offline BokehJS)

    if not tables:
        raise invalid("binned_metric_curves(tables=...)", "is empty", "pass {model name: binned metrics table}")
    items = []
    for name, df in tables.items():
        if metric not in df.columns:
            raise invalid(f"binned_metric_curves table {name!r}", f"has no column {metric!r}",
                          "pass tables from astrolab.metrics.binned_photoz_metrics")
        zc = 0.5 * (np.asarray(df["z_lo"], float) + np.asarray(df["z_hi"], float))
        y = np.asarray(df[metric], float)
        ok = np.isfinite(y)
        items.append(hv.Curve((zc[ok], y[ok]), "true redshift", _LABELS.get(metric, metric), label=str(name)))
        items.append(hv.Scatter((zc[ok], y[ok]), "true redshift", _LABELS.get(metric, metric), label=str(name)).opts(size=6))
    if metric == "bias":
        items.append(hv.HLine(0.0).opts(color="gray", line_dash="dashed"))
    return hv.Overlay(items).opts(title=title or f"{metric} vs redshift", width=width, height=height,
                                  legend_position="top_left")


# -- TransferZ (notebook 02): label-source coverage, requirement bands, improvement factors -----------------------

def requirement_band(metric: str, limit: float, *, label: str = "requirement"):
    """Shaded band of values meeting a requirement, to overlay on :func:`binned_metric_curves`.

    Parameters
    ----------
    metric : {"bias", "nmad", "outlier_rate", "rms"}
        ``bias`` shades ``|bias| < limit``; the others ``0 <= value < limit``.
    limit : float
        Requirement (dimensionless, e.g. :data:`astrolab.photoz.transfer.LSST_REQUIREMENTS`).
    label : str

    Returns
    -------
    holoviews.HSpan
    """
    from astrolab.viz.plots import _hv

    hv = _hv()
    lo = -float(limit) if metric == "bias" else 0.0
    return hv.HSpan(lo, float(limit), label=label).opts(color="green", alpha=0.12)


def source_colour_colour(tables: dict, x=("g", "r"), y=("r", "i"), *, max_points: int = 3000, seed: int = 0,
                         title: str = "Colour–colour coverage", width: int = 460, height: int = 380):
    """Colour–colour diagram of several samples (e.g. label sources A and B), one colour per sample.

    Parameters
    ----------
    tables : dict of str -> astropy.table.Table
        Sample name -> catalog with the band columns (AB mag; NaN = non-detection, dropped).
    x, y : (str, str)
        Band pairs of the two colours, e.g. ``("g", "r")`` for g − r [mag].
    max_points : int
        At most this many random objects per sample are drawn.
    seed : int
        Seed of that subsampling.
    title : str
    width, height : int
        Plot size [screen pixels].

    Returns
    -------
    holoviews.Overlay
    """
    from astrolab.errors import invalid
    from astrolab.viz.plots import _hv

    hv = _hv()
    xl, yl = f"{x[0]} − {x[1]} [mag]", f"{y[0]} − {y[1]} [mag]"
    rng = np.random.default_rng(seed)
    elems = []
    for name, tab in tables.items():
        missing = [b for b in (*x, *y) if b not in tab.colnames]
        if missing:
            raise invalid(f"source_colour_colour table {name!r}", f"has no band column(s) {missing}",
                          "pass catalogs with those magnitude columns or choose other bands")
        cx = np.asarray(tab[x[0]], float) - np.asarray(tab[x[1]], float)
        cy = np.asarray(tab[y[0]], float) - np.asarray(tab[y[1]], float)
        ok = np.flatnonzero(np.isfinite(cx) & np.isfinite(cy))
        ok = rng.choice(ok, min(ok.size, int(max_points)), replace=False) if ok.size else ok
        elems.append(hv.Points((cx[ok], cy[ok]), kdims=[xl, yl], label=f"{name} ({len(tab)})")
                     .opts(size=3, alpha=0.35))
    return hv.Overlay(elems).opts(title=title, width=width, height=height, legend_position="top_left")


def improvement_bars(factors: dict, *, title: str = "Improvement over the baseline (baseline / model)",
                     width: int = 720, height: int = 340):
    """Grouped bars of improvement factors per test set and metric, with the no-change line at 1.

    Parameters
    ----------
    factors : dict of str -> pandas.DataFrame
        Test-set name -> output of :func:`astrolab.photoz.transfer.improvement_factors`
        (rows: models, columns: metrics; values baseline / model, dimensionless).

    Returns
    -------
    holoviews.Overlay
        Bars (x: "test set: metric", grouped by model; > 1 means better than the
        baseline) and a dashed line at 1.
    """
    from astrolab.errors import invalid
    from astrolab.viz.plots import _hv

    hv = _hv()
    rows = []
    for test_name, df in factors.items():
        for model in df.index:
            for metric in df.columns:
                v = float(df.loc[model, metric])
                if np.isfinite(v):
                    rows.append((f"{test_name}: {metric}", str(model), v))
    if not rows:
        raise invalid("improvement_bars(factors=...)", "holds no finite factor",
                      "pass {test set: improvement_factors(...)}")
    bars = hv.Bars(rows, kdims=["test set: metric", "model"], vdims=["baseline / model"]).opts(
        tools=["hover"], xrotation=30, multi_level=False, color="model", cmap="Category10", show_legend=True)
    return (bars * hv.HLine(1.0).opts(color="black", line_dash="dashed")).opts(
        title=title, width=width, height=height, legend_position="top_right")
