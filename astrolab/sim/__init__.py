"""Simulators with known ground truth (they emit the same containers and columns as the real loaders).

- :mod:`astrolab.sim.galaxies` -- galaxy populations, SEDs and survey photometry;
- :mod:`astrolab.sim.sed` -- the rest-frame SED model;
- :mod:`astrolab.sim.filters` -- survey filter curves (speclite) and depths;
- :mod:`astrolab.sim.agn_variability` -- AGN light curves (damped random walk);
- :mod:`astrolab.sim.rotation` -- open clusters with a spin-down law (gyrochronology).
"""
