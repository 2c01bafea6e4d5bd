"""Simulators with known ground truth (they emit the same containers and columns as the real loaders).

- :mod:`astrolab.sim.galaxies` -- galaxy populations, SEDs and survey photometry
  (:func:`simulate_galaxies`);
- :mod:`astrolab.sim.sed` -- the rest-frame SED model, synthetic photometry and the
  :class:`TemplateLibrary` shared with the oracle (:class:`astrolab.photoz.oracle.TemplateFitter`);
- :mod:`astrolab.sim.filters` -- survey filter curves (speclite), depths, PSFs, pixel scales
  (:data:`SURVEYS`, :func:`get_filters`, :func:`band_names`);
- :mod:`astrolab.sim.agn_variability` -- AGN light curves (damped random walk);
- :mod:`astrolab.sim.rotation` -- open clusters with a spin-down law (gyrochronology).
- :mod:`astrolab.sim.supernovae` -- CIGaRS-style SNe Ia with host galaxies, DTD and selection
  (:class:`CigarsSimulator`).
- :mod:`astrolab.sim.stellar_mass` -- galaxies from an explicit structural causal model, with the DAG as
  data (:func:`simulate_stellar_mass`).

Names are imported on first access, so ``import astrolab.sim`` stays light.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "simulate_galaxies": "astrolab.sim.galaxies",
    "TemplateLibrary": "astrolab.sim.sed",
    "SURVEYS": "astrolab.sim.filters",
    "get_filters": "astrolab.sim.filters",
    "band_names": "astrolab.sim.filters",
    "simulate_multisurvey": "astrolab.sim.images",
    "render_images": "astrolab.sim.images",
    "CigarsSimulator": "astrolab.sim.supernovae",
    "simulate_variables": "astrolab.sim.variables",
    "simulate_stellar_mass": "astrolab.sim.stellar_mass",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'astrolab.sim' has no attribute {name!r}")
