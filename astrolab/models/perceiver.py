"""Perceiver encoder: learned latent queries cross-attend to a variable set of tokens.

Used by the AstroM3 photometry encoder (:mod:`astrolab.models.clip`) and the daep / maep
autoencoders (``/work/shared/papers.md`` section 2): the bottleneck size (n_latents x d_model)
does not depend on the number of input tokens, and padding is excluded with a key mask.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CrossAttentionBlock", "PerceiverEncoder"]


class CrossAttentionBlock(nn.Module):
    """Pre-norm cross-attention (queries <- keys/values) + optional self-attention + MLP.

    Parameters
    ----------
    d_model : int
        Width D of queries and keys.
    n_heads : int
        Attention heads (D divisible by it).
    self_attention : bool
        Add a self-attention layer over the queries after the cross-attention.
    ff_mult : int
        MLP hidden size = ``ff_mult * d_model``.
    dropout : float

    Shapes
    ------
    queries (B, L, D), context (B, T, D), context_mask (B, T) bool True = valid -> (B, L, D)
    """

    def __init__(self, d_model: int, n_heads: int = 4, self_attention: bool = True, ff_mult: int = 2,
                 dropout: float = 0.0):
        super().__init__()
        self.nq, self.nk = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.cross = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.self_attn = nn.TransformerEncoderLayer(d_model, n_heads, ff_mult * d_model, dropout, batch_first=True,
                                                    norm_first=True, activation="gelu") if self_attention else None
        self.nf = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, ff_mult * d_model), nn.GELU(), nn.Linear(ff_mult * d_model, d_model))

    def forward(self, queries, context, context_mask=None):
        kpm = None
        if context_mask is not None:
            kpm = ~context_mask.bool()
            # a sequence with no valid token would give NaN attention: let it see its first slot
            kpm = kpm.clone()
            kpm[kpm.all(dim=1), 0] = False
        k = self.nk(context)
        h = queries + self.cross(self.nq(queries), k, k, key_padding_mask=kpm, need_weights=False)[0]
        h = h + self.ff(self.nf(h))
        if self.self_attn is not None:
            h = self.self_attn(h)
        return h


class PerceiverEncoder(nn.Module):
    """Learned latent queries that repeatedly cross-attend to input tokens.

    Parameters
    ----------
    d_model : int
        Token and latent width D.
    n_latents : int
        Number of latent queries L (the bottleneck length).
    n_blocks : int
        Cross-attention blocks (each with latent self-attention).
    n_heads : int
    d_latent : int, optional
        Size of the output latents (a final linear map D -> d_latent; default D).
    dropout : float

    Shapes
    ------
    tokens (B, T, D), mask (B, T) bool True = valid -> latents (B, L, d_latent)
    """

    def __init__(self, d_model: int = 32, n_latents: int = 16, n_blocks: int = 2, n_heads: int = 4,
                 d_latent: int | None = None, dropout: float = 0.0):
        super().__init__()
        self.latents = nn.Parameter(torch.randn(n_latents, d_model) * 0.02)
        self.blocks = nn.ModuleList([CrossAttentionBlock(d_model, n_heads, True, 2, dropout) for _ in range(n_blocks)])
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, d_latent) if d_latent and d_latent != d_model else nn.Identity()

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.latents.expand(tokens.shape[0], -1, -1)
        for blk in self.blocks:
            h = blk(h, tokens, mask)
        return self.out(self.norm(h))
