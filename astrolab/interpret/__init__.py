"""Interpretability tools: attribution of predictions to input pixels (captum), and
helpers to stack attributions in the rest frame and match them to spectral lines.

- :mod:`astrolab.interpret.attribution` -- :func:`spectrum_attributions`,
  :func:`rest_frame_stack`, :func:`top_attributed_lines`.

Importing this package does not import torch or captum.
"""

from __future__ import annotations

__all__ = ["spectrum_attributions", "rest_frame_stack", "top_attributed_lines"]


def __getattr__(name):
    if name in __all__:
        from astrolab.interpret import attribution

        return getattr(attribution, name)
    raise AttributeError(f"module 'astrolab.interpret' has no attribute {name!r}")
