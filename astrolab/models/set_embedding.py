"""Permutation-invariant set embeddings (DeepSets with mean or attention pooling).

Input convention (shared with :meth:`astrolab.sim.supernovae.CigarsSimulator.simulate_sets`): a
padded tensor ``x`` of shape (B, N, F + 1) whose last channel is a 0/1 mask (1 = real object,
0 = padding; padded features are ignored). The output does not depend on the order of the objects
nor on the amount of padding.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from astrolab.errors import invalid

__all__ = ["SetEmbedding"]


def _mlp(n_in: int, hidden: int, n_out: int, n_layers: int) -> nn.Sequential:
    layers, d = [], n_in
    for _ in range(n_layers):
        layers += [nn.Linear(d, hidden), nn.SiLU()]
        d = hidden
    layers.append(nn.Linear(d, n_out))
    return nn.Sequential(*layers)


class SetEmbedding(nn.Module):
    """DeepSets embedding ρ(pool_i φ(x_i), mean_i x_i, log N) of a padded, masked set of objects.

    Per object, the features are standardised (buffers ``mean``/``std``, set with
    :meth:`set_standardisation`) and passed through an MLP φ; the set is pooled with a masked
    mean (count-normalised, as in CIGaRS) or with attention (a learned query attends over the
    objects, several heads), concatenated with the set mean of the standardised features
    themselves (a skip connection: set moments reach ρ directly) and the standardised log object count (so the
    embedding still knows how many objects there were, e.g. for a rate amplitude) and passed
    through an MLP ρ.

    Parameters
    ----------
    n_features : int
        Features per object F (the input has F + 1 channels, the last one the mask).
    output_dim : int
        Size of the embedding.
    hidden : int
        Width of the hidden layers of φ and ρ.
    n_layers : int
        Hidden layers of φ (ρ has 2).
    pooling : {"mean", "attention"}
        Masked mean, or attention pooling with ``n_heads`` learned queries.
    n_heads : int
        Attention heads (only for ``pooling="attention"``).

    Examples
    --------
    >>> net = SetEmbedding(n_features=13, output_dim=32)
    >>> x = torch.zeros(4, 100, 14); x[:, :50, -1] = 1
    >>> net(x).shape
    torch.Size([4, 32])
    """

    def __init__(self, n_features: int, output_dim: int = 32, hidden: int = 64, n_layers: int = 2,
                 pooling: str = "mean", n_heads: int = 4):
        super().__init__()
        if pooling not in ("mean", "attention"):
            raise invalid("SetEmbedding(pooling)", f"is {pooling!r}", "use 'mean' or 'attention'")
        if n_features < 1 or output_dim < 1:
            raise invalid("SetEmbedding", f"got n_features={n_features}, output_dim={output_dim}",
                          "use positive sizes")
        self.n_features, self.output_dim, self.pooling = int(n_features), int(output_dim), pooling
        self.n_heads = int(n_heads) if pooling == "attention" else 1
        self.phi = _mlp(n_features, hidden, hidden, n_layers)
        if pooling == "attention":
            if hidden % self.n_heads:
                raise invalid("SetEmbedding(n_heads)", f"{n_heads} does not divide hidden={hidden}",
                              "pick n_heads dividing hidden")
            self.query = nn.Parameter(torch.randn(self.n_heads, hidden // self.n_heads) / math.sqrt(hidden))
            self.key = nn.Linear(hidden, hidden)
            pooled = 2 * hidden  # attention output + masked mean
        else:
            pooled = hidden
        pooled += n_features  # skip connection: masked mean of the standardised features
        self.rho = _mlp(pooled + 1, hidden, output_dim, 2)
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        self.register_buffer("logn_mean", torch.zeros(()))
        self.register_buffer("logn_std", torch.ones(()))

    @torch.no_grad()
    def set_standardisation(self, x: torch.Tensor) -> "SetEmbedding":
        """Set the feature and log-count standardisation from training sets.

        Parameters
        ----------
        x : torch.Tensor, shape (B, N, F + 1)
            Padded sets with the mask in the last channel.

        Returns
        -------
        SetEmbedding
            ``self``.
        """
        x = torch.as_tensor(x, dtype=torch.float32)
        mask = x[..., -1] > 0.5
        feats = x[..., :-1][mask]
        if feats.shape[0] < 2:
            raise invalid("SetEmbedding.set_standardisation(x)", "has fewer than 2 real objects",
                          "pass training sets with objects (mask channel = 1)")
        self.mean.copy_(feats.mean(0).to(self.mean.device))
        self.std.copy_(feats.std(0).clamp_min(1e-6).to(self.std.device))
        logn = torch.log1p(mask.sum(1).float())
        self.logn_mean.copy_(logn.mean())
        self.logn_std.copy_(logn.std().clamp_min(1e-3) if logn.numel() > 1 else torch.ones(()))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed padded sets.

        Parameters
        ----------
        x : torch.Tensor, shape (B, N, F + 1)

        Returns
        -------
        torch.Tensor, shape (B, output_dim)
        """
        if x.dim() != 3 or x.shape[-1] != self.n_features + 1:
            raise invalid("SetEmbedding input", f"has shape {tuple(x.shape)}",
                          f"pass (batch, objects, {self.n_features} features + 1 mask channel)")
        real = x[..., -1] > 0.5  # (B, N)
        mask = real.unsqueeze(-1).to(x.dtype)  # (B, N, 1)
        feats = (x[..., :-1][real] - self.mean) / self.std  # only real objects go through phi
        h_real = self.phi(feats)
        h = h_real.new_zeros(x.shape[0], x.shape[1], h_real.shape[-1])
        h[real] = h_real
        count = mask.sum(1)  # (B, 1)
        mean = h.sum(1) / count.clamp_min(1.0)
        fz = feats.new_zeros(x.shape[0], x.shape[1], self.n_features)
        fz[real] = feats
        feat_mean = fz.sum(1) / count.clamp_min(1.0)
        if self.pooling == "attention":
            B, N, H = h.shape
            k = self.key(h).view(B, N, self.n_heads, H // self.n_heads)
            scores = (k * self.query).sum(-1) / math.sqrt(H // self.n_heads)  # (B, N, heads)
            scores = scores.masked_fill(mask <= 0, -1e9)
            w = torch.softmax(scores, dim=1) * mask  # empty sets -> zeros
            att = (w.unsqueeze(-1) * h.view(B, N, self.n_heads, H // self.n_heads)).sum(1).reshape(B, H)
            pooled = torch.cat([att, mean, feat_mean], dim=1)
        else:
            pooled = torch.cat([mean, feat_mean], dim=1)
        logn = (torch.log1p(count) - self.logn_mean) / self.logn_std
        return self.rho(torch.cat([pooled, logn], dim=1))
