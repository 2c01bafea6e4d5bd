"""Plot builders of the multi-survey photo-z notebook (Mantis Shrimp; holoviews elements).

- :func:`zphot_density` -- 2-D histogram of the photo-z against the true redshift;
- :func:`multisurvey_cutouts` -- one object's stamps in every survey at native pixel scales;
- :func:`pdfs_with_cutouts` -- example PDFs, each beside the object's nine-band cutouts;
- :func:`ablation_curves` -- band-ablation degradation vs redshift (from
  :class:`astrolab.photoz.images.AblationResult`).

Binned metric curves are :func:`astrolab.viz.photoz_plots.binned_metric_curves`, PIT
histograms :func:`astrolab.viz.calibration_plots.pit_histogram_band`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from astrolab.errors import invalid

__all__ = ["zphot_density", "multisurvey_cutouts", "pdfs_with_cutouts", "ablation_curves"]

_SURVEY_LABEL = {"panstarrs": "PS1", "galex": "GALEX", "wise": "unWISE", "hsc": "HSC", "legacy": "LS", "sdss": "SDSS",
                 "lsst": "LSST"}
_METRIC_LABEL = {"nmad": "σ_NMAD", "outlier_rate": "outlier rate η", "bias": "|bias|", "rms": "RMS of Δz/(1+z)",
                 "crps": "CRPS/(1+z)"}


def _hv():
    from astrolab.viz.plots import _hv as hv_

    return hv_()


def zphot_density(z_true: Any, z_pred: Any, *, bins: int = 60, z_max: float | None = None, eta: float = 0.15,
                  title: str = "Photo-z vs true redshift", width: int = 420, height: int = 380):
    """2-D histogram of photo-z against true redshift, with the 1:1 line and the outlier limits.

    Parameters
    ----------
    z_true, z_pred : array_like, shape (N,)
        True redshifts and point estimates (dimensionless); non-finite pairs are dropped.
    bins : int
        Cells per axis.
    z_max : float, optional
        Upper end of both axes (default: the largest value).
    eta : float
        Outlier limits drawn at z_pred = z_true ± eta (1 + z_true).
    title : str
    width, height : int
        Size [screen pixels].

    Returns
    -------
    holoviews.Overlay
        ``hv.Image`` of log10(1 + objects per cell) and the three lines.
    """
    hv = _hv()
    zt = np.asarray(z_true, float).ravel()
    zp = np.asarray(z_pred, float).ravel()
    if zt.shape != zp.shape or zt.size == 0:
        raise invalid("zphot_density(z_true, z_pred)", f"shapes {zt.shape} and {zp.shape}",
                      "pass one prediction per true redshift (N > 0)")
    ok = np.isfinite(zt) & np.isfinite(zp)
    zt, zp = zt[ok], zp[ok]
    top = float(z_max if z_max is not None else max(zt.max(), zp.max()) * 1.02)
    edges = np.linspace(0.0, top, int(bins) + 1)
    counts, _, _ = np.histogram2d(zt, zp, bins=[edges, edges])
    img = hv.Image((0.5 * (edges[1:] + edges[:-1]), 0.5 * (edges[1:] + edges[:-1]), np.log10(1 + counts.T)),
                   kdims=["true redshift z", "photo-z ẑ (PDF mean)"], vdims=["log10(1 + objects per cell)"])
    g = np.array([0.0, top])
    lines = [hv.Curve((g, g), "true redshift z", "photo-z ẑ (PDF mean)").opts(color="white", line_dash="dashed"),
             hv.Curve((g, g + eta * (1 + g)), "true redshift z", "photo-z ẑ (PDF mean)").opts(color="orange"),
             hv.Curve((g, g - eta * (1 + g)), "true redshift z", "photo-z ẑ (PDF mean)").opts(color="orange")]
    return hv.Overlay([img.opts(cmap="viridis", colorbar=True, tools=["hover"])] + lines).opts(
        title=title, width=width, height=height, xlim=(0, top), ylim=(0, top))


def _survey_stamps(mm, row: int, surveys, bands):
    out = []
    for sv in surveys:
        name = f"images_{sv}"
        if name not in getattr(mm, "modalities", []):
            raise invalid(f"multi-survey data (modality {name!r})", "is missing",
                          f"pass a MultimodalSet with {name} (simulate_multisurvey(..., surveys=(..., {sv!r})))")
        ims = mm[name]
        bl = list(bands.get(sv) or ims.bands)
        for b in bl:
            j = ims.bands.index(b)
            missing = bool(ims.mask[row, j].all())
            out.append((sv, b, ims.images[row, j], ims.pixel_scale, missing))
    return out


def multisurvey_cutouts(mm: Any, row: int, surveys=None, bands: dict | None = None, *, title: str = "",
                        size: int = 110):
    """One object's cutouts in every survey and band, each at its own pixel scale (asinh stretch).

    Parameters
    ----------
    mm : astrolab.data.MultimodalSet
        With ``images_<survey>`` modalities (one stamp per catalog row).
    row : int
        Row of the object.
    surveys : sequence of str, optional
        Surveys, in display order (default GALEX, PanSTARRS, unWISE).
    bands : dict of str -> sequence of str, optional
        Bands per survey (default Mantis Shrimp's nine: FUV, NUV, grizy, W1, W2).
    title : str
        Prefix of the panel titles.
    size : int
        Side of each panel [screen pixels].

    Returns
    -------
    holoviews.Layout
        One grey image per band titled "<survey> <band> (<pixel scale>″/px)"; a
        missing survey shows an empty panel titled "missing".
    """
    from astrolab.photoz.images import MANTIS_BANDS, MANTIS_SURVEYS
    from astrolab.viz import compute

    hv = _hv()
    surveys = list(surveys or MANTIS_SURVEYS)
    bands = dict(MANTIS_BANDS, **(bands or {}))
    elems = []
    for sv, b, img, scale, missing in _survey_stamps(mm, int(row), surveys, bands):
        h, w = img.shape
        s = np.zeros((h, w)) if missing else compute.stretch_image(np.asarray(img, float), "asinh")
        label = f"{title} {_SURVEY_LABEL.get(sv, sv)} {b} ({scale:g}″/px){' missing' if missing else ''}".strip()
        elems.append(hv.Image(s[::-1], bounds=(0, 0, w * scale, h * scale)).opts(
            cmap="gray", xaxis=None, yaxis=None, width=size, height=size, title=label, fontsize={"title": 8}))
    return hv.Layout(elems).cols(len(elems))


def pdfs_with_cutouts(pdf: Any, z_true: Any, mm: Any, rows, *, surveys=None, bands: dict | None = None,
                      labels=None):
    """Example redshift PDFs, each followed by the object's cutouts in every survey.

    Parameters
    ----------
    pdf : astrolab.metrics.RedshiftPDF
        PDFs of the objects of ``mm`` (same order).
    z_true : array_like, shape (N,)
        True redshifts (dashed line).
    mm : astrolab.data.MultimodalSet
        The same N objects with ``images_<survey>`` modalities.
    rows : sequence of int
        Objects to show (a few).
    surveys, bands
        As in :func:`multisurvey_cutouts`.
    labels : sequence of str, optional
        One title per shown object.

    Returns
    -------
    holoviews.Layout
        Per object: p(z) [per unit redshift] with the truth and the PDF mean, then its cutouts.
    """
    hv = _hv()
    zt = np.asarray(z_true, float)
    if len(pdf) != zt.size or len(mm) != zt.size:
        raise invalid("pdfs_with_cutouts", f"{len(pdf)} PDFs, {zt.size} redshifts, {len(mm)} objects",
                      "pass PDFs, truths and the MultimodalSet of the same objects, in the same order")
    rows = [int(r) for r in rows]
    means = np.asarray(pdf.mean(), float)
    items = []
    for k, r in enumerate(rows):
        lab = labels[k] if labels is not None else f"id {np.asarray(mm.ids)[r]}"
        curve = hv.Curve((pdf.z_grid, pdf.pdf[r]), "redshift z", "p(z) [per unit z]").opts(color="navy")
        items.append(hv.Overlay([curve, hv.VLine(float(zt[r])).opts(color="black", line_dash="dashed"),
                                 hv.VLine(float(means[r])).opts(color="orange")]).opts(
            title=f"{lab}: z = {zt[r]:.2f}, ẑ = {means[r]:.2f}", width=260, height=110, fontsize={"title": 9}))
        cut = multisurvey_cutouts(mm, r, surveys, bands, size=110)
        items.extend(list(cut))
    n_per = 1 + (len(items) // max(len(rows), 1) - 1)
    return hv.Layout(items).cols(n_per).opts(shared_axes=False)


def ablation_curves(result: Any, metric: str = "nmad", *, relative: bool = True, title: str = "",
                    width: int = 460, height: int = 300):
    """Degradation of a binned metric vs redshift when surveys are removed (band ablation).

    Parameters
    ----------
    result : astrolab.photoz.images.AblationResult
        From :func:`astrolab.photoz.images.band_ablation` or :func:`~astrolab.photoz.images.ablation_result`.
    metric : {"nmad", "outlier_rate", "bias", "rms", "crps"}
        Binned metric compared with the all-survey reference.
    relative : bool
        True: change in percent of the reference's value; False: absolute difference.
    title : str
    width, height : int
        Size [screen pixels].

    Returns
    -------
    holoviews.Overlay
        One curve with markers per variant against the bin centre (true redshift), a zero line;
        above zero the removed surveys helped in that bin.
    """
    hv = _hv()
    d = result.degradation(metric, relative=relative)
    zc = 0.5 * (np.asarray(d["z_lo"], float) + np.asarray(d["z_hi"], float))
    name = _METRIC_LABEL.get(metric, metric)
    ylab = f"Δ{name} vs all surveys [%]" if relative else f"Δ{name} vs all surveys"
    items = []
    for col in [c for c in d.columns if c not in ("z_lo", "z_hi", "n")]:
        y = np.asarray(d[col], float) * (100.0 if relative else 1.0)
        ok = np.isfinite(y)
        items.append(hv.Curve((zc[ok], y[ok]), "true redshift z", ylab, label=str(col)))
        items.append(hv.Scatter((zc[ok], y[ok]), "true redshift z", ylab, label=str(col)).opts(size=6))
    items.append(hv.HLine(0.0).opts(color="gray", line_dash="dashed"))
    return hv.Overlay(items).opts(title=title or f"Band ablation ({result.mode}): {name}", width=width, height=height,
                                  legend_position="top_left")
