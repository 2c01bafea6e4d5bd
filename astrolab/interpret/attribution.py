"""Attribute WISE predictions of :class:`astrolab.optical_ir.OpticalToIR` to spectral pixels.

Integrated gradients (captum) of ln(predicted flux / s) in one band with respect to
the normalised flux channel, from a baseline equal to the spectrum's running-median
continuum: attributions then measure what the *lines* (departures from the smooth
continuum) contribute. Stacking |attribution| in the rest frame over many galaxies
shows which rest wavelengths the model uses (papers.md section 4).
"""

from __future__ import annotations

import numpy as np

from astrolab.errors import invalid

__all__ = ["spectrum_attributions", "rest_frame_stack", "top_attributed_lines", "continuum_baseline"]


def continuum_baseline(flux, weight, width: int = 41):
    """Running median of normalised flux over unmasked pixels (the IG baseline).

    Parameters
    ----------
    flux, weight : numpy.ndarray, shape (N, L)
        Normalised flux and pixel weights (1 good / 0 masked).
    width : int
        Window [pixels] (odd).

    Returns
    -------
    numpy.ndarray, shape (N, L)
        Smooth continuum (masked pixels keep their flux value of 0).
    """
    from scipy.ndimage import median_filter

    f = np.asarray(flux, dtype=float)
    w = np.asarray(weight) > 0
    out = np.empty_like(f)
    for i in range(f.shape[0]):
        x = np.interp(np.arange(f.shape[1]), np.flatnonzero(w[i]), f[i, w[i]]) if w[i].any() else f[i]
        out[i] = median_filter(x, size=width, mode="nearest")
    return np.where(w, out, f)


def spectrum_attributions(model, spectra, band: int | str = "W3", n_steps: int = 32, batch: int = 64,
                          baseline: str = "continuum"):
    """Integrated-gradients attribution of one WISE prediction to each spectral pixel.

    Parameters
    ----------
    model : astrolab.optical_ir.OpticalToIR
        Fitted estimator.
    spectra : SpectrumSet
        N spectra on the model's grid.
    band : int or {"W1", "W2", "W3", "W4"}
        Band whose ln(predicted flux) is attributed.
    n_steps : int
        Integration steps of captum's IntegratedGradients.
    batch : int
        Spectra per captum call.
    baseline : {"continuum", "zero"}
        IG baseline: running-median continuum (attributes the lines) or zero flux.

    Returns
    -------
    numpy.ndarray, shape (N, L)
        Attributions [nats of ln flux] per pixel (0 on masked pixels); each row sums
        to ln f(spectrum) - ln f(baseline) up to the IG convergence error.
    """
    import torch
    from captum.attr import IntegratedGradients

    names = ("W1", "W2", "W3", "W4")
    b = names.index(band) if isinstance(band, str) and band in names else band
    if not isinstance(b, (int, np.integer)) or not 0 <= int(b) < 4:
        raise invalid("spectrum_attributions band", f"is {band!r}", "pass 0-3 or one of 'W1'..'W4'")
    if baseline not in ("continuum", "zero"):
        raise invalid("spectrum_attributions baseline", f"is {baseline!r}", "use 'continuum' or 'zero'")
    (spec, scal), _ = model._tensors(spectra)
    net = model.module_

    def forward(flux, rest, scal_):
        x = torch.cat([flux[:, None], rest], dim=1)
        m, _, _ = net(x, scal_)
        return m[:, int(b)]

    ig = IntegratedGradients(forward)
    out = []
    for i in range(0, spec.shape[0], batch):
        s = spec[i:i + batch]
        flux = s[:, 0].clone()
        if baseline == "continuum":
            base = torch.as_tensor(continuum_baseline(flux.numpy(), s[:, 1].numpy()), dtype=flux.dtype)
        else:
            base = torch.zeros_like(flux)
        a = ig.attribute(flux, baselines=base, additional_forward_args=(s[:, 1:], scal[i:i + batch]),
                         n_steps=n_steps, internal_batch_size=batch * n_steps)
        out.append((a * s[:, 1]).detach().numpy())
    return np.concatenate(out)


def rest_frame_stack(attributions, spectra, rest_grid=None, statistic: str = "mean_abs"):
    """Stack per-pixel attributions of N spectra on a rest-frame wavelength grid.

    Parameters
    ----------
    attributions : numpy.ndarray, shape (N, L)
        Per-pixel attributions (observed frame).
    spectra : SpectrumSet
        The spectra (wavelength grid and redshifts).
    rest_grid : array_like (R,), optional
        Bin centres [A]; default 3000-9000 A in 4 A bins.
    statistic : {"mean_abs", "mean"}
        Average of |attribution| or of the signed attribution per bin, over the
        galaxies that cover it.

    Returns
    -------
    rest_grid : numpy.ndarray, shape (R,)
    stacked : numpy.ndarray, shape (R,)
        Mean attribution per rest-frame bin (NaN where no galaxy covers it).
    """
    a = np.asarray(attributions, dtype=float)
    if a.shape != spectra.shape:
        raise invalid("rest_frame_stack attributions", f"shape {a.shape} differs from spectra {spectra.shape}",
                      "pass attributions computed on these spectra")
    grid = np.arange(3000.0, 9000.0, 4.0) if rest_grid is None else np.asarray(rest_grid, dtype=float)
    edges = np.concatenate([[grid[0] - (grid[1] - grid[0]) / 2], (grid[1:] + grid[:-1]) / 2,
                            [grid[-1] + (grid[-1] - grid[-2]) / 2]])
    val = np.abs(a) if statistic == "mean_abs" else a
    tot = np.zeros(grid.size)
    cnt = np.zeros(grid.size)
    for i in range(a.shape[0]):
        rest = spectra.wavelength_of(i) / (1.0 + spectra.redshift[i])
        good = ~spectra.mask[i]
        j = np.digitize(rest[good], edges) - 1
        ok = (j >= 0) & (j < grid.size)
        np.add.at(tot, j[ok], val[i, good][ok])
        covered = np.unique(j[ok])
        cnt[covered] += 1
    with np.errstate(invalid="ignore"):
        return grid, np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


def top_attributed_lines(rest_grid, stacked, lines: dict, k: int = 8, tol: float = 12.0, min_sep: float = 30.0):
    """Strongest attribution peaks and the planted lines they match.

    Parameters
    ----------
    rest_grid, stacked : numpy.ndarray, shape (R,)
        Output of :func:`rest_frame_stack`.
    lines : dict
        Line name -> rest wavelength [A] (informative lines and decoys together).
    k : int
        Number of peaks kept.
    tol : float
        A peak within ``tol`` [A] of a line matches it.
    min_sep : float
        Minimum separation of kept peaks [A].

    Returns
    -------
    list of dict
        ``{"wavelength": A, "value": attribution, "line": name or None}``, strongest first.
    """
    g = np.asarray(rest_grid, float)
    v = np.where(np.isfinite(stacked), stacked, -np.inf)
    peaks = [i for i in range(1, len(v) - 1) if v[i] >= v[i - 1] and v[i] >= v[i + 1] and np.isfinite(v[i])]
    peaks.sort(key=lambda i: -v[i])
    kept = []
    for i in peaks:
        if all(abs(g[i] - g[j]) >= min_sep for j in kept):
            kept.append(i)
        if len(kept) == k:
            break
    out = []
    names = list(lines)
    cen = np.array([lines[n] for n in names], float)
    for i in kept:
        d = np.abs(cen - g[i])
        j = int(np.argmin(d)) if len(d) else -1
        out.append({"wavelength": float(g[i]), "value": float(v[i]),
                    "line": names[j] if j >= 0 and d[j] <= tol else None})
    return out
