"""Transfer learning between photo-z label sources (TransferZ, ``papers.md`` §7).

- :func:`fine_tune` -- a copy of a pre-trained :class:`~astrolab.photoz.estimator.PhotometricRedshift`
  trained further on a new table (same feature scaling, smaller learning rate,
  optionally frozen layers), through the one engine :func:`astrolab.train.fit`;
- :func:`improvement_factors` -- baseline / model ratios of |bias|, RMS, outlier rate ...;
- :data:`LSST_REQUIREMENTS` and :func:`requirement_check` -- the commonly quoted LSST
  photo-z requirements and which models meet them.

Example
-------
>>> base = PhotometricRedshift(bands=BANDS, loss="hsc").fit(a_train)       # doctest: +SKIP
>>> tl = fine_tune(base, b_train, lr=1e-4, freeze=("net.body.0",))          # doctest: +SKIP
>>> improvement_factors(compare_photoz({"base": ..., "tl": ...}, z), "base")   # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from astrolab.errors import invalid

__all__ = ["fine_tune", "improvement_factors", "requirement_check", "LSST_REQUIREMENTS"]

#: LSST Science Requirements photo-z targets commonly quoted for 0.3 < z < 3 (papers.md §7c; the TransferZ
#: paper's exact choice was not retrieved): scatter σ_z/(1+z) < 0.05 (goal 0.02), outlier fraction < 10 %,
#: |bias| < 0.003 -- all dimensionless, on Δz/(1+z). Here scatter is σ_NMAD and outliers are |Δz|/(1+z) > 0.15.
LSST_REQUIREMENTS = {"nmad": 0.05, "nmad_goal": 0.02, "outlier_rate": 0.10, "bias": 0.003}


def fine_tune(pretrained, table, z="redshift", *, lr: float | None = None, epochs: int | None = None,
              freeze=(), val_table=None, z_val=None, run_dir=None, **settings):
    """Fine-tune a copy of a pre-trained ``PhotometricRedshift`` on a new training table.

    The copy keeps the pre-trained feature scaling (:class:`PhotometricFeatures`:
    fill values and standardisation are not refitted on ``table``) and starts
    from its weights; ``pretrained`` itself is not modified. Training goes
    through :func:`astrolab.train.fit` like any ``PhotometricRedshift.fit``.

    Parameters
    ----------
    pretrained : PhotometricRedshift
        A fitted estimator (e.g. trained on the noisy-label source A).
    table : astropy.table.Table
        Fine-tuning catalog (magnitude columns and labels, e.g. source B).
    z : str or array (N,)
        Label column name or values (dimensionless redshifts >= 0).
    lr : float, optional
        Learning rate of the fine-tuning (default: ``pretrained.lr / 10``).
    epochs : int, optional
        Fine-tuning epochs (default: the pre-trained setting).
    freeze : sequence of str
        Parameter-name prefixes kept fixed, e.g. ``("net.body.0",)`` (first hidden
        layer) or ``("net.body",)`` (all hidden layers: only the head learns).
    val_table, z_val, run_dir : optional
        As in :meth:`PhotometricRedshift.fit`.
    **settings
        Other estimator settings to change (``batch_size``, ``patience``, ``seed``,
        ``device``, ``progress``, ``weight_decay``...). Settings fixing the network's
        inputs and outputs (``bands``, ``hidden``, ``n_bins``, ``z_max``,
        ``network``) cannot change.

    Returns
    -------
    PhotometricRedshift
        A new fitted estimator; ``.frozen_`` lists the frozen parameter names.

    Raises
    ------
    astrolab.errors.DataValidationError
        ``pretrained`` is not a fitted ``PhotometricRedshift``, a setting would change
        the network's shape, a freeze prefix matches nothing, or ``lr``/``epochs`` are
        not positive.
    """
    from astrolab.photoz.estimator import PhotometricRedshift

    if not isinstance(pretrained, PhotometricRedshift) or pretrained.module_ is None:
        raise invalid("fine_tune(pretrained=...)", f"got {type(pretrained).__name__}"
                      f"{' (not fitted)' if isinstance(pretrained, PhotometricRedshift) else ''}",
                      "pass a fitted PhotometricRedshift")
    fixed = sorted(set(settings) & {"bands", "hidden", "n_bins", "z_max", "network", "width", "depth"})
    if fixed:
        raise invalid(f"fine_tune({', '.join(fixed)}=...)", "would change the pre-trained network's shape",
                      "fine-tune with the pre-trained settings; train a new model to change them")
    params = pretrained.get_params()
    params["lr"] = float(pretrained.lr / 10.0 if lr is None else lr)
    params["epochs"] = int(pretrained.epochs if epochs is None else epochs)
    if not params["lr"] > 0 or params["epochs"] < 1:
        raise invalid("fine_tune(lr=..., epochs=...)", f"lr={params['lr']}, epochs={params['epochs']}",
                      "pass a positive learning rate and at least one epoch")
    unknown = sorted(set(settings) - set(params))
    if unknown:
        raise invalid(f"fine_tune({', '.join(unknown)}=...)", "unknown setting(s)",
                      f"use settings among {sorted(params)}")
    params.update(settings)
    model = PhotometricRedshift(**params)
    return model.fit(table, z=z, init_from=pretrained, freeze=freeze, val_table=val_table, z_val=z_val,
                     run_dir=run_dir)


def improvement_factors(summary, baseline: str, metrics=("bias", "rms", "outlier_rate", "nmad"),
                        floor: float = 1e-4) -> pd.DataFrame:
    """Ratios baseline / model of photo-z metrics (> 1: the model improves on the baseline).

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per model (index: names), columns of
        :func:`astrolab.metrics.photoz_summary` / :func:`astrolab.metrics.compare_photoz`.
    baseline : str
        Row name of the baseline.
    metrics : sequence of str
        Columns to compare. ``bias`` and ``bias_median`` compare absolute values.
    floor : float
        Values are clipped below at ``floor`` (dimensionless) before dividing, so a
        model with zero outliers or bias gives a large finite factor.

    Returns
    -------
    pandas.DataFrame
        One row per model other than the baseline, one column per metric:
        ``max(|baseline|, floor) / max(|model|, floor)`` (dimensionless).
    """
    if not isinstance(summary, pd.DataFrame) or baseline not in summary.index:
        raise invalid("improvement_factors(summary=..., baseline=...)",
                      f"baseline {baseline!r} is not a row of the summary",
                      f"pass a DataFrame with one row per model and baseline among "
                      f"{list(getattr(summary, 'index', []))}")
    missing = [m for m in metrics if m not in summary.columns]
    if missing:
        raise invalid("improvement_factors(metrics=...)", f"columns {missing} are not in the summary",
                      f"use columns among {list(summary.columns)}")
    vals = summary[list(metrics)].astype(float).abs().clip(lower=float(floor))
    ratios = vals.loc[baseline] / vals.drop(index=baseline)
    return ratios[list(metrics)]


def requirement_check(summary, requirements: dict | None = None) -> pd.DataFrame:
    """Which models meet the LSST-like photo-z requirements.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per model with ``bias``, ``nmad`` and ``outlier_rate`` columns (dimensionless).
    requirements : dict, optional
        Limits (default :data:`LSST_REQUIREMENTS`): ``bias`` on |bias|, ``nmad``,
        ``nmad_goal`` and ``outlier_rate``.

    Returns
    -------
    pandas.DataFrame
        Boolean columns ``|bias| < <limit>``, ``nmad < <limit>``, ``nmad < <goal>``,
        ``outlier_rate < <limit>`` and ``all`` (bias, nmad and outliers), one row per model.
    """
    req = dict(LSST_REQUIREMENTS if requirements is None else requirements)
    need = {"bias", "nmad", "outlier_rate"}
    if not isinstance(summary, pd.DataFrame) or not need <= set(summary.columns):
        raise invalid("requirement_check(summary=...)", "needs a DataFrame with bias, nmad and outlier_rate columns",
                      "pass astrolab.metrics.compare_photoz(...) or a DataFrame of photoz_summary rows")
    out = pd.DataFrame(index=summary.index)
    out[f"|bias| < {req['bias']}"] = np.abs(summary["bias"].astype(float)) < req["bias"]
    out[f"nmad < {req['nmad']}"] = summary["nmad"].astype(float) < req["nmad"]
    if "nmad_goal" in req:
        out[f"nmad < {req['nmad_goal']} (goal)"] = summary["nmad"].astype(float) < req["nmad_goal"]
    out[f"outlier_rate < {req['outlier_rate']}"] = summary["outlier_rate"].astype(float) < req["outlier_rate"]
    out["all"] = (out[f"|bias| < {req['bias']}"] & out[f"nmad < {req['nmad']}"]
                  & out[f"outlier_rate < {req['outlier_rate']}"])
    return out
