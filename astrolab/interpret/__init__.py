"""Interpretability tools: attribution of predictions to input pixels (captum), and
helpers to stack attributions in the rest frame and match them to spectral lines.

- :mod:`astrolab.interpret.attribution` -- :func:`spectrum_attributions`,
  :func:`rest_frame_stack`, :func:`top_attributed_lines`.
- :mod:`astrolab.interpret.stellar_mass` -- pointwise information decomposition from three models'
  cross-entropies (:func:`pointwise_pid`, :func:`pid_summary`), local (conditional) correlation tests in
  latent kNN neighbourhoods (:func:`knn_neighbourhoods`, :func:`local_correlations`), and the PC
  skeleton cross-check (:func:`pc_skeleton`, :func:`skeleton_scores`).

Importing this package does not import torch or captum.
"""

from __future__ import annotations

_ATTRIBUTION = ["spectrum_attributions", "rest_frame_stack", "top_attributed_lines"]
_STELLAR_MASS = ["pointwise_pid", "pid_summary", "bin_surprisal", "bin_cross_entropy", "plugin_cross_entropy",
                 "gaussian_mmi_pid", "knn_neighbourhoods", "local_correlations", "predictive_efficiency",
                 "pc_skeleton", "skeleton_scores"]
__all__ = _ATTRIBUTION + _STELLAR_MASS


def __getattr__(name):
    if name in _ATTRIBUTION:
        from astrolab.interpret import attribution

        return getattr(attribution, name)
    if name in _STELLAR_MASS:
        from astrolab.interpret import stellar_mass

        return getattr(stellar_mass, name)
    raise AttributeError(f"module 'astrolab.interpret' has no attribute {name!r}")
