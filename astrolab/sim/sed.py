"""A compact, physically motivated galaxy SED model (rest frame), vectorised over objects.

Components (all on the log-spaced rest-frame grid :data:`WAVE`, 400 Å – 35 µm,
2000 points, Δlnλ = 3.4e-3; bluer than 400 Å the flux is taken as zero, which
the IGM makes exact for the photometry of any band redder than 1300 Å at z ≤ 3):

- stars: an old population (a blackbody of age- and metallicity-dependent
  temperature with a 4000 Å break whose strength grows with age and
  metallicity, and a UV deficit) mixed with a young population (15,000 K, with
  a Balmer break) whose share grows with the specific star-formation rate;
  Lyman continuum suppressed below 912 Å;
- nebular emission lines (Lyα, [O II], Hβ, [O III], Hα, [N II], [S II], Paβ, Paα)
  with Hα luminosity 1.26e41 erg/s per Msun/yr (Kennicutt 1998), [O III]/Hβ
  falling and [N II]/Hα rising with metallicity;
- dust attenuation (Calzetti et al. 2000; stars see 0.44 of the gas E(B−V));
- dust emission ∝ SFR (L_IR = 2.2e43 erg/s per Msun/yr): a 30 K modified
  blackbody, a warm 150 K component and PAH bands at 6.2–12.7 µm (W3);
- an optional AGN: a λ^−1.5 accretion-disc continuum, broad Lyα, C IV, Mg II,
  Hβ, Hα, and a hot-dust torus (1300 K + 300 K) that reddens W1−W2;
- in the observed frame, mean IGM attenuation (Madau 1995-like Lyman series and
  Lyman-continuum absorption).

Units: :func:`sed_shape` returns L_λ in units of the stellar L_λ at 5500 Å;
:func:`luminosity_5500` gives that normalisation in erg/s/Å from the stellar
mass and a mass-to-light ratio that grows with age; :func:`sed_flambda` and
:func:`observed_fnu` return physical units. :func:`band_fluxes` integrates
rest-frame SEDs through real filter curves (AB, photon counting) and
:class:`TemplateLibrary` is the grid of SEDs shared by the simulator
(``template_index``) and the oracle (:class:`astrolab.photoz.oracle.TemplateFitter`).

Cosmology: astropy's Planck18 (tabulated once, interpolated).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from astrolab.errors import invalid

__all__ = [
    "WAVE",
    "PARAM_NAMES",
    "sed_shape",
    "sed_flambda",
    "observed_fnu",
    "band_fluxes",
    "luminosity_5500",
    "mass_to_light",
    "igm_transmission",
    "luminosity_distance_cm",
    "age_of_universe_gyr",
    "line_list",
    "TemplateLibrary",
]

WAVE = np.geomspace(400.0, 3.5e5, 2000)  #: rest-frame wavelength grid [Angstrom]
_LN_W0 = float(np.log(WAVE[0]))
_DLNL = float(np.log(WAVE[1] / WAVE[0]))
_HC_K = 1.4388e8  # h c / k  [Angstrom K]
_L_SUN_5500 = 5.2e29  # solar L_lambda at 5500 Angstrom [erg/s/Angstrom]
_C_CM = 2.998e10  # speed of light [cm/s]

#: SED parameters of :func:`sed_shape` (what a template is made of), with their defaults.
PARAM_NAMES = ("age", "metallicity", "log_ssfr", "ebv", "agn_frac")
_PARAM_DEFAULTS = {"agn_frac": 0.0, "log_mstar": 10.0}

# (name, rest wavelength [Angstrom])
line_list = {"Lya": 1215.67, "OII": 3727.4, "Hb": 4861.3, "OIII4959": 4958.9, "OIII5007": 5006.8,
             "Ha": 6562.8, "NII": 6583.5, "SII": 6724.0, "Pab": 12818.1, "Paa": 18751.0,
             "CIV": 1549.0, "MgII": 2798.0}

_I912, _I1216, _I2500, _I4400, _I5500, _I1UM = (int(i) for i in np.searchsorted(
    WAVE, [912.0, 1215.67, 2500.0, 4400.0, 5500.0, 1.0e4]))


def _planck(wave, temp):
    """Blackbody B_lambda shape (arbitrary units) for wave (L,) [Angstrom] and temp (N,) [K] -> (N, L)."""
    x = np.clip(_HC_K / (wave[None, :] * np.asarray(temp, float)[:, None]), 1e-6, 700.0)
    return wave[None, :] ** -5 / np.expm1(x)


@functools.lru_cache(maxsize=1)
def _young_shape():
    young = _planck(WAVE, np.array([15000.0]))[0] * np.where(WAVE < 3646.0, 0.8, 1.0)
    return young / young[_I5500]


_T_GRID = np.linspace(3800.0, 7500.0, 75)


@functools.lru_cache(maxsize=1)
def _planck_grid():
    return _planck(WAVE, _T_GRID)


def _planck_table(temp):
    """Blackbody shapes on WAVE for temperatures (N,) in [3800, 7500] K, interpolated from a table."""
    grid = _planck_grid()
    pos = np.clip((np.asarray(temp, float) - _T_GRID[0]) / (_T_GRID[1] - _T_GRID[0]), 0, len(_T_GRID) - 1.000001)
    i = pos.astype(int)
    f = (pos - i)[:, None]
    out = grid[i] * (1 - f)
    out += grid[i + 1] * f
    return out


def _calzetti_k(wave):
    """Calzetti et al. (2000) k(λ) (R_V = 4.05), extended smoothly outside 0.12–2.2 µm."""
    lam = wave / 1e4
    k = np.where(lam < 0.63,
                 2.659 * (-2.156 + 1.509 / lam - 0.198 / lam**2 + 0.011 / lam**3) + 4.05,
                 2.659 * (-1.857 + 1.040 / lam) + 4.05)
    k_uv = 2.659 * (-2.156 + 1.509 / 0.12 - 0.198 / 0.12**2 + 0.011 / 0.12**3) + 4.05
    k = np.where(lam < 0.12, k_uv + 12.0 * (0.12 - lam) / 0.12, k)
    return np.clip(k, 0.0, None)


_K = _calzetti_k(WAVE)


def mass_to_light(age_gyr):
    """Stellar mass-to-light ratio at 5500 Å [Msun/Lsun] rising with age.

    Parameters
    ----------
    age_gyr : float or array_like
        Stellar age [Gyr].

    Returns
    -------
    numpy.ndarray
        M/L (same shape), clipped to [0.05, 6.3].
    """
    return 10 ** np.clip(-0.25 + 0.75 * np.log10(np.asarray(age_gyr, float)), -1.3, 0.8)


def luminosity_5500(log_mstar, age_gyr):
    """Stellar L_λ at 5500 Å [erg/s/Å] of a galaxy of stellar mass and age.

    Parameters
    ----------
    log_mstar : float or array_like
        log10(M*/Msun).
    age_gyr : float or array_like
        Stellar age [Gyr].

    Returns
    -------
    numpy.ndarray
        L_λ(5500 Å) [erg/s/Å], broadcast shape of the inputs.
    """
    return 10 ** np.asarray(log_mstar, float) / mass_to_light(age_gyr) * _L_SUN_5500


def _line_profiles(wave, centres, sigma_kms, min_pix=1.2):
    """Unit-integral Gaussian profiles: list of (lo, hi, profile[lo:hi]) on ``wave`` [1/Angstrom]."""
    dlnl = np.log(wave[1] / wave[0])
    out = []
    for c in centres:
        sigma = max(c * sigma_kms / 2.998e5, min_pix * c * dlnl)
        lo, hi = np.searchsorted(wave, [c - 6 * sigma, c + 6 * sigma])
        w = wave[lo:hi]
        prof = np.exp(-0.5 * ((w - c) / sigma) ** 2)
        prof /= np.trapezoid(prof, w) if prof.sum() > 0 else 1.0
        out.append((int(lo), int(hi), prof))
    return out


def _gauss_lines(wave, centres, amps, sigma_kms, min_pix=1.2):
    """Sum of Gaussian lines: centres (K,), amps (N, K) [integrated L_λ·Å units] -> (N, L)."""
    out = np.zeros((amps.shape[0], wave.size))
    for k, (lo, hi, prof) in enumerate(_line_profiles(wave, centres, sigma_kms, min_pix)):
        out[:, lo:hi] += amps[:, k:k + 1] * prof[None, :]
    return out


_NEB_NAMES = ("Lya", "OII", "Hb", "OIII4959", "OIII5007", "Ha", "NII", "SII", "Pab", "Paa")


@functools.lru_cache(maxsize=1)
def _nebular_profiles():
    centres = np.array([line_list[k] for k in _NEB_NAMES])
    return _line_profiles(WAVE, centres, 100.0), np.interp(centres, WAVE, _K)


@functools.lru_cache(maxsize=1)
def _dust_emission_shapes():
    """Unit-integral (over wavelength in Angstrom) shapes of cold dust, warm dust and PAH on WAVE."""
    wide = np.geomspace(1e4, 3e7, 4000)
    cold = _planck(wide, [30.0])[0] * (1e6 / wide) ** 1.5
    warm = _planck(wide, [150.0])[0]
    pah = _gauss_lines(wide, np.array([6.2, 7.7, 8.6, 11.3, 12.7]) * 1e4,
                       np.array([[0.3, 1.0, 0.25, 0.3, 0.15]]), sigma_kms=6000.0)[0]
    shapes = []
    for s in (cold, warm, pah):
        s = s / np.trapezoid(s, wide)
        shapes.append(np.interp(WAVE, wide, s, left=0.0, right=0.0))
    return tuple(shapes)


@functools.lru_cache(maxsize=1)
def _agn_template():
    """AGN continuum + broad lines relative to the disc L_λ(5500 Å) (L,)."""
    w = WAVE
    disc = (w / 5500.0) ** -1.5 * np.exp(-((w / 1.0e4) ** 2)) * np.where(w < 912.0, 0.1, 1.0)
    torus = _planck(w, np.array([1300.0]))[0] + 0.3 * _planck(w, np.array([300.0]))[0] * (1300.0 / 300.0) ** 4
    i3 = int(np.searchsorted(w, 3.0e4))
    torus = torus / torus[i3] * 0.7 * (5500.0 / 3.0e4)  # lambda L_lambda(3 um) = 0.7 lambda L_lambda(5500)
    cont = disc / disc[_I5500] + torus
    broad_names = ["Lya", "CIV", "MgII", "Hb", "Ha"]
    ew = np.array([100.0, 50.0, 40.0, 80.0, 350.0])  # equivalent widths on the disc continuum [Angstrom]
    bc = np.array([line_list[k] for k in broad_names])
    cont_at = np.interp(bc, w, disc / disc[_I5500])
    broad = _gauss_lines(w, bc, (ew * cont_at)[None, :], sigma_kms=1700.0)[0]
    return cont + broad


def sed_shape(age_gyr, metallicity, log_ssfr, ebv, agn_frac=0.0, pah_frac=1.0, wave=None):
    """Rest-frame SEDs L_λ relative to the stellar L_λ(5500 Å).

    Parameters
    ----------
    age_gyr : array (N,)
        Mass-weighted stellar age [Gyr].
    metallicity : array (N,)
        log10(Z / Zsun).
    log_ssfr : array (N,)
        log10 specific star-formation rate [1/yr].
    ebv : array (N,)
        Nebular E(B−V) [mag] (stars: 0.44 of it).
    agn_frac : array (N,) or float
        AGN share of the total 5500 Å continuum, in [0, 0.95].
    pah_frac : array (N,) or float
        Scale of the PAH emission (1 = typical star-forming galaxy).
    wave : ignored (the grid is :data:`WAVE`; use :func:`sed_flambda` for another grid).

    Returns
    -------
    ndarray (N, L)
        L_λ / L_λ,stars(5500 Å) on :data:`WAVE` (dimensionless; multiply by
        :func:`luminosity_5500` for erg/s/Å). No IGM (it is an observed-frame effect).
    """
    age = np.clip(np.atleast_1d(np.asarray(age_gyr, float)), 0.01, 14.0)
    n = age.size
    logz = np.broadcast_to(np.asarray(metallicity, float), (n,))
    lssfr = np.broadcast_to(np.asarray(log_ssfr, float), (n,))
    ebv = np.clip(np.broadcast_to(np.asarray(ebv, float), (n,)), 0.0, None)
    agn = np.clip(np.broadcast_to(np.asarray(agn_frac, float), (n,)), 0.0, 0.95)
    pah = np.broadcast_to(np.asarray(pah_frac, float), (n,))
    w = WAVE
    # old population: cooler with age/metallicity, 4000 A break and UV deficit
    t_old = np.clip(5800.0 - 900.0 * np.log10(age) - 300.0 * logz, 3800.0, 7500.0)
    old = _planck_table(t_old)
    d4000 = np.clip(1.05 + 0.35 * np.log10(age / 0.05) + 0.15 * logz, 1.05, 2.4)
    step = 1.0 / (1.0 + np.exp(-(w[:_I4400] - 4000.0) / 30.0))  # 0 blueward, 1 redward (== 1 beyond 4400 A)
    old[:, :_I4400] *= 1.0 / d4000[:, None] + (1.0 - 1.0 / d4000[:, None]) * step[None, :]
    uv_k = np.clip(2.0 * np.log10(age / 0.1), 0.0, 3.0)
    old[:, :_I2500] *= np.exp(np.multiply.outer(uv_k, np.log(w[:_I2500] / 2500.0)))
    f_young = np.clip(0.5 + 0.45 * (lssfr + 9.5), 0.0, 0.9)
    stars = old
    stars *= ((1.0 - f_young) / old[:, _I5500])[:, None]
    stars += np.multiply.outer(f_young, _young_shape())
    stars[:, :_I912] *= 0.02
    stars *= np.exp(np.multiply.outer(-0.4 * np.log(10.0) * 0.44 * ebv, _K))
    total = stars
    # nebular lines, luminosity relative to L5500 [Angstrom], attenuated at the line centre
    ml = mass_to_light(age)
    l_ha = 1.26e41 * 10 ** lssfr * ml / _L_SUN_5500  # (N,) [Angstrom]
    oiii_hb = np.clip(10 ** (0.5 - 1.5 * (logz + 0.3)), 0.3, 6.0)
    nii_ha = 0.3 * 10 ** (0.8 * logz)
    one = np.ones(n)
    ratios = np.column_stack([0.5 * one, 0.9 * one, 0.35 * one, 0.35 * oiii_hb / 3.0, 0.35 * oiii_hb, one, nii_ha,
                              0.2 * one, 0.06 * one, 0.12 * one])
    profiles, k_lines = _nebular_profiles()
    amps = ratios * l_ha[:, None] * 10 ** (-0.4 * np.multiply.outer(ebv, k_lines))
    for k, (lo, hi, prof) in enumerate(profiles):
        total[:, lo:hi] += np.multiply.outer(amps[:, k], prof)
    # dust emission, energy ~ SFR (zero blueward of 1 micron)
    cold, warm, pah_shape = _dust_emission_shapes()
    l_ir = 2.2e43 * 10 ** lssfr * ml / _L_SUN_5500
    total[:, _I1UM:] += np.multiply.outer(l_ir, 0.85 * cold[_I1UM:] + 0.07 * warm[_I1UM:])
    total[:, _I1UM:] += np.multiply.outer(0.08 * l_ir * pah, pah_shape[_I1UM:])
    if np.any(agn > 0):
        total += np.multiply.outer(agn / (1.0 - agn), _agn_template())  # AGN / stellar continuum at 5500 A
    return total


def igm_transmission(wave_rest, z):
    """Mean IGM transmission (Madau 1995-like) at rest wavelengths for several redshifts.

    Parameters
    ----------
    wave_rest : array (L,)
        Rest-frame wavelengths [Angstrom], increasing.
    z : array (N,)
        Source redshifts.

    Returns
    -------
    ndarray (N, L)
        Transmission in [0, 1]: Lyα and Lyβ forest blueward of 1216 Å and
        1026 Å, and Lyman-continuum absorption exp(−1.5 (1 + z)) below 912 Å.
    """
    z = np.atleast_1d(np.asarray(z, float))
    wave_rest = np.asarray(wave_rest, float)
    trans = np.ones((z.size, wave_rest.size))
    k = int(np.searchsorted(wave_rest, 1215.67))
    trans[:, :k] = _igm_blue(wave_rest[:k], z)
    return trans


def _igm_blue(w, z):
    """IGM transmission (N, k) for rest wavelengths w (k,) all below Lyα."""
    lam_obs = w[None, :] * (1.0 + z[:, None])
    tau = 0.0036 * (lam_obs / 1215.67) ** 3.46 + np.where(w[None, :] < 1025.7, 0.0017 * (lam_obs / 1025.7) ** 3.46, 0.0)
    t = np.exp(-tau)
    return np.where(w[None, :] < 912.0, t * np.exp(-3.0 * (1 + z[:, None]) / 2.0), t)


# ----------------------------------------------------------------------------------------------
# cosmology (Planck18, tabulated)
# ----------------------------------------------------------------------------------------------
_Z_TABLE = np.concatenate([[0.0], np.geomspace(1e-4, 12.0, 600)])


@functools.lru_cache(maxsize=1)
def _cosmo_table():
    from astropy.cosmology import Planck18

    return (Planck18.luminosity_distance(np.clip(_Z_TABLE, 1e-5, None)).to_value("cm"),
            Planck18.age(_Z_TABLE).to_value("Gyr"))


def luminosity_distance_cm(z):
    """Planck18 luminosity distance [cm] (interpolated table, relative error < 1e-4).

    Parameters
    ----------
    z : float or array_like
        Redshift(s), 1e-4 ≤ z ≤ 12 (smaller values are treated as 1e-4).

    Returns
    -------
    numpy.ndarray
        D_L [cm], same shape as ``z``.
    """
    return np.exp(np.interp(np.asarray(z, float), _Z_TABLE[1:], np.log(_cosmo_table()[0][1:])))


def age_of_universe_gyr(z):
    """Planck18 age of the universe at redshift ``z`` [Gyr] (interpolated table), same shape as ``z``."""
    return np.interp(np.asarray(z, float), _Z_TABLE, _cosmo_table()[1])


# ----------------------------------------------------------------------------------------------
# synthetic photometry
# ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _band_kernel(survey: str, band: str):
    """Filter response on the log grid extended redward of WAVE: (first index k0, weights R_k / sum R).

    Observed-frame pixel k has wavelength WAVE[0] * exp(k Δ); a source at
    redshift z with s = ln(1+z)/Δ puts rest pixel j = k − s there.
    """
    from astrolab.sim.filters import filter_curve

    fw, fr = filter_curve(survey, band)
    k0 = int(np.floor((np.log(fw.min()) - _LN_W0) / _DLNL))
    k1 = int(np.ceil((np.log(fw.max()) - _LN_W0) / _DLNL)) + 1
    if k0 < 0 or k1 >= WAVE.size:
        raise invalid(f"band {survey}_{band}", f"spans {fw.min():.0f}–{fw.max():.0f} Å, outside the SED grid "
                      f"{WAVE[0]:.0f}–{WAVE[-1]:.0f} Å", "use a band between 400 Å and 35 µm")
    kk = np.arange(max(k0, 0), k1 + 1)
    resp = np.interp(np.exp(_LN_W0 + kk * _DLNL), fw, fr, left=0.0, right=0.0)
    return int(kk[0]), resp / resp.sum()


def _band_means(fnu, z, band_keys, foreground_ebv=None):
    """Photon-weighted mean f_ν (N, B) of observed-frame spectra given on the rest grid (N, L) at redshifts (N,).

    ∫ f_ν R dλ/λ / ∫ R dλ/λ on the log grid, with the spectrum linearly
    interpolated in ln λ (exact up to that interpolation); zero flux blueward of WAVE[0].
    With ``foreground_ebv`` (N,) [mag], the spectrum is first attenuated in the
    observed frame by the Milky-Way law of :func:`astrolab.sim.dust.milky_way_extinction`.
    """
    n, L = fnu.shape
    if foreground_ebv is not None:
        from astrolab.sim.dust import milky_way_extinction

        ebv = np.asarray(foreground_ebv, float).reshape(n, 1)
    s = np.log1p(np.asarray(z, float)) / _DLNL
    shift = np.floor(s).astype(np.int64)
    phi = (s - shift)[:, None]
    padded = np.concatenate([np.zeros((n, 1)), fnu], axis=1)  # padded[:, j + 1] = fnu[:, j]; index 0 is the zero pad
    rows = np.arange(n)[:, None]
    out = np.empty((n, len(band_keys)))
    for b, key in enumerate(band_keys):
        k0, resp = _band_kernel(*key)
        j = k0 + np.arange(resp.size)[None, :] - shift[:, None]  # rest index at shift floor(s)
        hi = padded[rows, np.clip(j + 1, 0, L)]  # f at j
        lo = padded[rows, np.clip(j, 0, L)]  # f at j - 1 (rest wavelength a pixel bluer)
        if foreground_ebv is None:
            out[:, b] = ((1.0 - phi) * hi + phi * lo) @ resp
        else:  # observed-frame transmission 10^(-0.4 E(B-V) A_lambda/E(B-V)) at the filter's wavelengths
            a_k = milky_way_extinction(np.exp(_LN_W0 + (k0 + np.arange(resp.size)) * _DLNL))
            trans = 10.0 ** (-0.4 * ebv * a_k[None, :])
            out[:, b] = (((1.0 - phi) * hi + phi * lo) * trans) @ resp
    return out


def _band_matrix(survey: str, band: str, z_grid) -> np.ndarray:
    """Weights W (L, G) with band mean f_ν(z_g) = Σ_j f_ν,rest[j] W[j, g] (IGM included, no distance factor).

    Same integration as :func:`_band_means` (linear interpolation in ln λ), so
    ``fnu_rest @ W`` equals ``_band_means`` of the IGM-attenuated spectra.
    """
    k0, resp = _band_kernel(survey, band)
    z_grid = np.asarray(z_grid, float)
    L, G = WAVE.size, z_grid.size
    s = np.log1p(z_grid) / _DLNL
    shift = np.floor(s).astype(np.int64)
    phi = s - shift
    k = k0 + np.arange(resp.size)
    W = np.zeros((L + 1, G))  # row 0: the zero pad blueward of WAVE[0]
    cols = np.broadcast_to(np.arange(G)[None, :], (resp.size, G))
    j = k[:, None] - shift[None, :]  # (W, G) rest index of f at shift floor(s)
    np.add.at(W, (np.clip(j + 1, 0, L), cols), resp[:, None] * (1.0 - phi)[None, :])
    np.add.at(W, (np.clip(j, 0, L), cols), resp[:, None] * phi[None, :])
    W = W[1:]
    W[:_I1216] *= _igm_blue(WAVE[:_I1216], z_grid).T
    return W


def band_fluxes(shape, z, l5500, band_list, chunk: int = 2000, foreground_ebv=None):
    """Noise-free AB band fluxes [nJy] of rest-frame SEDs seen at redshift ``z``.

    Parameters
    ----------
    shape : array (N, L)
        SED shapes from :func:`sed_shape` (L_λ / L_λ,stars(5500 Å)) on :data:`WAVE`.
    z : array (N,)
        Redshifts (≥ 0; distances use max(z, 1e-4)).
    l5500 : array (N,)
        Stellar L_λ(5500 Å) [erg/s/Å] (see :func:`luminosity_5500`).
    band_list : list of (column, survey, band)
        From :func:`astrolab.sim.filters.resolve_bands` (only survey and band are used).
    chunk : int
        Objects per block.
    foreground_ebv : array (N,), optional
        Milky-Way foreground E(B−V) [mag] of each line of sight: the
        observed-frame spectrum is reddened with
        :func:`astrolab.sim.dust.milky_way_extinction` (CCM89, R_V = 3.1)
        inside each filter before integration. None (default): no foreground.

    Returns
    -------
    ndarray (N, B)
        Band fluxes [nJy]: photon-counting mean f_ν through the speclite curve,
        IGM (and the foreground, when given) applied, f_ν = (1+z) L_ν / (4π D_L²).
    """
    z = np.asarray(z, float)
    shape = np.asarray(shape, float)
    l5500 = np.broadcast_to(np.asarray(l5500, float), z.shape)
    keys = [(sv, b) for _, sv, b in band_list]
    fg = None if foreground_ebv is None else np.broadcast_to(np.asarray(foreground_ebv, float), z.shape)
    dl_cm = luminosity_distance_cm(np.clip(z, 1e-4, None))
    lam_fac = WAVE ** 2 * 1e-8 / _C_CM  # L_lambda [/Angstrom] -> L_nu [/Hz]
    out = np.empty((len(z), len(keys)))
    for start in range(0, len(z), chunk):
        sl = slice(start, start + chunk)
        zz = z[sl]
        scale = l5500[sl] * (1 + zz) / (4 * np.pi * dl_cm[sl] ** 2) * 1e32  # -> nJy
        fnu = shape[sl] * lam_fac[None, :]
        fnu *= scale[:, None]
        fnu[:, :_I1216] *= _igm_blue(WAVE[:_I1216], zz)
        out[sl] = _band_means(fnu, zz, keys, None if fg is None else fg[sl])
    return out


# ----------------------------------------------------------------------------------------------
# physical-unit conveniences
# ----------------------------------------------------------------------------------------------
def _params_arrays(params) -> dict:
    """Normalise a parameter mapping (dict, Table row/table) to float arrays of equal length."""
    names = list(params.keys()) if hasattr(params, "keys") else list(getattr(params, "colnames", []))
    missing = [p for p in PARAM_NAMES if p not in names and p not in _PARAM_DEFAULTS]
    if missing:
        raise invalid("SED params", f"missing {missing}",
                      f"pass a mapping with {list(PARAM_NAMES)} (agn_frac, log_mstar optional)")
    n = int(np.size(params["age"]))
    out = {}
    for p in (*PARAM_NAMES, "log_mstar"):
        val = params[p] if p in names else _PARAM_DEFAULTS[p]
        out[p] = np.broadcast_to(np.asarray(val, float).ravel() if np.ndim(val) else float(val), (n,))
    return out


def sed_flambda(params, wave_rest=None):
    """Rest-frame L_λ [erg/s/Å] of galaxies described by ``params``.

    Parameters
    ----------
    params : mapping
        Arrays (N,) or scalars: ``age`` [Gyr], ``metallicity`` [log Z/Zsun],
        ``log_ssfr`` [log10 1/yr], ``ebv`` [mag], optional ``agn_frac`` (0) and
        ``log_mstar`` [log10 Msun] (10). A simulated catalog works as is.
    wave_rest : array (M,), optional
        Rest wavelengths [Angstrom]; default :data:`WAVE`.

    Returns
    -------
    ndarray (N, M)
        L_λ [erg/s/Å] (zero outside 400 Å – 35 µm).
    """
    p = _params_arrays(params)
    lum = sed_shape(p["age"], p["metallicity"], p["log_ssfr"], p["ebv"], p["agn_frac"])
    lum *= luminosity_5500(p["log_mstar"], p["age"])[:, None]
    if wave_rest is None:
        return lum
    wr = np.asarray(wave_rest, float)
    return np.stack([np.interp(wr, WAVE, row, left=0.0, right=0.0) for row in lum])


def observed_fnu(params, z, wave_obs):
    """Observed-frame f_ν [nJy] of galaxies at redshifts ``z`` (IGM included).

    Parameters
    ----------
    params : mapping
        As in :func:`sed_flambda` (arrays of length N or scalars).
    z : float or array (N,)
        Redshifts (> 0).
    wave_obs : array (M,)
        Observed wavelengths [Angstrom], increasing.

    Returns
    -------
    ndarray (N, M)
        f_ν = (1 + z) L_ν(λ_obs / (1 + z)) / (4π D_L²) × T_IGM [nJy].
    """
    p = _params_arrays(params)
    n = p["age"].size
    z = np.broadcast_to(np.asarray(z, float), (n,))
    wo = np.asarray(wave_obs, float)
    lum = sed_flambda(p)
    out = np.empty((n, wo.size))
    dl = luminosity_distance_cm(np.clip(z, 1e-4, None))
    for i in range(n):
        wr = wo / (1 + z[i])
        l_lam = np.interp(wr, WAVE, lum[i], left=0.0, right=0.0)
        fnu = l_lam * wr ** 2 * 1e-8 / _C_CM * (1 + z[i]) / (4 * np.pi * dl[i] ** 2) * 1e32
        out[i] = fnu * igm_transmission(np.maximum(wr, 1.0), z[i:i + 1])[0] if wr.size else fnu
    return out


# ----------------------------------------------------------------------------------------------
# the template library shared by the simulator and the oracle
# ----------------------------------------------------------------------------------------------
_DEFAULT_GRID = {
    "age": (0.05, 0.15, 0.4, 1.0, 2.2, 4.5, 9.0),
    "metallicity": (-0.6, -0.15, 0.25),
    "log_ssfr": (-11.5, -10.3, -9.85, -9.45, -9.05, -8.65),
    "ebv": (0.0, 0.1, 0.2, 0.32, 0.5),
}


class TemplateLibrary:
    """A set of SEDs of the model (:func:`sed_shape`) on a parameter grid.

    The simulator draws each galaxy's parameters from continuous scaling
    relations, i.e. a library template plus a continuous perturbation, and
    records the nearest template (``template_index``); the oracle fits the
    library's redshifted photometry.

    Parameters
    ----------
    params : mapping of str to array (T,)
        ``age`` [Gyr], ``metallicity`` [log Z/Zsun], ``log_ssfr`` [log10 1/yr],
        ``ebv`` [mag], optional ``agn_frac`` (default 0).

    Attributes
    ----------
    params : dict of ndarray (T,)
    shapes : ndarray (T, L)
        :func:`sed_shape` of each template on :data:`WAVE`.
    """

    def __init__(self, params):
        p = _params_arrays(params)
        self.params = {k: np.array(p[k]) for k in PARAM_NAMES}
        if self.params["age"].size == 0:
            raise invalid("TemplateLibrary(params)", "has no templates", "pass arrays with at least one entry")
        self._shapes = None
        self._fluxes = {}

    @classmethod
    def default(cls, include_agn: bool = False, grid: dict | None = None) -> "TemplateLibrary":
        """The standard grid: age × metallicity × log sSFR × E(B−V) (× AGN fraction).

        Parameters
        ----------
        include_agn : bool
            Add AGN templates (AGN fraction 0.35 and 0.7 on a reduced host grid).
        grid : dict, optional
            Override the grid values of ``age``, ``metallicity``, ``log_ssfr``, ``ebv``.

        Returns
        -------
        TemplateLibrary
            7 ages (0.05–9 Gyr) × 3 metallicities × 6 sSFR × 5 E(B−V) = 630
            templates (+ 2 × 7 × 6 × 3 = 252 AGN templates with ``include_agn``).
        """
        g = dict(_DEFAULT_GRID, **(grid or {}))
        rows = list(itertools.product(g["age"], g["metallicity"], g["log_ssfr"], g["ebv"], (0.0,)))
        if include_agn:
            rows += list(itertools.product(g["age"], (0.0,), g["log_ssfr"], g["ebv"][::2], (0.35, 0.7)))
        arr = np.array(rows, dtype=float)
        return cls({k: arr[:, i] for i, k in enumerate(PARAM_NAMES)})

    def __len__(self) -> int:
        return int(self.params["age"].size)

    @property
    def n_templates(self) -> int:
        """Number of templates T."""
        return len(self)

    def __repr__(self) -> str:
        return f"TemplateLibrary({len(self)} templates, agn={bool(np.any(self.params['agn_frac'] > 0))})"

    @property
    def shapes(self) -> np.ndarray:
        """SED shapes (T, L) of the templates on :data:`WAVE` (:func:`sed_shape`; cached)."""
        if self._shapes is None:
            p = self.params
            self._shapes = sed_shape(p["age"], p["metallicity"], p["log_ssfr"], p["ebv"], p["agn_frac"])
        return self._shapes

    def fluxes(self, z_grid, band_list) -> np.ndarray:
        """Band fluxes of every template on a redshift grid (cached).

        Parameters
        ----------
        z_grid : array (G,)
            Redshifts.
        band_list : list of (column, survey, band)
            From :func:`astrolab.sim.filters.resolve_bands`.

        Returns
        -------
        ndarray (T, G, B)
            Fluxes [nJy] of a template with stellar L_λ(5500 Å) = 1e40 erg/s/Å
            (distance dimming included; z < 1e-4 is treated as 1e-4).
        """
        z_grid = np.asarray(z_grid, float)
        key = (tuple((sv, b) for _, sv, b in band_list), z_grid.tobytes())
        if key not in self._fluxes:
            lam_fac = WAVE ** 2 * 1e-8 / _C_CM  # L_lambda -> L_nu
            fnu_rest = self.shapes * lam_fac[None, :]  # (T, L)
            scale = 1e40 * (1 + z_grid) / (4 * np.pi * luminosity_distance_cm(np.clip(z_grid, 1e-4, None)) ** 2) * 1e32
            flux = np.stack([(fnu_rest @ _band_matrix(sv, b, z_grid)) * scale[None, :] for _, sv, b in band_list],
                            axis=-1)
            self._fluxes[key] = flux
        return self._fluxes[key]

    def allowed(self, z_grid) -> np.ndarray:
        """(T, G) bool: template age ≤ age of the universe at each redshift of ``z_grid``."""
        return self.params["age"][:, None] <= age_of_universe_gyr(np.asarray(z_grid, float))[None, :] + 1e-6

    def nearest(self, params) -> np.ndarray:
        """Index (N,) of the library template closest to each parameter set.

        Distance in scaled coordinates: log10 age / 0.3, metallicity / 0.3,
        f_young(log sSFR) / 0.15, E(B−V) / 0.1 and AGN fraction / 0.2.

        Parameters
        ----------
        params : mapping of str to array (N,)
            As in :func:`sed_flambda`.

        Returns
        -------
        ndarray of int64 (N,)
        """
        p = _params_arrays(params)

        def coords(q):
            f_young = np.clip(0.5 + 0.45 * (q["log_ssfr"] + 9.5), 0.0, 0.9)
            return np.column_stack([np.log10(np.clip(q["age"], 0.01, None)) / 0.3, q["metallicity"] / 0.3,
                                    f_young / 0.15, q["ebv"] / 0.1, q["agn_frac"] / 0.2])

        lib, obj = coords(self.params), coords(p)
        out = np.empty(len(obj), dtype=np.int64)
        for s in range(0, len(obj), 4096):
            d = ((obj[s:s + 4096, None, :] - lib[None, :, :]) ** 2).sum(axis=2)
            out[s:s + 4096] = np.argmin(d, axis=1)
        return out
