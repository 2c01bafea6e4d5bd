"""Photo-z plot builders for the photo-z family notebooks (holoviews elements)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["binned_metric_curves"]

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
