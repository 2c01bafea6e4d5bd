"""Metrics shared by all astrolab notebooks (definitions: papers.md section 0).

- :mod:`~astrolab.metrics.photoz` -- point photo-z metrics on dz = (z_pred − z_true)/(1 + z_true);
- :mod:`~astrolab.metrics.pdf` -- :class:`RedshiftPDF`, PIT, CRPS, coverage, CDE loss;
- :mod:`~astrolab.metrics.regression` -- χ²_N, σ_MAD, k·σ outliers;
- :mod:`~astrolab.metrics.classification` -- accuracy, balanced accuracy, macro-F1, confusion matrix;
- :mod:`~astrolab.metrics.clustering` -- NMI, ARI, KMeans on latents.

Importing this package does not import torch; the ``*_torch`` functions do.
"""

from __future__ import annotations

from astrolab.metrics.classification import (
    accuracy,
    balanced_accuracy,
    classification_summary,
    confusion_matrix,
    macro_f1,
)
from astrolab.metrics.clustering import ari, kmeans_scores, nmi
from astrolab.metrics.compare import compare_photoz
from astrolab.metrics.pdf import (
    GoodnessOfFit,
    RedshiftPDF,
    crps_gaussian,
    crps_gaussian_mixture,
    crps_gaussian_mixture_torch,
    gaussian_mixture_nll_torch,
    pit_cvm,
    pit_histogram,
    pit_ks,
)
from astrolab.metrics.photoz import (
    bias,
    binned_photoz_metrics,
    delta_z,
    mean_abs_binned_bias,
    hsc_loss,
    hsc_loss_torch,
    nmad,
    outlier_rate,
    photoz_summary,
    rms,
)
from astrolab.metrics.regression import chi2_n, outlier_fraction_sigma, sigma_mad

__all__ = [
    # photoz
    "delta_z", "bias", "nmad", "outlier_rate", "rms", "hsc_loss", "hsc_loss_torch",
    "photoz_summary", "binned_photoz_metrics", "mean_abs_binned_bias", "compare_photoz",
    # pdf
    "RedshiftPDF", "GoodnessOfFit", "pit_ks", "pit_cvm", "pit_histogram", "crps_gaussian",
    "crps_gaussian_mixture", "crps_gaussian_mixture_torch", "gaussian_mixture_nll_torch",
    # regression
    "chi2_n", "sigma_mad", "outlier_fraction_sigma",
    # classification
    "accuracy", "balanced_accuracy", "macro_f1", "confusion_matrix", "classification_summary",
    # clustering
    "nmi", "ari", "kmeans_scores",
]
