"""One table comparing photo-z methods: point metrics and, for PDFs, calibration."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from astrolab.errors import invalid

__all__ = ["compare_photoz"]


def compare_photoz(predictions: Mapping[str, Any], z_true: Any, threshold: float = 0.15,
                   point: str = "median") -> pd.DataFrame:
    """Compare photo-z methods on the same objects, one row per method.

    Parameters
    ----------
    predictions : dict of str -> RedshiftPDF or array_like (N,)
        Each method's PDFs (:class:`~astrolab.metrics.pdf.RedshiftPDF`, one per
        object) or point redshifts.
    z_true : array_like, shape (N,)
        True redshifts.
    threshold : float
        Outlier cut on ``|Δz|/(1+z)``.
    point : {"median", "mode", "mean"}
        Point estimate taken from a PDF.

    Returns
    -------
    pandas.DataFrame
        Index: method names. Columns: ``n``, ``bias``, ``bias_median``, ``nmad``,
        ``outlier_rate``, ``rms``, ``hsc_loss`` (dimensionless, on Δz/(1+z));
        for PDFs also ``pit_ks`` and ``pit_cvm`` (distances of the PIT from
        uniform), ``crps`` (mean, redshift units) and ``coverage_68`` /
        ``coverage_95`` (fraction of truths inside the central intervals); NaN
        for point-only methods.
    """
    from astrolab.metrics.pdf import RedshiftPDF, pit_cvm, pit_ks
    from astrolab.metrics.photoz import photoz_summary

    z_true = np.asarray(z_true, dtype=np.float64)
    if not len(predictions):
        raise invalid("compare_photoz(predictions=...)", "no methods given", "pass {'name': pdf_or_z, ...}")
    rows = {}
    for name, pred in predictions.items():
        if isinstance(pred, RedshiftPDF):
            if len(pred) != z_true.size:
                raise invalid(f"compare_photoz method {name!r}", f"{len(pred)} PDFs for {z_true.size} truths",
                              "predict on the same objects as z_true")
            z_hat = np.asarray(pred.point_estimate(point))
        else:
            z_hat = np.asarray(pred, dtype=np.float64)
            if z_hat.shape != z_true.shape:
                raise invalid(f"compare_photoz method {name!r}", f"shape {z_hat.shape} vs z_true {z_true.shape}",
                              "give one prediction per object")
        row = photoz_summary(z_hat, z_true, threshold=threshold)
        row.update(pit_ks=np.nan, pit_cvm=np.nan, crps=np.nan, coverage_68=np.nan, coverage_95=np.nan)
        if isinstance(pred, RedshiftPDF):
            pit = pred.pit(z_true)
            cov = pred.coverage(z_true, (0.68, 0.95))
            row.update(pit_ks=pit_ks(pit).statistic, pit_cvm=pit_cvm(pit).statistic,
                       crps=float(np.mean(pred.crps(z_true))), coverage_68=cov[0.68], coverage_95=cov[0.95])
        rows[str(name)] = row
    return pd.DataFrame(rows).T.astype({"n": int})
