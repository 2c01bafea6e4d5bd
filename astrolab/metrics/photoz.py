"""Point photometric-redshift metrics (papers.md section 0).

All functions take predicted and true redshifts as 1-D arrays of equal length
N and work on the normalised residual ``dz = (z_pred − z_true)/(1 + z_true)``
(dimensionless). torch is imported only inside :func:`hsc_loss_torch`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from astrolab.errors import invalid

__all__ = [
    "delta_z",
    "bias",
    "nmad",
    "outlier_rate",
    "rms",
    "hsc_loss",
    "hsc_loss_torch",
    "photoz_summary",
    "binned_photoz_metrics",
    "mean_abs_binned_bias",
]

NMAD_SCALE = 1.4826


def _as_1d(x: ArrayLike, name: str, allow_empty: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise invalid(name, f"cannot be converted to a float array ({exc})",
                      "pass a 1-D array of numbers") from None
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise invalid(name, f"has shape {arr.shape}, expected a 1-D array (N,)", "pass a 1-D array (use .ravel())")
    if arr.size == 0 and not allow_empty:
        raise invalid(name, "is empty", "pass at least one object")
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr))
        raise invalid(name, f"contains {bad.size} non-finite value(s) (NaN/inf) at indices {bad[:10].tolist()}",
                      "drop those objects (e.g. mask = np.isfinite(z_pred) & np.isfinite(z_true))")
    return arr


def _pair(z_pred: ArrayLike, z_true: ArrayLike, allow_empty: bool = False) -> tuple[np.ndarray, np.ndarray]:
    zp = _as_1d(z_pred, "z_pred", allow_empty)
    zt = _as_1d(z_true, "z_true", allow_empty)
    if zp.shape != zt.shape:
        raise invalid("z_pred/z_true", f"have different lengths ({zp.size} and {zt.size})",
                      "pass one predicted and one true redshift per object, in the same order")
    if np.any(zt <= -1):
        raise invalid("z_true", "has values <= -1, where 1 + z_true is not positive",
                      "pass redshifts (z > -1); check that columns are not swapped or in magnitudes")
    return zp, zt


def _dz(zp: np.ndarray, zt: np.ndarray) -> np.ndarray:
    return (zp - zt) / (1.0 + zt)


def delta_z(z_pred: ArrayLike, z_true: ArrayLike) -> np.ndarray:
    """Normalised redshift residual ``dz = (z_pred − z_true)/(1 + z_true)``.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts.

    Returns
    -------
    numpy.ndarray, shape (N,)
        Dimensionless residuals.
    """
    return _dz(*_pair(z_pred, z_true))


def _bias_of(dz: np.ndarray, kind: str) -> float:
    if kind == "mean":
        return float(np.mean(dz))
    if kind == "median":
        return float(np.median(dz))
    if kind == "biweight":
        from astropy.stats import biweight_location

        return float(biweight_location(dz))
    raise invalid("bias kind", f"is {kind!r}", 'use "mean", "median" or "biweight"')


def bias(z_pred: ArrayLike, z_true: ArrayLike, kind: str = "mean") -> float:
    """Systematic offset of ``dz``.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts.
    kind : {"mean", "median", "biweight"}
        ``mean(dz)`` (Mantis Shrimp, PICZL), ``median(dz)`` (HSC "conventional")
        or ``astropy.stats.biweight_location(dz)``.

    Returns
    -------
    float
        Dimensionless bias.
    """
    return _bias_of(delta_z(z_pred, z_true), kind)


def _nmad_of(dz: np.ndarray) -> float:
    return float(NMAD_SCALE * np.median(np.abs(dz - np.median(dz))))


def nmad(z_pred: ArrayLike, z_true: ArrayLike) -> float:
    """Normalised median absolute deviation ``1.4826 · median(|dz − median(dz)|)``.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)

    Returns
    -------
    float
        Dimensionless scatter (equals σ for normally distributed dz).
    """
    return _nmad_of(delta_z(z_pred, z_true))


def outlier_rate(z_pred: ArrayLike, z_true: ArrayLike, threshold: float = 0.15) -> float:
    """Fraction of catastrophic outliers ``|dz| > threshold``.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
    threshold : float
        Outlier cut on ``|dz|`` (0.15 conventional; 0.05 "Pasquet" definition).

    Returns
    -------
    float
        Fraction in [0, 1].
    """
    threshold = _threshold(threshold)
    return float(np.mean(np.abs(delta_z(z_pred, z_true)) > threshold))


def _threshold(threshold: float) -> float:
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise invalid("threshold", f"is {threshold!r}", "pass a positive number such as 0.15") from None
    if not np.isfinite(t) or t <= 0:
        raise invalid("threshold", f"is {t}", "pass a positive number such as 0.15")
    return t


def rms(z_pred: ArrayLike, z_true: ArrayLike) -> float:
    """Root-mean-square residual ``sqrt(mean(dz²))``.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)

    Returns
    -------
    float
        Dimensionless.
    """
    dz = delta_z(z_pred, z_true)
    return float(np.sqrt(np.mean(dz * dz)))


def hsc_loss(z_pred: ArrayLike, z_true: ArrayLike, gamma: float = 0.15) -> float:
    """HSC photo-z loss ``mean(1 − 1/(1 + (dz/γ)²))``.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
    gamma : float
        Scale of the loss (0.15 in HSC / GalaxiesML).

    Returns
    -------
    float
        Mean loss in [0, 1).
    """
    gamma = _threshold(gamma)
    dz = delta_z(z_pred, z_true)
    return float(np.mean(1.0 - 1.0 / (1.0 + (dz / gamma) ** 2)))


def hsc_loss_torch(z_pred, z_true, gamma: float = 0.15):
    """Differentiable HSC loss ``mean(1 − 1/(1 + (dz/γ)²))`` in torch.

    Parameters
    ----------
    z_pred, z_true : torch.Tensor, shape (N,)
        Predicted and true redshifts (same length; any float dtype/device).
    gamma : float
        Loss scale.

    Returns
    -------
    torch.Tensor
        Scalar mean loss; gradients flow to ``z_pred`` (and ``z_true``).
    """
    import torch

    if not isinstance(z_pred, torch.Tensor):
        z_pred = torch.as_tensor(np.asarray(z_pred, dtype=np.float32))
    if not isinstance(z_true, torch.Tensor):
        z_true = torch.as_tensor(np.asarray(z_true, dtype=np.float32), device=z_pred.device)
    z_pred = z_pred.reshape(-1)
    z_true = z_true.reshape(-1).to(z_pred.dtype if z_pred.is_floating_point() else torch.float32)
    if z_pred.shape != z_true.shape:
        raise invalid("z_pred/z_true", f"have different lengths ({z_pred.numel()} and {z_true.numel()})",
                      "pass one predicted and one true redshift per object")
    dz = (z_pred - z_true) / (1 + z_true)
    return (1 - 1 / (1 + (dz / gamma) ** 2)).mean()


def photoz_summary(z_pred: ArrayLike, z_true: ArrayLike, threshold: float = 0.15) -> dict:
    """All point photo-z metrics at once.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
    threshold : float
        Outlier cut on ``|dz|``.

    Returns
    -------
    dict
        ``n`` (int), ``bias`` (mean dz), ``bias_median``, ``nmad``,
        ``outlier_rate``, ``rms``, ``hsc_loss`` (floats, dimensionless).
    """
    threshold = _threshold(threshold)
    dz = delta_z(z_pred, z_true)
    return {
        "n": int(dz.size),
        "bias": float(np.mean(dz)),
        "bias_median": float(np.median(dz)),
        "nmad": _nmad_of(dz),
        "outlier_rate": float(np.mean(np.abs(dz) > threshold)),
        "rms": float(np.sqrt(np.mean(dz * dz))),
        "hsc_loss": float(np.mean(1.0 - 1.0 / (1.0 + (dz / 0.15) ** 2))),
    }


def binned_photoz_metrics(z_pred: ArrayLike, z_true: ArrayLike, bins: ArrayLike = np.arange(0, 4.01, 0.2),
                          by: str = "true", threshold: float = 0.15) -> pd.DataFrame:
    """Photo-z metrics in redshift bins.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
    bins : array_like, shape (B + 1,)
        Strictly increasing bin edges; bins are ``[lo, hi)``, the last one
        closed. Objects outside ``[bins[0], bins[-1]]`` are left out.
    by : {"true", "pred"}
        Bin on the true or on the predicted redshift.
    threshold : float
        Outlier cut on ``|dz|``.

    Returns
    -------
    pandas.DataFrame, B rows
        Columns ``z_lo``, ``z_hi``, ``n`` (int), ``bias`` (mean dz), ``bias_median``
        (median dz, HSC "conventional"), ``nmad``, ``outlier_rate``, ``rms``; NaN
        metrics in empty bins.
    """
    zp, zt = _pair(z_pred, z_true)
    threshold = _threshold(threshold)
    edges = _as_1d(bins, "bins")
    if edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise invalid("bins", "must hold at least 2 strictly increasing edges",
                      "pass sorted bin edges such as np.arange(0, 4.01, 0.2)")
    if by not in ("true", "pred"):
        raise invalid("by", f"is {by!r}", 'use "true" or "pred"')
    key = zt if by == "true" else zp
    idx = np.searchsorted(edges, key, side="right") - 1
    idx[key == edges[-1]] = edges.size - 2
    dz = _dz(zp, zt)
    rows = []
    for b in range(edges.size - 1):
        d = dz[idx == b]
        if d.size:
            rows.append((edges[b], edges[b + 1], d.size, float(np.mean(d)), float(np.median(d)), _nmad_of(d),
                         float(np.mean(np.abs(d) > threshold)), float(np.sqrt(np.mean(d * d)))))
        else:
            rows.append((edges[b], edges[b + 1], 0, np.nan, np.nan, np.nan, np.nan, np.nan))
    df = pd.DataFrame(rows, columns=["z_lo", "z_hi", "n", "bias", "bias_median", "nmad", "outlier_rate", "rms"])
    df["n"] = df["n"].astype(int)
    return df


def mean_abs_binned_bias(z_pred: ArrayLike, z_true: ArrayLike, z_range=(0.1, 1.25), width: float = 0.2,
                         kind: str = "median", min_count: int = 10) -> float:
    """Mean over redshift bins of ``|bias|`` in each bin (the reading of a binned bias curve).

    A single bias over a wide range lets positive and negative offsets cancel (a photometric
    network that over-predicts at low z and under-predicts at high z can have a median of 0);
    the GalaxiesML comparison "images cut the bias at 0.1 < z < 1.25" is about the binned curves,
    so this averages the size of the per-bin offsets of :func:`binned_photoz_metrics` instead.

    Parameters
    ----------
    z_pred, z_true : array_like, shape (N,)
        Predicted and true redshifts.
    z_range : (float, float)
        Range of true redshift covered by the bins.
    width : float
        Bin width in true redshift (the last bin ends at ``z_range[1]`` and may be narrower).
    kind : {"median", "mean"}
        Bias statistic per bin (``bias_median`` or ``bias`` column of :func:`binned_photoz_metrics`).
    min_count : int
        Bins with fewer objects are left out.

    Returns
    -------
    float
        Mean of ``|bias_bin|`` over the populated bins (dimensionless, in dz = (z_pred − z_true)/(1 + z_true)).
    """
    lo, hi = float(z_range[0]), float(z_range[1])
    if not (hi > lo and width > 0):
        raise invalid("mean_abs_binned_bias(z_range, width)", f"are {z_range}, {width}",
                      "pass z_range=(lo, hi) with hi > lo and a positive width")
    if kind not in ("median", "mean"):
        raise invalid("mean_abs_binned_bias(kind=...)", f"is {kind!r}", 'use "median" or "mean"')
    table = binned_photoz_metrics(z_pred, z_true, bins=np.append(np.arange(lo, hi - 1e-9, width), hi))
    values = table.loc[table["n"] >= min_count, "bias_median" if kind == "median" else "bias"].abs()
    if values.empty:
        raise invalid("mean_abs_binned_bias", f"has no bin with >= {min_count} objects in {z_range}",
                      "pass more objects or a wider range")
    return float(values.mean())
