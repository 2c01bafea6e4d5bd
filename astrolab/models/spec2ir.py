"""Optical spectrum -> WISE infrared networks (papers.md section 4, Jespersen et al.).

- :class:`SpectrumEncoder` -- spender-like encoder: 1-D convolutions over the
  observed spectrum (flux, pixel weight and the pixel's *rest-frame* wavelength,
  which makes it redshift-aware) -> attention pooling over wavelength -> a few latents;
- :class:`RestFrameDecoder` -- latents -> rest-frame spectrum on a fixed log-lambda
  grid, shifted by (1 + z) and interpolated onto the observed pixels;
- :class:`HeteroscedasticHead` -- MLP predicting log W1-W4 (relative to the
  spectrum's flux scale) and a fractional model uncertainty per band;
- :class:`Spec2IR` -- autoencoder + IR head trained jointly: loss =
  ``recon_weight x chi2 reconstruction + Gaussian NLL of the WISE fluxes`` with
  variance sigma_obs^2 + sigma_model^2;
- :class:`SeparableSED` -- the deliberately misspecified baseline: the same head on
  continuum colours (flux in line-free rest-frame windows) and z only.

Batches are tuples of tensors made by :func:`spec2ir_tensors` /
:func:`baseline_tensors`; every flux is divided by the spectrum's scale ``s``
(median unmasked flux), so the networks work on normalised quantities and the
predictions are multiplied back by ``s``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from astrolab.errors import invalid

__all__ = ["SpectrumEncoder", "RestFrameDecoder", "HeteroscedasticHead", "Spec2IR", "SeparableSED",
           "spec2ir_tensors", "baseline_tensors", "gaussian_flux_nll", "flux_loss"]

_LL0, _LLS = 3.7, 0.2  # centring/scale of log10 rest wavelength [A] for the positional channel


def _spectrum_scale(spectra) -> np.ndarray:
    """Median unmasked flux per spectrum (N,), floored at a tiny positive value."""
    f = np.where(spectra.mask, np.nan, spectra.flux)
    s = np.nanmedian(f, axis=1)
    s = np.where(np.isfinite(s) & (s > 0), s, np.nan)
    if np.any(~np.isfinite(s)):
        bad = np.flatnonzero(~np.isfinite(s))[:5].tolist()
        raise invalid("Spec2IR spectra", f"spectra {bad} have no positive median flux",
                      "drop empty/negative spectra before fitting or predicting")
    return s


def spec2ir_tensors(spectra, wise_flux=None, wise_sigma=None, *, dtype=torch.float32):
    """Tensors of a batch for :class:`Spec2IR` from a :class:`~astrolab.data.SpectrumSet`.

    Parameters
    ----------
    spectra : SpectrumSet
        N spectra on a shared observed-frame grid (L,), with ``redshift`` and ``ivar``.
    wise_flux, wise_sigma : array_like (N, 4), optional
        Observed W1-W4 fluxes and their 1-sigma errors (any one unit, e.g. mJy).

    Returns
    -------
    tuple of torch.Tensor
        ``spec`` (N, 4, L): normalised flux (0 on masked pixels), pixel weight (1/0),
        normalised inverse variance (ivar x s^2, clipped at 1e4) and rest-frame
        log10 wavelength (centred, scaled); ``scal`` (N, 2): z and log10 s;
        then, when fluxes are given, ``y`` (N, 4) = flux / s and ``sig`` (N, 4) = sigma / s.
    scale : numpy.ndarray, shape (N,)
        The spectrum scale s (flux unit of the spectra).
    """
    if not spectra.shared_grid:
        raise invalid("Spec2IR spectra", "are on per-object wavelength grids",
                      "resample them first: spectra.resample(grid)")
    if spectra.redshift is None:
        raise invalid("Spec2IR spectra", "have no redshifts", "build the SpectrumSet with redshift=...")
    s = _spectrum_scale(spectra)
    good = ~spectra.mask
    flux = np.where(good, spectra.flux / s[:, None], 0.0)
    ivar = np.ones_like(flux) if spectra.ivar is None else spectra.ivar
    ivn = np.clip(np.where(good, ivar * s[:, None] ** 2, 0.0), 0.0, 1e4)
    rest = (np.log10(spectra.wavelength)[None, :] - np.log10(1.0 + spectra.redshift)[:, None] - _LL0) / _LLS
    spec = np.stack([flux, good.astype(float), ivn, rest], axis=1)
    scal = np.stack([spectra.redshift, np.log10(s)], axis=1)
    out = [torch.as_tensor(spec, dtype=dtype), torch.as_tensor(scal, dtype=dtype)]
    if wise_flux is not None:
        wf = np.asarray(wise_flux, dtype=float)
        ws = np.asarray(wise_sigma, dtype=float)
        if wf.shape != (len(s), 4) or ws.shape != wf.shape:
            raise invalid("Spec2IR wise_flux/wise_sigma", f"shapes {wf.shape}, {ws.shape}",
                          f"pass two arrays of shape ({len(s)}, 4)")
        if np.any(~np.isfinite(wf)) or np.any(~(ws > 0)):
            raise invalid("Spec2IR wise_flux/wise_sigma", "contain non-finite fluxes or sigma <= 0",
                          "drop objects without WISE photometry")
        out += [torch.as_tensor(wf / s[:, None], dtype=dtype), torch.as_tensor(ws / s[:, None], dtype=dtype)]
    return tuple(out), s


def baseline_tensors(spectra, wise_flux=None, wise_sigma=None, *, windows=None, dtype=torch.float32):
    """Tensors for :class:`SeparableSED`: continuum colours + z (no line information).

    Parameters
    ----------
    spectra : SpectrumSet
        N spectra with redshifts.
    wise_flux, wise_sigma : array_like (N, 4), optional
        W1-W4 fluxes and 1-sigma errors.
    windows : array_like (K, 2), optional
        Rest-frame windows [A] (default :func:`astrolab.sim.spectra.continuum_windows`).

    Returns
    -------
    tuple of torch.Tensor
        ``feat`` (N, 2K+1): log10(window flux / s) (0 where not covered), coverage
        flags, z; then ``y`` (N, 4) and ``sig`` (N, 4) normalised by s when fluxes are given.
    scale : numpy.ndarray, shape (N,)
    """
    from astrolab.sim.spectra import continuum_colours

    s = _spectrum_scale(spectra)
    col, cov = continuum_colours(spectra, windows)
    with np.errstate(invalid="ignore", divide="ignore"):
        lc = np.log10(np.clip(col / s[:, None], 1e-3, None))
    lc = np.where(cov, lc, 0.0)
    feat = np.concatenate([lc, cov.astype(float), spectra.redshift[:, None]], axis=1)
    out = [torch.as_tensor(feat, dtype=dtype)]
    if wise_flux is not None:
        wf, ws = np.asarray(wise_flux, float), np.asarray(wise_sigma, float)
        out += [torch.as_tensor(wf / s[:, None], dtype=dtype), torch.as_tensor(ws / s[:, None], dtype=dtype)]
    return tuple(out), s


def flux_loss(log_mean, log_sig_model, y, sig):
    """Training loss: weighted ln-flux chi^2 for the mean + Gaussian NLL for the model sigma.

    The mean is fitted with ``0.5 ((m - ln y) / (sig / y))^2`` (the chi^2 of the flux
    for small errors; never down-weighted by the model's own sigma), and the
    fractional model sigma with :func:`gaussian_flux_nll` on the detached mean. A
    plain heteroscedastic NLL lets the network inflate sigma_model instead of
    learning the mean (Seitzer et al. 2022).

    Parameters
    ----------
    log_mean, log_sig_model, y, sig : torch.Tensor (B, 4)
        As :func:`gaussian_flux_nll`.

    Returns
    -------
    torch.Tensor
        Scalar loss (nats-like units).
    """
    yp = torch.maximum(y, sig)
    chi = 0.5 * (((log_mean - torch.log(yp)) * yp / sig) ** 2).mean()
    return chi + gaussian_flux_nll(log_mean.detach(), log_sig_model, y, sig)


def gaussian_flux_nll(log_mean, log_sig_model, y, sig):
    """Gaussian NLL of normalised fluxes with a log-parametrised mean.

    Parameters
    ----------
    log_mean : torch.Tensor (B, 4)
        Predicted ln(flux / s).
    log_sig_model : torch.Tensor (B, 4)
        ln of the model's fractional uncertainty (sigma_model = exp(.) x mean).
    y, sig : torch.Tensor (B, 4)
        Observed normalised flux and its known 1-sigma error.

    Returns
    -------
    torch.Tensor
        Scalar: mean over objects and bands of 0.5 [r^2 + ln(2 pi var)] with
        ``var = sig^2 + sigma_model^2`` (nats).
    """
    mean = torch.exp(log_mean.clamp(-20, 20))
    var = sig**2 + (mean * torch.exp(log_sig_model)) ** 2
    return 0.5 * (((y - mean) ** 2) / var + torch.log(2 * math.pi * var)).mean()


class HeteroscedasticHead(nn.Module):
    """MLP -> (ln mean, ln fractional model sigma) for B bands.

    Parameters
    ----------
    n_in : int
        Input features.
    hidden : int
        Width of the two hidden layers.
    n_bands : int
        Number of output bands (4 for WISE).
    """

    def __init__(self, n_in: int, hidden: int = 128, n_bands: int = 4):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, 2 * n_bands))
        self.n_bands = n_bands
        self.register_buffer("y_loc", torch.zeros(n_bands))
        self.register_buffer("y_scale", torch.ones(n_bands))

    def set_target_scaling(self, y) -> None:
        """Centre/scale the ln-flux outputs on training targets ``y`` (N, n_bands) (> 0 where used)."""
        ly = np.log(np.clip(np.asarray(y, dtype=np.float64), 1e-30, None))
        self.y_loc.copy_(torch.as_tensor(np.median(ly, axis=0), dtype=self.y_loc.dtype))
        self.y_scale.copy_(torch.as_tensor(np.clip(ly.std(axis=0), 1e-3, None), dtype=self.y_scale.dtype))

    def forward(self, x):
        """``x`` (B, n_in) -> ``(ln mean (B, n_bands), ln sigma_frac (B, n_bands))``."""
        o = self.net(x)
        return self.y_loc + self.y_scale * o[:, : self.n_bands], o[:, self.n_bands:].clamp(-9.0, 2.0) - 2.0


def _interp_rows(values, pos):
    """Linear interpolation of ``values`` (B, L) at fractional indices ``pos`` (B, M) (clamped)."""
    n = values.shape[-1]
    p = pos.clamp(0, n - 1.001)
    i0 = p.floor().long()
    t = p - i0
    return torch.gather(values, -1, i0) * (1 - t) + torch.gather(values, -1, i0 + 1) * t


class SpectrumEncoder(nn.Module):
    """Redshift-aware spectrum encoder: de-redshift -> 1-D CNN -> attention pooling -> latents.

    The observed spectrum (flux and pixel weight) is interpolated onto a fixed
    rest-frame log-lambda grid using each galaxy's redshift (differentiably, so
    attributions flow back to observed pixels; rest pixels outside the observed
    range get weight 0). Three convolution stages then produce values and
    attention logits; the logits get a learned per-rest-wavelength bias, so the
    pooling can attend to specific lines (spender-like attention pooling).

    Parameters
    ----------
    obs_loglam : array_like, shape (L,)
        Observed log10 wavelength grid [A] (uniform steps).
    rest_loglam : array_like, shape (R,)
        Rest-frame log10 wavelength grid [A] of the encoder (uniform steps).
    n_latent : int
        Number of latents S.
    channels : tuple of int
        Widths of the three convolution stages.
    """

    def __init__(self, obs_loglam, rest_loglam, n_latent: int = 8, channels=(16, 32, 32)):
        super().__init__()
        self.register_buffer("obs_loglam", torch.as_tensor(np.asarray(obs_loglam, dtype=np.float32)))
        self.register_buffer("rest_loglam", torch.as_tensor(np.asarray(rest_loglam, dtype=np.float32)))
        c1, c2, c3 = channels
        self.conv = nn.Sequential(
            nn.Conv1d(2, c1, 5, padding=2), nn.PReLU(c1), nn.MaxPool1d(2),
            nn.Conv1d(c1, c2, 5, padding=2), nn.PReLU(c2), nn.MaxPool1d(2),
            nn.Conv1d(c2, 2 * c3, 5, padding=2))
        r4 = int(np.asarray(rest_loglam).size) // 4
        # random initial apertures: each pooled channel starts focused on a few rest wavelengths
        self.pos_bias = nn.Parameter(3.0 * torch.randn(1, c3, r4))
        self.mlp = nn.Sequential(nn.Linear(c3 + 1, 128), nn.SiLU(), nn.Linear(128, n_latent))

    def to_rest(self, flux, weight, z):
        """Observed flux, weight (B, L) and z (B,) -> rest-frame flux, weight (B, R)."""
        g = self.obs_loglam
        step = g[1] - g[0]
        obs_of_rest = self.rest_loglam[None, :] + torch.log10(1.0 + z)[:, None]
        pos = (obs_of_rest - g[0]) / step
        inside = ((pos >= 0) & (pos <= g.numel() - 1)).to(flux.dtype)
        w = _interp_rows(weight, pos) * inside
        w = (w > 0.999).to(flux.dtype)  # a rest pixel is good only when both neighbours are
        return _interp_rows(flux, pos) * w, w

    def forward(self, spec, z, return_attention: bool = False):
        """``spec`` (B, 4, L), ``z`` (B,) -> latents (B, S) [, attention (B, R/4)]."""
        f, w = self.to_rest(spec[:, 0], spec[:, 1], z)
        h = self.conv(torch.stack([f, w], dim=1))
        c = h.shape[1] // 2
        val, att = h[:, :c], h[:, c:] + self.pos_bias[..., : h.shape[-1]]
        wp = nn.functional.max_pool1d(w[:, None], 4)[:, 0, : h.shape[-1]]
        att = att.masked_fill(wp[:, None] < 0.5, -1e4)
        a = torch.softmax(att, dim=-1)
        pooled = (val * a).sum(-1)
        lat = self.mlp(torch.cat([pooled, z[:, None]], dim=1))
        if return_attention:
            return lat, a.mean(1)
        return lat


class RestFrameDecoder(nn.Module):
    """Latents -> rest-frame spectrum on a log grid -> observed pixels (shift by 1 + z).

    Parameters
    ----------
    n_latent : int
        Latents S.
    rest_loglam : array_like, shape (R,)
        Rest-frame log10 wavelength grid [A] of the decoded spectrum (uniform steps).
    hidden : int
        Width of the hidden layers.
    """

    def __init__(self, n_latent: int, rest_loglam, hidden: int = 256):
        super().__init__()
        g = torch.as_tensor(np.asarray(rest_loglam, dtype=np.float32))
        self.register_buffer("rest_loglam", g)
        self.net = nn.Sequential(nn.Linear(n_latent, 128), nn.SiLU(), nn.Linear(128, hidden), nn.SiLU(),
                                 nn.Linear(hidden, g.numel()))

    def forward(self, lat, rest_obs):
        """``lat`` (B, S), ``rest_obs`` (B, L) rest log10 wavelength of each observed pixel -> (B, L)."""
        r = self.net(lat) + 1.0
        g = self.rest_loglam
        step = g[1] - g[0]
        pos = ((rest_obs - g[0]) / step).clamp(0, g.numel() - 1.001)
        i0 = pos.floor().long()
        t = pos - i0
        return torch.gather(r, 1, i0) * (1 - t) + torch.gather(r, 1, i0 + 1) * t


class Spec2IR(nn.Module):
    """Spectrum autoencoder whose latents feed a heteroscedastic WISE regressor.

    Parameters
    ----------
    rest_loglam : array_like, shape (R,)
        Rest-frame log10 wavelength grid [A] of encoder and decoder (cover obs_range / (1 + z)).
    obs_loglam : array_like, shape (L,)
        Observed log10 wavelength grid [A] of the spectra.
    n_latent : int
        Latents S.
    channels : tuple of int
        Encoder convolution widths.
    recon_weight : float
        Weight of the reconstruction chi^2 (per pixel) relative to the WISE NLL.
    hidden : int
        Width of the IR head.

    Notes
    -----
    Batches: ``(spec (B, 4, L), scal (B, 2), y (B, 4), sig (B, 4))`` from :func:`spec2ir_tensors`.
    The IR head sees the latents, z and log10 s.
    """

    def __init__(self, rest_loglam, obs_loglam, n_latent: int = 8, channels=(16, 32, 32),
                 recon_weight: float = 0.05, hidden: int = 128):
        super().__init__()
        self.encoder = SpectrumEncoder(obs_loglam, rest_loglam, n_latent, channels)
        self.decoder = RestFrameDecoder(n_latent, rest_loglam)
        self.head = HeteroscedasticHead(n_latent + 2, hidden)
        self.recon_weight = float(recon_weight)

    def encode(self, spec, scal):
        """Latents (B, S)."""
        return self.encoder(spec, scal[:, 0])

    def forward(self, spec, scal):
        """``(ln mean (B, 4), ln sigma_frac (B, 4), latents (B, S))`` of the normalised WISE fluxes."""
        lat = self.encode(spec, scal)
        m, ls = self.head(torch.cat([lat, scal], dim=1))
        return m, ls, lat

    def reconstruct(self, spec, scal, lat=None):
        """Decoded normalised spectrum (B, L) on the observed pixels."""
        if lat is None:
            lat = self.encode(spec, scal)
        rest_obs = spec[:, 3] * _LLS + _LL0
        return self.decoder(lat, rest_obs)

    def losses(self, batch):
        """``(nll, recon_chi2)`` scalars for a batch."""
        spec, scal, y, sig = batch
        m, ls, lat = self(spec, scal)
        nll = flux_loss(m, ls, y, sig)
        rec = self.reconstruct(spec, scal, lat)
        w = spec[:, 1] * spec[:, 2]
        chi2 = (w * (rec - spec[:, 0]) ** 2).sum() / spec[:, 1].sum().clamp_min(1.0)
        return nll, chi2

    def loss(self, batch):
        """Training loss: WISE NLL + ``recon_weight`` x reconstruction chi^2 per pixel."""
        nll, chi2 = self.losses(batch)
        return nll + self.recon_weight * chi2

    def metrics(self, batch):
        """Validation metrics: ``nll``, ``recon_chi2`` and ``chi2_W1..W4`` (w.r.t. the observed sigma)."""
        spec, scal, y, sig = batch
        nll, chi2 = self.losses(batch)
        m, _, _ = self(spec, scal)
        c = (((torch.exp(m) - y) / sig) ** 2).mean(0)
        out = {"nll": nll, "recon_chi2": chi2}
        out.update({f"chi2_W{b + 1}": c[b] for b in range(4)})
        return out


class SeparableSED(nn.Module):
    """Misspecified baseline: WISE fluxes from continuum colours and z only.

    Parameters
    ----------
    n_in : int
        Features (2K + 1 for K continuum windows, see :func:`baseline_tensors`).
    hidden : int
        Width of the heteroscedastic head.

    Notes
    -----
    Batches: ``(feat (B, n_in), y (B, 4), sig (B, 4))``.
    """

    def __init__(self, n_in: int, hidden: int = 128):
        super().__init__()
        self.head = HeteroscedasticHead(n_in, hidden)

    def forward(self, feat):
        """``(ln mean (B, 4), ln sigma_frac (B, 4))``."""
        return self.head(feat)

    def loss(self, batch):
        """Gaussian NLL of the normalised WISE fluxes."""
        feat, y, sig = batch
        m, ls = self(feat)
        return flux_loss(m, ls, y, sig)

    def metrics(self, batch):
        """``chi2_W1..W4`` w.r.t. the observed sigma."""
        feat, y, sig = batch
        m, _ = self(feat)
        c = (((torch.exp(m) - y) / sig) ** 2).mean(0)
        return {f"chi2_W{b + 1}": c[b] for b in range(4)}
