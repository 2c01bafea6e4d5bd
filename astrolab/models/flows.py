"""Conditional normalising flows (zuko) with astrophysical mixture likelihoods.

:class:`GyroNSF` is the torch module behind :class:`astrolab.gyro.GyroFlow`
(ChronoFlow-style gyrochronology, Van-Lane et al. 2025). It models the density
of ``y = log10(P_rot / d)`` given the context ``(log10(age / Myr), (BP-RP)_0,
log10(sigma_C / mag))`` with a zuko neural spline flow, and wraps it in the
per-star likelihood used both for training and for age inference:

.. math::

    p(y \\mid t, C_{obs}, \\sigma) = w\\,\\int p_{flow}(y \\mid t, C, \\sigma)\\,
        \\pi(C \\mid C_{obs}, \\sigma)\\,dC + (1 - w)\\,U(y),
    \\qquad w = m\\,(1 - f_{out})

- ``m`` is the star's membership probability; a non-member's period says
  nothing about the cluster age, so with probability ``1 - m`` (and a small
  floor ``f_out`` for wrong periods, binaries...) the period is drawn from a
  uniform density ``U`` over the log-period range ``logp_range`` (dex).
- Colour prior: the true colour ``C`` has a uniform prior on ``colour_range``
  and the observed colour is ``C_obs ~ N(C, sigma)``, so the posterior of the
  true colour is a normal ``N(C_obs, sigma)`` truncated to ``colour_range``.
  It is integrated with ``n_colour_nodes``-point Gauss-Hermite quadrature
  (nodes outside the range get zero weight, the weights are renormalised).
  The evidence ``p(C_obs)`` of that prior (the "erf" term) does not depend on
  age and is therefore left out of the age likelihood.

All inputs are standardised inside the module with the buffers ``loc`` and
``scale`` (order: log age, colour, log sigma, log period), so the scalers
travel with ``state_dict()``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["GyroNSF", "BATCH_COLUMNS"]

#: Column order of the training tensor used by :meth:`GyroNSF.loss`.
BATCH_COLUMNS = ("log10_prot_d", "log10_age_myr", "bprp0_mag", "e_bprp0_mag", "membership")

_SIGMA_FLOOR = 1e-3  # mag; colour errors below this are raised to it


class GyroNSF(nn.Module):
    """Conditional neural spline flow for log10 P_rot with outlier mixture and colour marginalisation.

    Parameters
    ----------
    transforms : int
        Number of rational-quadratic spline transforms.
    hidden : tuple of int
        Hidden layer widths of each transform's hyper-network (context -> spline parameters).
    bins : int
        Spline bins per transform.
    n_colour_nodes : int
        Gauss-Hermite nodes used to marginalise the true colour (1 = no marginalisation).
    outlier_fraction : float
        ``f_out``: probability that even a certain member's period is an outlier.
    logp_range : (float, float)
        Support of the uniform outlier density in log10(P_rot / d).
    colour_range : (float, float)
        Support of the uniform prior on the true (BP-RP)_0 colour [mag].
    """

    def __init__(self, transforms: int = 3, hidden=(64, 64), bins: int = 8, n_colour_nodes: int = 5,
                 outlier_fraction: float = 0.05, logp_range=(-1.75, 2.5), colour_range=(-0.5, 5.0)):
        super().__init__()
        import zuko

        self.flow = zuko.flows.NSF(features=1, context=3, transforms=int(transforms),
                                   hidden_features=tuple(int(h) for h in hidden), bins=int(bins))
        self.outlier_fraction = float(outlier_fraction)
        self.logp_range = (float(logp_range[0]), float(logp_range[1]))
        self.colour_range = (float(colour_range[0]), float(colour_range[1]))
        nodes, weights = np.polynomial.hermite.hermgauss(int(n_colour_nodes))
        self.register_buffer("gh_nodes", torch.as_tensor(nodes * math.sqrt(2.0), dtype=torch.float32))
        self.register_buffer("gh_weights", torch.as_tensor(weights / math.sqrt(math.pi), dtype=torch.float32))
        self.register_buffer("loc", torch.zeros(4))
        self.register_buffer("scale", torch.ones(4))

    # -- scalers ---------------------------------------------------------------------
    def set_scalers(self, loc, scale) -> None:
        """Set the standardisation (order: log10 age/Myr, colour [mag], log10 sigma/mag, log10 P/d).

        Parameters
        ----------
        loc, scale : array_like, shape (4,)
            Means and standard deviations (``scale`` > 0).
        """
        self.loc.copy_(torch.as_tensor(np.asarray(loc, dtype=np.float32)))
        self.scale.copy_(torch.as_tensor(np.maximum(np.asarray(scale, dtype=np.float32), 1e-6)))

    # -- densities -------------------------------------------------------------------
    def flow_log_density(self, logp, log_age, colour, log_sigma) -> torch.Tensor:
        """Log density of the flow alone, per dex of period.

        Parameters
        ----------
        logp, log_age, colour, log_sigma : torch.Tensor, shape (N,)
            log10(P/d), log10(age/Myr), true (BP-RP)_0 [mag], log10(sigma_C/mag).

        Returns
        -------
        torch.Tensor, shape (N,)
            ``log p_flow(log10 P | age, C, sigma)`` [log of 1/dex].
        """
        ctx = torch.stack([log_age, colour, log_sigma], dim=-1)
        ctx = (ctx - self.loc[:3]) / self.scale[:3]
        y = ((logp - self.loc[3]) / self.scale[3]).unsqueeze(-1)
        return self.flow(ctx).log_prob(y) - torch.log(self.scale[3])

    def marginal_log_density(self, logp, log_age, colour_obs, sigma) -> torch.Tensor:
        """Flow density with the true colour integrated over its (truncated normal) posterior.

        Parameters
        ----------
        logp, log_age : torch.Tensor, shape (N,)
            log10(P/d) and log10(age/Myr).
        colour_obs, sigma : torch.Tensor, shape (N,)
            Observed (BP-RP)_0 and its 1-sigma error [mag].

        Returns
        -------
        torch.Tensor, shape (N,)
            ``log int p_flow(log10 P | age, C, sigma) pi(C | C_obs, sigma) dC`` [log 1/dex].
        """
        sigma = sigma.clamp_min(_SIGMA_FLOOR)
        k = self.gh_nodes.numel()
        cols = colour_obs.unsqueeze(-1) + sigma.unsqueeze(-1) * self.gh_nodes  # (N, K)
        lo, hi = self.colour_range
        inside = (cols >= lo) & (cols <= hi)
        w = self.gh_weights * inside
        norm = w.sum(-1, keepdim=True)
        # a colour (nearly) outside the prior range: fall back to the clamped observed colour
        fallback = norm <= 0
        w = torch.where(fallback, torch.full_like(w, 1.0 / k), w / norm.clamp_min(1e-30))
        cols = torch.where(fallback, colour_obs.clamp(lo, hi).unsqueeze(-1).expand_as(cols), cols)
        log_sigma = torch.log10(sigma)
        expand = lambda v: v.unsqueeze(-1).expand_as(cols).reshape(-1)  # noqa: E731
        lp = self.flow_log_density(expand(logp), expand(log_age), cols.reshape(-1), expand(log_sigma))
        lp = lp.reshape(cols.shape)
        return torch.logsumexp(lp + torch.log(w.clamp_min(1e-30)), dim=-1)

    def log_likelihood(self, logp, log_age, colour_obs, sigma, membership) -> torch.Tensor:
        """Per-star mixture log-likelihood (flow for members, uniform outliers).

        Parameters
        ----------
        logp, log_age, colour_obs, sigma : torch.Tensor, shape (N,)
            As in :meth:`marginal_log_density`.
        membership : torch.Tensor, shape (N,)
            Membership probability ``m`` in [0, 1].

        Returns
        -------
        torch.Tensor, shape (N,)
            ``log[w p_flow + (1 - w) U]`` with ``w = m (1 - f_out)`` [log 1/dex].
        """
        w = (membership.clamp(0.0, 1.0) * (1.0 - self.outlier_fraction)).clamp(1e-6, 1.0 - 1e-6)
        lo, hi = self.logp_range
        log_u = torch.where((logp >= lo) & (logp <= hi), torch.full_like(logp, -math.log(hi - lo)),
                            torch.full_like(logp, -30.0))
        lf = self.marginal_log_density(logp, log_age, colour_obs, sigma)
        return torch.logaddexp(torch.log(w) + lf, torch.log1p(-w) + log_u)

    # -- engine protocol -------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log-likelihood of rows ``x`` (B, 5) with columns :data:`BATCH_COLUMNS`; returns (B,)."""
        return self.log_likelihood(x[:, 0], x[:, 1], x[:, 2], x[:, 3], x[:, 4])

    def loss(self, batch) -> torch.Tensor:
        """Mean negative log-likelihood [nats per star] of a batch ``(x,)`` with ``x`` (B, 5)."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return -self.forward(x).mean()

    def metrics(self, batch) -> dict:
        """Extra per-batch metrics for the engine: the flow-only NLL of likely members."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        with torch.no_grad():
            lf = self.marginal_log_density(x[:, 0], x[:, 1], x[:, 2], x[:, 3])
            keep = x[:, 4] > 0.5
            val = -(lf[keep].mean() if keep.any() else lf.mean())
        return {"member_nll": val}
