"""Photometric-redshift networks.

A redshift density is modelled as a classification over ``n_bins`` redshift
bins (the network returns logits); a softmax gives the PDF on the bin centres.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PhotoZMLP", "gaussian_soft_labels"]


class PhotoZMLP(nn.Module):
    """Multi-layer perceptron mapping photometric features to redshift-bin logits.

    The architecture follows the GalaxiesML photometry network: dense ReLU
    layers with the inputs concatenated back before the head (skip connection).

    Parameters
    ----------
    n_features : int
        Number of input features F.
    n_bins : int
        Number of redshift bins G of the output density.
    hidden : sequence of int
        Widths of the hidden layers.
    dropout : float
        Dropout probability after each hidden layer.

    Shapes
    ------
    forward(x): x (N, F) float32 -> logits (N, G).
    """

    def __init__(self, n_features: int, n_bins: int, hidden=(200, 200, 200, 200), dropout: float = 0.0):
        super().__init__()
        if n_features < 1 or n_bins < 2:
            raise ValueError(f"PhotoZMLP: need n_features >= 1 and n_bins >= 2, got {n_features}, {n_bins}")
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = int(h)
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width + n_features, n_bins)
        self.n_features = n_features
        self.n_bins = n_bins

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return redshift-bin logits, shape (N, n_bins), for features ``x`` of shape (N, F)."""
        return self.head(torch.cat([self.body(x), x], dim=1))


def gaussian_soft_labels(z_true: torch.Tensor, z_centres: torch.Tensor, width: float) -> torch.Tensor:
    """Soft one-hot targets: a Gaussian of ``width`` around each true redshift.

    Parameters
    ----------
    z_true : tensor (N,)
        True redshifts.
    z_centres : tensor (G,)
        Bin centres.
    width : float
        Gaussian standard deviation in redshift units (e.g. one bin width).

    Returns
    -------
    tensor (N, G)
        Rows summing to 1.
    """
    d = (z_true[:, None] - z_centres[None, :]) / width
    w = torch.exp(-0.5 * d * d)
    return w / w.sum(dim=1, keepdim=True).clamp_min(1e-12)
