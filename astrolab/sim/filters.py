"""Survey filter curves (real transmission curves from speclite) and survey properties.

:data:`SURVEYS` maps a survey key to its bands, speclite filter names, default
5σ point-source depths [AB mag], PSF FWHMs [arcsec] and pixel scale
[arcsec/pixel]: ``"sdss"`` (ugriz, 0.396″), ``"hsc"`` (grizy, HSC-SSP Wide,
0.168″), ``"lsst"`` (ugrizy, 0.2″), ``"legacy"`` (DECam griz, 0.262″),
``"panstarrs"`` (grizy, 0.25″), ``"galex"`` (fuv nuv, 1.5″), ``"wise"`` (w1–w4,
unWISE 2.75″). The depths are round values typical of the public data and are
meant for simulation, not for forecasts.

Column convention (:func:`astrolab.sim.galaxies.simulate_galaxies`,
:class:`astrolab.photoz.oracle.TemplateFitter`): plain band names (``"g"``,
``"g_flux"`` ...) for bands of the single ``survey`` given without prefix, and
``"<survey>_<band>"`` (``"hsc_g"``, ``"wise_w1_flux"``) for bands asked for
with that prefix, which is how several surveys are combined
(``bands=["hsc_g", "hsc_i", "wise_w1"]``). Band names are lower case.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from astrolab.errors import invalid

__all__ = ["Survey", "SURVEYS", "get_survey", "get_filters", "band_names", "parse_band", "filter_curve",
           "flux_err_from_depth"]


@dataclass(frozen=True)
class Survey:
    """A survey's bands and observing properties.

    Attributes
    ----------
    name : str
    bands : tuple of str
        Band names as used in catalog columns.
    speclite : tuple of str
        speclite filter names, one per band.
    depth : tuple of float
        5-sigma point-source depth per band [AB mag].
    psf_fwhm : tuple of float
        Seeing / PSF FWHM per band [arcsec].
    pixel_scale : float
        Image pixel size [arcsec/pixel].
    """

    name: str
    bands: tuple
    speclite: tuple
    depth: tuple
    psf_fwhm: tuple
    pixel_scale: float


SURVEYS = {
    "sdss": Survey("sdss", ("u", "g", "r", "i", "z"), tuple(f"sdss2010-{b}" for b in "ugriz"),
                   (22.0, 22.2, 22.2, 21.3, 20.5), (1.5, 1.4, 1.3, 1.3, 1.3), 0.396),
    "hsc": Survey("hsc", ("g", "r", "i", "z", "y"), tuple(f"hsc2017-{b}" for b in "grizy"),
                  (26.5, 26.1, 25.9, 25.1, 24.4), (0.72, 0.67, 0.56, 0.63, 0.64), 0.168),
    "lsst": Survey("lsst", ("u", "g", "r", "i", "z", "y"), tuple(f"lsst2023-{b}" for b in "ugrizy"),
                   (25.6, 26.9, 26.9, 26.4, 25.6, 24.8), (0.9, 0.85, 0.8, 0.75, 0.75, 0.75), 0.2),
    "legacy": Survey("legacy", ("g", "r", "i", "z"), tuple(f"decam2014-{b}" for b in "griz"),
                     (24.7, 24.2, 23.8, 23.3), (1.3, 1.2, 1.1, 1.1), 0.262),
    "panstarrs": Survey("panstarrs", ("g", "r", "i", "z", "y"), tuple(f"panstarrs-{b}" for b in "grizy"),
                        (23.3, 23.2, 23.1, 22.3, 21.4), (1.3, 1.2, 1.1, 1.1, 1.0), 0.25),
    "galex": Survey("galex", ("fuv", "nuv"), ("galex-fuv", "galex-nuv"), (20.0, 20.8), (4.2, 5.3), 1.5),
    "wise": Survey("wise", ("w1", "w2", "w3", "w4"), tuple(f"wise2010-W{i}" for i in range(1, 5)),
                   (20.0, 19.4, 16.7, 14.5), (6.1, 6.4, 6.5, 12.0), 2.75),
}


def get_survey(name: str) -> Survey:
    """The :class:`Survey` called ``name`` (case-insensitive).

    Raises
    ------
    astrolab.errors.DataValidationError
        Unknown survey (the message lists the known ones).
    """
    key = str(name).lower()
    if key not in SURVEYS:
        raise invalid(f"survey {name!r}", "unknown", f"use one of {sorted(SURVEYS)}")
    return SURVEYS[key]


def band_names(survey: str) -> list:
    """Band names of ``survey`` (list of str, blue to red), e.g. ``["g", "r", "i", "z", "y"]`` for ``"hsc"``."""
    return list(get_survey(survey).bands)


def parse_band(band: str, default_survey: str | None = None) -> tuple[str, str]:
    """Split ``"hsc_g"`` into ``("hsc", "g")``; a plain ``"g"`` uses ``default_survey``.

    Raises
    ------
    astrolab.errors.DataValidationError
        Unknown survey, or a band that the survey does not have (the message
        lists the survey's bands).
    """
    if "_" in band and band.split("_", 1)[0].lower() in SURVEYS:
        survey, name = band.split("_", 1)
    else:
        survey, name = default_survey, band
    if survey is None:
        raise invalid(f"band {band!r}", "has no survey prefix", "write it as '<survey>_<band>', e.g. 'hsc_g'")
    s = get_survey(survey)
    if name.lower() not in s.bands:
        raise invalid(f"band {band!r}", f"not a {s.name} band",
                      f"use one of {list(s.bands)}, or '<survey>_<band>' with a survey of {sorted(SURVEYS)}")
    return s.name, name.lower()


@functools.lru_cache(maxsize=None)
def filter_curve(survey: str, band: str) -> tuple[np.ndarray, np.ndarray]:
    """One band's response curve from speclite (cached).

    Returns
    -------
    wavelength : ndarray (K,)
        [Angstrom].
    response : ndarray (K,)
        Dimensionless photon-counting transmission.
    """
    import speclite.filters

    s = get_survey(survey)
    f = speclite.filters.load_filter(s.speclite[s.bands.index(band)])
    return np.asarray(f.wavelength, dtype=float), np.asarray(f.response, dtype=float)


@functools.lru_cache(maxsize=64)
def _load_sequence(names: tuple):
    import speclite.filters

    return speclite.filters.load_filters(*names)


def get_filters(survey: str = "hsc", bands=None):
    """speclite filter curves of a survey's bands (cached).

    Parameters
    ----------
    survey : str
        Default survey (key of :data:`SURVEYS`).
    bands : sequence of str, optional
        Plain band names of ``survey`` and/or ``"<survey>_<band>"`` names of any
        survey (e.g. ``["hsc_g", "wise_w1"]``). Default: all bands of ``survey``.

    Returns
    -------
    speclite.filters.FilterSequence
        One response curve per band, in the requested order (wavelengths in
        Angstrom, dimensionless photon-counting responses).

    Raises
    ------
    astrolab.errors.DataValidationError
        Unknown survey or band; the message lists the available ones.
    """
    s = get_survey(survey)
    bands = list(s.bands) if bands is None else ([bands] if isinstance(bands, str) else list(bands))
    names = []
    for b in bands:
        sv, name = parse_band(str(b), s.name)
        info = get_survey(sv)
        names.append(info.speclite[info.bands.index(name)])
    return _load_sequence(tuple(names))


def flux_err_from_depth(depth) -> np.ndarray:
    """1σ flux error [nJy] of a background-limited measurement with 5σ depth ``depth`` [AB mag].

    Parameters
    ----------
    depth : float or array_like
        5σ limiting AB magnitude(s).

    Returns
    -------
    numpy.ndarray
        ``10**(-0.4 (depth - 31.4)) / 5`` [nJy], same shape as ``depth``.
    """
    return 10.0 ** (-0.4 * (np.asarray(depth, dtype=float) - 31.4)) / 5.0
