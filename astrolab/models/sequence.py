"""Tokenizer for irregular sequences: value, continuous position(s) and band -> tokens.

Each measurement i of a sequence becomes one token (Shen & Gagliano's daep tokenizer,
``/work/shared/papers.md`` section 2)::

    token_i = MLP( W_v [value_i, error_i, ...] + sum_p MLP_p(sin/cos embedding of position_p,i) + E[band_i] )

Positions are continuous (time, phase, wavelength) and embedded with sinusoids at
geometrically spaced frequencies, so no regular grid is needed.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["SinusoidalEmbedding", "SequenceTokenizer"]


class SinusoidalEmbedding(nn.Module):
    """Fixed sinusoidal embedding of a continuous position (transformer / DiT style).

    Parameters
    ----------
    dim : int
        Output size (even).
    min_scale, max_scale : float
        Shortest and longest wavelength of the sinusoids, in the units of the position.

    Shapes
    ------
    positions (...,) -> embedding (..., dim)
    """

    def __init__(self, dim: int, min_scale: float = 1e-3, max_scale: float = 10.0):
        super().__init__()
        if dim % 2:
            raise ValueError(f"SinusoidalEmbedding(dim={dim}): dim must be even")
        freqs = 2 * math.pi / torch.logspace(math.log10(min_scale), math.log10(max_scale), dim // 2)
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        arg = positions[..., None].float() * self.freqs
        return torch.cat([torch.sin(arg), torch.cos(arg)], dim=-1)


class SequenceTokenizer(nn.Module):
    """Embed irregular measurements (values, continuous positions, band) into d_model tokens.

    Parameters
    ----------
    d_model : int
        Token size D.
    n_values : int
        Value channels per measurement C (e.g. 2 = normalised value and error).
    n_positions : int
        Continuous positions per measurement P (e.g. 2 = scaled time and phase).
    n_bands : int
        Size of the band vocabulary (1 = single band).
    scales : sequence of (float, float), optional
        (min, max) sinusoid wavelengths of each position (default (1e-3, 2) for all,
        suited to positions in [0, 1]).
    n_aux : int
        Per-sequence auxiliary features A added to every token (0 = none).

    Shapes
    ------
    values (B, T, C), positions (B, T, P), bands (B, T) int64 or None, aux (B, A) or None
    -> tokens (B, T, D)
    """

    def __init__(self, d_model: int = 32, n_values: int = 2, n_positions: int = 1, n_bands: int = 1, scales=None,
                 n_aux: int = 0):
        super().__init__()
        scales = scales or [(1e-3, 2.0)] * n_positions
        if len(scales) != n_positions:
            raise ValueError(f"SequenceTokenizer: {len(scales)} scales for {n_positions} positions")
        self.value_proj = nn.Linear(n_values, d_model)
        self.pos_emb = nn.ModuleList([nn.Sequential(SinusoidalEmbedding(d_model, *s), nn.Linear(d_model, d_model), nn.GELU(),
                                                    nn.Linear(d_model, d_model)) for s in scales])
        self.band_emb = nn.Embedding(max(1, n_bands), d_model)
        self.aux_proj = nn.Linear(n_aux, d_model) if n_aux else None
        self.out = nn.Sequential(nn.GELU(), nn.Linear(d_model, d_model), nn.LayerNorm(d_model))

    def forward(self, values: torch.Tensor, positions: torch.Tensor, bands: torch.Tensor | None = None,
                aux: torch.Tensor | None = None) -> torch.Tensor:
        h = self.value_proj(values)
        for p, emb in enumerate(self.pos_emb):
            h = h + emb(positions[..., p])
        if bands is None:
            bands = torch.zeros(values.shape[:2], dtype=torch.long, device=values.device)
        h = h + self.band_emb(bands)
        if self.aux_proj is not None and aux is not None:
            h = h + self.aux_proj(aux)[:, None, :]
        return self.out(h)
