"""daep: a Perceiver encoder + Perceiver-IO diffusion decoder; maep and VAE: the baselines.

Shen & Gagliano (``/work/shared/papers.md`` section 2). Both models encode an irregular
multi-band sequence (value, continuous position, band) into a bottleneck ``z`` of
``n_latents x d_model`` with :class:`~astrolab.models.perceiver.PerceiverEncoder`; they differ in
the decoder:

- :class:`DAEP` -- the decoder is a score network: query tokens built from the *noisy* values
  ``x_t`` at the requested positions (plus a diffusion-time embedding) cross-attend to ``z`` and
  predict the noise ``eps`` (DDPM, linear beta schedule 1e-4 -> 0.02 over ``n_steps``; loss =
  eps-MSE on valid entries). Reconstruction = DDIM sampling from Gaussian noise conditioned on ``z``.
- :class:`MAEP` -- a random ``mask_ratio`` of the valid tokens is hidden from the encoder; query
  tokens built from positions and bands only cross-attend to ``z`` and predict the values
  deterministically (MSE on the hidden entries).
- :class:`VAE` -- the same encoder output is mapped to the mean and log-variance of a diagonal
  Gaussian latent of the same size (``n_latents x d_model``), sampled with the reparameterisation
  trick; the deterministic decoder of :class:`MAEP` reads the values at the requested positions.
  Loss = MSE on all valid entries + ``beta`` x KL(q(z|x) || N(0, 1)) averaged over latent dimensions.

All three share the interface used by :mod:`astrolab.autoencoders`: ``loss(batch)``,
``encode(batch)``, ``reconstruct(batch, time, band, ...)`` and ``latent_features(batch)``, and a
``value_scale``: values are multiplied by it before tokenisation and in every loss (so that they
have about unit variance, the paper's standardisation), and reconstructions are returned in the
units of ``batch["value"]``.

Batches are dicts (or tuples in the order ``("time", "value", "band", "mask")``): ``time`` (B, T)
positions scaled to about [0, 1], ``value`` (B, T) normalised values, ``band`` (B, T) int64,
``mask`` (B, T) bool True = valid.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from astrolab.models.perceiver import CrossAttentionBlock, PerceiverEncoder
from astrolab.errors import invalid
from astrolab.models.sequence import SequenceTokenizer, SinusoidalEmbedding

__all__ = ["SEQ_KEYS", "PREDICTIONS", "PerceiverDecoder", "DAEP", "MAEP", "VAE", "gaussian_kl"]

SEQ_KEYS = ("time", "value", "band", "mask")

#: What the DAEP score network predicts (all parameterise the same DDPM; they differ in the
#: implied weighting of the noise levels: eps-MSE = SNR(t) x x0-MSE, v-MSE = (1 + SNR(t)) x x0-MSE).
PREDICTIONS = ("eps", "v", "x0")


def _as_dict(batch) -> dict:
    return batch if isinstance(batch, dict) else dict(zip(SEQ_KEYS, batch))


class PerceiverDecoder(nn.Module):
    """Perceiver-IO decoder: query tokens cross-attend to a latent context, then a linear read-out.

    Shapes
    ------
    queries (B, T, D), context (B, L, D) -> (B, T) predicted values
    """

    def __init__(self, d_model: int = 32, n_blocks: int = 2, n_heads: int = 4):
        super().__init__()
        self.blocks = nn.ModuleList([CrossAttentionBlock(d_model, n_heads, self_attention=False) for _ in range(n_blocks)])
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, 1)

    def forward(self, queries, context):
        h = queries
        for blk in self.blocks:
            h = blk(h, context)
        return self.out(self.norm(h)).squeeze(-1)


class _Base(nn.Module):
    def __init__(self, d_model, n_latents, n_blocks, n_bands, n_heads, value_scale=1.0):
        super().__init__()
        for name, v in (("d_model", d_model), ("n_latents", n_latents), ("n_blocks", n_blocks), ("n_bands", n_bands),
                        ("n_heads", n_heads)):
            if isinstance(v, bool) or not isinstance(v, (int,)) or v < 1:
                raise invalid(f"{type(self).__name__}({name}=...)", f"got {v!r}", "pass a positive integer")
        if d_model % n_heads or d_model % 2:
            raise invalid(f"{type(self).__name__}(d_model=...)", f"d_model={d_model} is odd or not divisible by n_heads={n_heads}",
                          "pass an even d_model that n_heads divides (e.g. 32 with 4 heads)")
        if not (isinstance(value_scale, (int, float)) and math.isfinite(value_scale) and value_scale > 0):
            raise invalid(f"{type(self).__name__}(value_scale=...)", f"got {value_scale!r}",
                          "pass a finite positive float, e.g. astrolab.autoencoders.value_scale(batch)")
        self.value_scale = float(value_scale)
        self.config = dict(d_model=d_model, n_latents=n_latents, n_blocks=n_blocks, n_bands=n_bands, n_heads=n_heads,
                           value_scale=self.value_scale)
        self.tokenizer = SequenceTokenizer(d_model, n_values=1, n_positions=1, n_bands=n_bands)
        self.encoder = PerceiverEncoder(d_model, n_latents, n_blocks, n_heads)

    def _bottleneck(self, batch, keep=None) -> torch.Tensor:
        b = _as_dict(batch)
        m = b["mask"].bool() if keep is None else b["mask"].bool() & keep
        tok = self.tokenizer((b["value"] * self.value_scale)[..., None], b["time"][..., None], b["band"])
        return self.encoder(tok, m)

    def encode(self, batch, keep=None) -> torch.Tensor:
        """Bottleneck z (B, n_latents, d_model) from the valid (and ``keep``) tokens.

        Parameters
        ----------
        batch : dict or tuple
            ``time`` (B, T), ``value`` (B, T), ``band`` (B, T) int64, ``mask`` (B, T) bool True = valid.
        keep : torch.Tensor (B, T) bool, optional
            Tokens the encoder may see (besides ``mask``).
        """
        return self._bottleneck(batch, keep)

    def latent_features(self, batch) -> torch.Tensor:
        """Flattened bottleneck (B, n_latents * d_model) for probes and UMAP."""
        return self.encode(batch).flatten(1)


def _check_batch(model, batch) -> dict:
    b = _as_dict(batch)
    missing = [k for k in SEQ_KEYS if k not in b]
    if missing:
        raise invalid(f"{type(model).__name__} batch", f"lacks {missing}", f"pass a dict with keys {list(SEQ_KEYS)}")
    shape = tuple(b["value"].shape)
    bad = [k for k in SEQ_KEYS if tuple(b[k].shape) != shape]
    if len(shape) != 2 or bad:
        raise invalid(f"{type(model).__name__} batch", f"shapes {({k: tuple(b[k].shape) for k in SEQ_KEYS})} differ or are not (B, T)",
                      "pad every entry to (B, T), e.g. with astrolab.autoencoders.transient_batch")
    return b


class MAEP(_Base):
    """Masked autoencoder with a Perceiver encoder and a Perceiver-IO decoder.

    Parameters
    ----------
    d_model, n_latents, n_blocks, n_bands, n_heads : int
        Sizes (FAST: 32, 8, 2, 2, 4).
    mask_ratio : float
        Fraction of valid tokens hidden from the encoder during training.
    value_scale : float
        Values are multiplied by it inside the model (losses in scaled units; outputs in input units).

    Shapes
    ------
    batch entries (B, T) -> bottleneck (B, n_latents, d_model); reconstruction (B, T') at query positions.
    """

    def __init__(self, d_model: int = 32, n_latents: int = 8, n_blocks: int = 2, n_bands: int = 2, n_heads: int = 4,
                 mask_ratio: float = 0.5, value_scale: float = 1.0):
        super().__init__(d_model, n_latents, n_blocks, n_bands, n_heads, value_scale)
        if not 0 < mask_ratio < 1:
            raise invalid("MAEP(mask_ratio=...)", f"got {mask_ratio!r}", "pass a fraction in (0, 1), e.g. 0.5")
        self.mask_ratio = float(mask_ratio)
        self.config["mask_ratio"] = self.mask_ratio
        self.query = SequenceTokenizer(d_model, n_values=1, n_positions=1, n_bands=n_bands)
        self.decoder = PerceiverDecoder(d_model, n_blocks, n_heads)

    def decode(self, z, time, band) -> torch.Tensor:
        """Predicted values (B, T) in scaled units at positions ``time`` (B, T) in bands ``band`` (B, T)."""
        q = self.query(torch.zeros_like(time)[..., None], time[..., None], band)
        return self.decoder(q, z)

    def loss(self, batch) -> torch.Tensor:
        """MSE [scaled value^2] on the valid tokens hidden from the encoder (a scalar tensor)."""
        b = _check_batch(self, batch)
        valid = b["mask"].bool()
        hide = (torch.rand(valid.shape, device=valid.device) < self.mask_ratio) & valid
        z = self.encode(b, keep=~hide)
        pred = self.decode(z, b["time"], b["band"])
        w = hide.float()
        return ((pred - b["value"] * self.value_scale) ** 2 * w).sum() / w.sum().clamp_min(1.0)

    @torch.no_grad()
    def reconstruct(self, batch, time, band) -> torch.Tensor:
        """Values (B, T') at query positions ``time`` / ``band`` (B, T') from the valid tokens of ``batch``."""
        return self.decode(self.encode(batch), time, band) / self.value_scale


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL( N(mu, exp(logvar)) || N(0, 1) ) per element [nats].

    Parameters
    ----------
    mu, logvar : torch.Tensor (...)
        Mean and log-variance of a diagonal Gaussian.

    Returns
    -------
    torch.Tensor (...)
        ``0.5 * (mu^2 + exp(logvar) - 1 - logvar)`` (>= 0, zero only for mu = 0, logvar = 0).
    """
    return 0.5 * (mu ** 2 + logvar.exp() - 1.0 - logvar)


class VAE(_Base):
    """Variational autoencoder baseline with the daep/maep bottleneck (Perceiver encoder, Gaussian latent).

    The encoder output h (B, n_latents, d_model) is mapped by two linear layers to the mean ``mu`` and
    log-variance of q(z | x), a diagonal Gaussian of the same size; ``z = mu + exp(logvar / 2) * eps``
    (reparameterisation) feeds the deterministic Perceiver-IO decoder of :class:`MAEP`, which predicts
    the values at the requested positions. Loss = MSE over all valid entries [scaled value^2] +
    ``beta`` x KL(q || N(0, I)) averaged over the ``n_latents * d_model`` latent dimensions [nats].
    Reconstructions and latent features use ``mu``.

    Parameters
    ----------
    d_model, n_latents, n_blocks, n_bands, n_heads : int
        Sizes, as for :class:`DAEP` / :class:`MAEP`.
    beta : float
        KL weight (the paper's VAE: 0.1-0.5).
    value_scale : float
        Values are multiplied by it inside the model.

    Attributes
    ----------
    last_terms : dict
        ``recon``, ``kl`` and ``loss`` (floats) of the latest :meth:`loss` call.

    Shapes
    ------
    batch entries (B, T) -> ``mu``, ``logvar`` (B, n_latents, d_model); reconstruction (B, T').
    """

    def __init__(self, d_model: int = 32, n_latents: int = 8, n_blocks: int = 2, n_bands: int = 2, n_heads: int = 4,
                 beta: float = 0.1, value_scale: float = 1.0):
        super().__init__(d_model, n_latents, n_blocks, n_bands, n_heads, value_scale)
        if not (isinstance(beta, (int, float)) and math.isfinite(beta) and beta >= 0):
            raise invalid("VAE(beta=...)", f"got {beta!r}", "pass a finite KL weight >= 0 (the paper uses 0.1-0.5)")
        self.beta = float(beta)
        self.config["beta"] = self.beta
        self.to_mu = nn.Linear(d_model, d_model)
        self.to_logvar = nn.Linear(d_model, d_model)
        nn.init.zeros_(self.to_logvar.weight)
        nn.init.constant_(self.to_logvar.bias, -2.0)  # start with a narrow posterior; the KL widens it
        self.query = SequenceTokenizer(d_model, n_values=1, n_positions=1, n_bands=n_bands)
        self.decoder = PerceiverDecoder(d_model, n_blocks, n_heads)
        self.last_terms: dict = {}

    def posterior(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance (B, n_latents, d_model) of q(z | batch)."""
        h = self._bottleneck(batch)
        return self.to_mu(h), self.to_logvar(h).clamp(-10.0, 6.0)

    def encode(self, batch, keep=None) -> torch.Tensor:
        """Posterior mean ``mu`` (B, n_latents, d_model) (``keep`` (B, T) bool limits the visible tokens)."""
        h = self._bottleneck(batch, keep)
        return self.to_mu(h)

    def decode(self, z, time, band) -> torch.Tensor:
        """Predicted values (B, T) in scaled units at ``time`` / ``band`` (B, T) from latents ``z``."""
        q = self.query(torch.zeros_like(time)[..., None], time[..., None], band)
        return self.decoder(q, z)

    def loss_terms(self, batch) -> dict:
        """``recon`` (MSE on valid entries), ``kl`` (mean per latent dimension, nats) and ``loss`` (scalar tensors)."""
        b = _check_batch(self, batch)
        mu, logvar = self.posterior(b)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        pred = self.decode(z, b["time"], b["band"])
        w = b["mask"].float()
        recon = ((pred - b["value"] * self.value_scale) ** 2 * w).sum() / w.sum().clamp_min(1.0)
        kl = gaussian_kl(mu, logvar).mean()
        return {"recon": recon, "kl": kl, "loss": recon + self.beta * kl}

    def loss(self, batch) -> torch.Tensor:
        """``recon + beta * kl`` (a scalar tensor); the terms are kept in :attr:`last_terms`."""
        t = self.loss_terms(batch)
        self.last_terms = {k: float(v.detach()) for k, v in t.items()}
        return t["loss"]

    def metrics(self, batch) -> dict:
        """Validation metrics for :func:`astrolab.train.fit`: ``recon`` and ``kl``."""
        t = self.loss_terms(batch)
        return {"recon": t["recon"], "kl": t["kl"]}

    @torch.no_grad()
    def reconstruct(self, batch, time, band) -> torch.Tensor:
        """Values (B, T') at ``time`` / ``band`` (B, T') decoded from the posterior mean of ``batch``."""
        return self.decode(self.encode(batch), time, band) / self.value_scale


class DAEP(_Base):
    """Diffusion autoencoder: Perceiver encoder + Perceiver-IO score network (DDPM / DDIM).

    Parameters
    ----------
    d_model, n_latents, n_blocks, n_bands, n_heads : int
    n_steps : int
        Diffusion steps T of the DDPM schedule (linear beta 1e-4 -> 0.02 scaled to T).
    prediction : {"eps", "v", "x0"}
        Output of the score network: the noise (the paper's choice), the velocity
        ``sqrt(ab) eps - sqrt(1 - ab) x0`` or the clean values. The loss is the MSE of that target on the
        valid entries; all three define the same sampler (DDIM goes through the implied x0 and eps).
    value_scale : float
        Values are multiplied by it before diffusion (the paper standardises to unit variance).
    step_power : float
        Training steps are ``round(u ** step_power * (n_steps - 1))`` with u ~ U(0, 1): 1 = uniform (the
        paper's DDPM); < 1 favours high noise levels, where the prediction must come from the latent
        rather than from the noisy input.

    Shapes
    ------
    batch entries (B, T) -> bottleneck (B, n_latents, d_model); reconstruction (B, T').
    """

    def __init__(self, d_model: int = 32, n_latents: int = 8, n_blocks: int = 2, n_bands: int = 2, n_heads: int = 4,
                 n_steps: int = 1000, prediction: str = "eps", value_scale: float = 1.0, step_power: float = 1.0):
        super().__init__(d_model, n_latents, n_blocks, n_bands, n_heads, value_scale)
        if not (isinstance(step_power, (int, float)) and math.isfinite(step_power) and step_power > 0):
            raise invalid("DAEP(step_power=...)", f"got {step_power!r}", "pass a finite positive exponent (1 = uniform steps)")
        self.step_power = float(step_power)
        if prediction not in PREDICTIONS:
            raise invalid("DAEP(prediction=...)", f"got {prediction!r}", f"use one of {PREDICTIONS}")
        if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 2:
            raise invalid("DAEP(n_steps=...)", f"got {n_steps!r}", "pass an integer >= 2 (the paper: 1000)")
        self.n_steps = int(n_steps)
        self.prediction = prediction
        self.config.update(n_steps=self.n_steps, prediction=prediction, step_power=self.step_power)
        betas = torch.linspace(1e-4, 0.02, self.n_steps) * (1000.0 / self.n_steps)
        self.register_buffer("alpha_bar", torch.cumprod(1 - betas.clamp(max=0.999), 0), persistent=False)
        self.query = SequenceTokenizer(d_model, n_values=1, n_positions=1, n_bands=n_bands)
        self.t_emb = nn.Sequential(SinusoidalEmbedding(d_model, 1.0, 4.0 * self.n_steps), nn.Linear(d_model, d_model), nn.GELU(),
                                   nn.Linear(d_model, d_model))
        self.decoder = PerceiverDecoder(d_model, n_blocks, n_heads)

    def net(self, x_t, step, z, time, band) -> torch.Tensor:
        """Raw score-network output (B, T) (eps, v or x0, see ``prediction``) for scaled noisy values ``x_t``
        (B, T) at diffusion step ``step`` (B,)."""
        temb = self.t_emb(step.float())[:, None, :]
        q = self.query(x_t[..., None], time[..., None], band) + temb
        ctx = torch.cat([z, temb], dim=1)  # the diffusion-time token joins the latents
        return self.decoder(q, ctx)

    def _x0_eps(self, out, x_t, ab):
        """Clean estimate and noise implied by the network output ``out`` at cumulative alpha ``ab``."""
        if self.prediction == "eps":
            return (x_t - (1 - ab).sqrt() * out) / ab.sqrt(), out
        x0 = ab.sqrt() * x_t - (1 - ab).sqrt() * out if self.prediction == "v" else out
        return x0, (x_t - ab.sqrt() * x0) / (1 - ab).sqrt().clamp_min(1e-8)

    def eps(self, x_t, step, z, time, band) -> torch.Tensor:
        """Predicted noise (B, T) for scaled noisy values ``x_t`` (B, T) at diffusion step ``step`` (B,)."""
        out = self.net(x_t, step, z, time, band)
        return self._x0_eps(out, x_t, self.alpha_bar[step][:, None])[1]

    def loss(self, batch) -> torch.Tensor:
        """MSE of the ``prediction`` target on the valid entries at one random noise level per sequence (scalar tensor)."""
        b = _check_batch(self, batch)
        z = self.encode(b)
        x0 = b["value"] * self.value_scale
        if self.step_power == 1.0:
            step = torch.randint(0, self.n_steps, (x0.shape[0],), device=x0.device)
        else:
            u = torch.rand(x0.shape[0], device=x0.device) ** self.step_power
            step = (u * (self.n_steps - 1)).round().long()
        ab = self.alpha_bar[step][:, None]
        noise = torch.randn_like(x0)
        x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
        target = {"eps": noise, "v": ab.sqrt() * noise - (1 - ab).sqrt() * x0, "x0": x0}[self.prediction]
        w = b["mask"].float()
        return (((self.net(x_t, step, z, b["time"], b["band"]) - target) ** 2) * w).sum() / w.sum().clamp_min(1.0)

    @torch.no_grad()
    def reconstruct(self, batch, time, band, n_sample_steps: int = 50, clip: float | None = 3.0,
                    generator=None, n_samples: int = 1) -> torch.Tensor:
        """DDIM (eta = 0) sample of the values (B, T') at ``time`` / ``band`` (B, T') conditioned on ``batch``.

        Parameters
        ----------
        n_sample_steps : int
            DDIM steps (the paper: 200; FAST: 30-50).
        clip : float or None
            Bounds the intermediate clean-value estimate to [-clip, clip] in the units of ``batch["value"]``
            (None = off).
        generator : torch.Generator, optional
            Source of the initial Gaussian noise.
        n_samples : int
            Samples averaged (1 = one DDIM sample, as in the paper; more estimate the posterior mean).

        Returns
        -------
        torch.Tensor (B, T')
            In the units of ``batch["value"]``.
        """
        if isinstance(n_sample_steps, bool) or not isinstance(n_sample_steps, int) or not 1 <= n_sample_steps <= self.n_steps:
            raise invalid("DAEP.reconstruct(n_sample_steps=...)", f"got {n_sample_steps!r}", f"pass an integer in [1, {self.n_steps}]")
        z = self.encode(batch)
        steps = torch.linspace(self.n_steps - 1, 0, n_sample_steps, device=time.device).round().long()
        lim = None if clip is None else float(clip) * self.value_scale
        total = torch.zeros(time.shape, device=time.device)
        for _ in range(int(n_samples)):
            x = torch.randn(time.shape, generator=generator, device=time.device)
            for k, s in enumerate(steps):
                ab = self.alpha_bar[s]
                x0, e = self._x0_eps(self.net(x, s.expand(x.shape[0]), z, time, band), x, ab)
                if lim is not None:  # keep the clean estimate in the data range, then make eps consistent with it
                    x0 = x0.clamp(-lim, lim)
                    e = (x - ab.sqrt() * x0) / (1 - ab).sqrt().clamp_min(1e-8)
                ab_prev = self.alpha_bar[steps[k + 1]] if k + 1 < len(steps) else torch.tensor(1.0, device=x.device)
                x = ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * e
            total += x
        return total / (int(n_samples) * self.value_scale)
