"""daep: a Perceiver encoder + Perceiver-IO diffusion decoder; maep: the masked-autoencoder baseline.

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
from astrolab.models.sequence import SequenceTokenizer, SinusoidalEmbedding

__all__ = ["SEQ_KEYS", "PerceiverDecoder", "DAEP", "MAEP"]

SEQ_KEYS = ("time", "value", "band", "mask")


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
    def __init__(self, d_model, n_latents, n_blocks, n_bands, n_heads):
        super().__init__()
        self.config = dict(d_model=d_model, n_latents=n_latents, n_blocks=n_blocks, n_bands=n_bands, n_heads=n_heads)
        self.tokenizer = SequenceTokenizer(d_model, n_values=1, n_positions=1, n_bands=n_bands)
        self.encoder = PerceiverEncoder(d_model, n_latents, n_blocks, n_heads)

    def encode(self, batch, keep=None) -> torch.Tensor:
        """Bottleneck z (B, n_latents, d_model) from the valid (and ``keep``) tokens."""
        b = _as_dict(batch)
        m = b["mask"].bool() if keep is None else b["mask"].bool() & keep
        tok = self.tokenizer(b["value"][..., None], b["time"][..., None], b["band"])
        return self.encoder(tok, m)

    def latent_features(self, batch) -> torch.Tensor:
        """Flattened bottleneck (B, n_latents * d_model) for probes and UMAP."""
        return self.encode(batch).flatten(1)


class MAEP(_Base):
    """Masked autoencoder with a Perceiver encoder and a Perceiver-IO decoder.

    Parameters
    ----------
    d_model, n_latents, n_blocks, n_bands, n_heads : int
        Sizes (FAST: 32, 8, 2, 2, 4).
    mask_ratio : float
        Fraction of valid tokens hidden from the encoder during training.
    """

    def __init__(self, d_model: int = 32, n_latents: int = 8, n_blocks: int = 2, n_bands: int = 2, n_heads: int = 4,
                 mask_ratio: float = 0.5):
        super().__init__(d_model, n_latents, n_blocks, n_bands, n_heads)
        self.mask_ratio = float(mask_ratio)
        self.query = SequenceTokenizer(d_model, n_values=1, n_positions=1, n_bands=n_bands)
        self.decoder = PerceiverDecoder(d_model, n_blocks, n_heads)

    def decode(self, z, time, band) -> torch.Tensor:
        """Predicted values (B, T) at positions ``time`` (B, T) in bands ``band`` (B, T)."""
        q = self.query(torch.zeros_like(time)[..., None], time[..., None], band)
        return self.decoder(q, z)

    def loss(self, batch) -> torch.Tensor:
        b = _as_dict(batch)
        valid = b["mask"].bool()
        hide = (torch.rand(valid.shape, device=valid.device) < self.mask_ratio) & valid
        z = self.encode(b, keep=~hide)
        pred = self.decode(z, b["time"], b["band"])
        w = hide.float()
        return ((pred - b["value"]) ** 2 * w).sum() / w.sum().clamp_min(1.0)

    @torch.no_grad()
    def reconstruct(self, batch, time, band) -> torch.Tensor:
        """Values (B, T') at query positions ``time`` / ``band`` (B, T') from the valid tokens of ``batch``."""
        return self.decode(self.encode(batch), time, band)


class DAEP(_Base):
    """Diffusion autoencoder: Perceiver encoder + Perceiver-IO score network (DDPM / DDIM).

    Parameters
    ----------
    d_model, n_latents, n_blocks, n_bands, n_heads : int
    n_steps : int
        Diffusion steps T of the DDPM schedule (linear beta 1e-4 -> 0.02 scaled to T).
    """

    def __init__(self, d_model: int = 32, n_latents: int = 8, n_blocks: int = 2, n_bands: int = 2, n_heads: int = 4,
                 n_steps: int = 1000):
        super().__init__(d_model, n_latents, n_blocks, n_bands, n_heads)
        self.n_steps = int(n_steps)
        betas = torch.linspace(1e-4, 0.02, self.n_steps) * (1000.0 / self.n_steps)
        self.register_buffer("alpha_bar", torch.cumprod(1 - betas.clamp(max=0.999), 0), persistent=False)
        self.query = SequenceTokenizer(d_model, n_values=1, n_positions=1, n_bands=n_bands)
        self.t_emb = nn.Sequential(SinusoidalEmbedding(d_model, 1.0, 4.0 * self.n_steps), nn.Linear(d_model, d_model), nn.GELU(),
                                   nn.Linear(d_model, d_model))
        self.decoder = PerceiverDecoder(d_model, n_blocks, n_heads)

    def eps(self, x_t, step, z, time, band) -> torch.Tensor:
        """Predicted noise (B, T) for noisy values ``x_t`` (B, T) at diffusion step ``step`` (B,)."""
        temb = self.t_emb(step.float())[:, None, :]
        q = self.query(x_t[..., None], time[..., None], band) + temb
        ctx = torch.cat([z, temb], dim=1)  # the diffusion-time token joins the latents
        return self.decoder(q, ctx)

    def loss(self, batch) -> torch.Tensor:
        b = _as_dict(batch)
        z = self.encode(b)
        x0 = b["value"]
        step = torch.randint(0, self.n_steps, (x0.shape[0],), device=x0.device)
        ab = self.alpha_bar[step][:, None]
        noise = torch.randn_like(x0)
        x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
        w = b["mask"].float()
        return (((self.eps(x_t, step, z, b["time"], b["band"]) - noise) ** 2) * w).sum() / w.sum().clamp_min(1.0)

    @torch.no_grad()
    def reconstruct(self, batch, time, band, n_sample_steps: int = 50, clip: float | None = 3.0,
                    generator=None) -> torch.Tensor:
        """DDIM (eta = 0) sample of the values (B, T') at ``time`` / ``band`` (B, T') conditioned on ``batch``.

        ``clip`` bounds the intermediate clean-value estimate to [-clip, clip] (normalised units; None = off).
        """
        z = self.encode(batch)
        x = torch.randn(time.shape, generator=generator, device=time.device)
        steps = torch.linspace(self.n_steps - 1, 0, n_sample_steps, device=time.device).long()
        for k, s in enumerate(steps):
            ab = self.alpha_bar[s]
            e = self.eps(x, s.expand(x.shape[0]), z, time, band)
            x0 = (x - (1 - ab).sqrt() * e) / ab.sqrt()
            if clip is not None:  # keep the clean estimate in the data range, then make eps consistent with it
                x0 = x0.clamp(-clip, clip)
                e = (x - ab.sqrt() * x0) / (1 - ab).sqrt().clamp_min(1e-8)
            ab_prev = self.alpha_bar[steps[k + 1]] if k + 1 < len(steps) else torch.tensor(1.0, device=x.device)
            x = ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * e
        return x
