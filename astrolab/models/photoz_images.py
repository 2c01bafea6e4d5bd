"""Image-based photometric-redshift networks (GalaxiesML, PICZL, Mantis Shrimp families).

- :class:`ImageZCNN` -- image CNN (+ magnitudes) whose output is a density over
  redshift bins (GalaxiesML image baseline; Mantis Shrimp's classification head
  and, on a resampled stack of every survey, its *early fusion*);
- :class:`LateFusionCNN` -- one encoder per survey, features concatenated with
  line-of-sight scalars such as E(B−V) (Mantis Shrimp's *late fusion*);
- :class:`GMMHead` and :class:`MultiBranchGMM` -- PICZL-style multi-branch CNN
  (images, colour images, tabular features) with a Gaussian-mixture output;
- :class:`BinnedRedshiftTask` and :class:`GMMRedshiftTask` -- wrap a network
  with the ``loss(batch)``/``metrics(batch)`` protocol of
  :func:`astrolab.train.fit`, and turn its outputs into
  :class:`astrolab.metrics.RedshiftPDF` objects.

Batches are tuples ``(*inputs, z)``: the network is called as ``net(*inputs)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["ImageZCNN", "LateFusionCNN", "GMMHead", "MultiBranchGMM", "BinnedRedshiftTask", "GMMRedshiftTask",
           "conv_encoder", "predict_in_batches"]


def conv_encoder(in_channels: int, channels=(16, 32, 64), activation=nn.ReLU, dropout: float = 0.0,
                 batch_norm: bool = False) -> nn.Sequential:
    """Small convolutional encoder: [Conv3×3 → activation → Conv3×3 → activation → MaxPool2] per width, then global pooling.

    Parameters
    ----------
    in_channels : int
        Input channels C.
    channels : sequence of int
        Widths of the stages (each halves the spatial size).
    activation : type
        Activation class (e.g. ``nn.ReLU``, ``nn.Tanh``, ``nn.GELU``).
    dropout : float
        Dropout before the output.
    batch_norm : bool
        Batch normalisation after each convolution (faster, steadier training of short runs).

    Returns
    -------
    torch.nn.Sequential
        Maps (N, C, H, W) to (N, channels[-1] * 4) (2×2 adaptive average pooling, flattened).
    """
    layers: list[nn.Module] = []
    c = int(in_channels)

    def norm(w):
        return [nn.BatchNorm2d(int(w))] if batch_norm else []

    for w in channels:
        layers += [nn.Conv2d(c, int(w), 3, padding=1), *norm(w), activation(), nn.Conv2d(int(w), int(w), 3, padding=1),
                   *norm(w), activation(), nn.MaxPool2d(2, ceil_mode=True)]
        c = int(w)
    layers += [nn.AdaptiveAvgPool2d(2), nn.Flatten()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class ImageZCNN(nn.Module):
    """Image CNN (+ magnitudes) returning redshift-bin logits (GalaxiesML image baseline, reduced).

    Parameters
    ----------
    n_bands : int
        Image channels B.
    n_features : int
        Tabular features F (magnitudes, colours...); 0 for images only.
    n_bins : int
        Redshift bins G of the output density.
    channels : sequence of int
        Encoder widths (:func:`conv_encoder`).
    hidden : int
        Width of the fused dense layers.
    extra : int
        Extra scalars appended to the fused features (e.g. 2 for E(B−V) values).
    dropout : float
        Dropout in the head.
    base : torch.nn.Module, optional
        A (pre-trained) photometry network ``base(features) -> logits (N, G)``;
        the CNN then learns a correction added to its logits (the last layer
        starts at zero, so training starts from the photometry model). Freeze
        it with :func:`astrolab.models.transfer.freeze` (prefix ``"base"``).
    batch_norm : bool
        Batch normalisation in the encoder (:func:`conv_encoder`).

    Shapes
    ------
    forward(images (N, B, H, W), features (N, F)[, extra (N, E)]) -> logits (N, G).
    """

    def __init__(self, n_bands: int, n_features: int, n_bins: int, channels=(16, 32, 64), hidden: int = 128,
                 extra: int = 0, dropout: float = 0.0, base: nn.Module | None = None, batch_norm: bool = False):
        super().__init__()
        if n_bands < 1 or n_bins < 2 or n_features < 0:
            raise ValueError(f"ImageZCNN: need n_bands >= 1, n_bins >= 2, n_features >= 0; got {n_bands}, {n_bins}, {n_features}")
        self.encoder = conv_encoder(n_bands, channels, batch_norm=batch_norm)
        width = int(channels[-1]) * 4
        self.tab = (nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
                    if n_features > 0 else None)
        fused = width + (hidden if n_features > 0 else 0) + int(extra)
        self.head = nn.Sequential(nn.Linear(fused, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, hidden),
                                  nn.ReLU(), nn.Linear(hidden, n_bins))
        self.n_bins, self.n_features, self.extra = n_bins, n_features, int(extra)
        self.base = base
        if base is not None:
            with torch.no_grad():
                self.head[-1].weight.zero_()
                self.head[-1].bias.zero_()

    def features(self, images, features=None, extra=None) -> torch.Tensor:
        """Fused representation (N, D) before the head."""
        parts = [self.encoder(images)]
        if self.tab is not None:
            parts.append(self.tab(features))
        if self.extra:
            parts.append(extra)
        return torch.cat(parts, dim=1)

    def forward(self, images, features=None, extra=None):
        """Redshift-bin logits (N, G)."""
        out = self.head(self.features(images, features, extra))
        return out if self.base is None else out + self.base(features)


class LateFusionCNN(nn.Module):
    """Late fusion of several surveys: one CNN encoder per survey, features concatenated, one head.

    Each survey keeps its own pixel grid (PanSTARRS 0.25″/px, GALEX 1.5″/px,
    unWISE 2.75″/px ...): no resampling. The encoders' pooled features are
    concatenated with ``extra`` line-of-sight scalars (e.g. the Galactic
    E(B−V)) and a dense head returns redshift-bin logits (Mantis Shrimp's late
    fusion, reduced: small CNNs instead of ConvNeXt backbones).

    Parameters
    ----------
    survey_channels : sequence of int or dict of str -> int
        Bands B_s of each survey's images, in the order the images are passed
        (a dict keeps its names in :attr:`surveys`).
    n_bins : int
        Redshift bins G of the output.
    channels : sequence of int or dict of str -> sequence of int
        Encoder widths (:func:`conv_encoder`), the same for every survey or per
        survey name (small stamps need fewer stages: each stage halves the size).
    hidden : int
        Width of the head's dense layers.
    extra : int
        Number E of scalars appended to the fused features (0: none).
    dropout : float
        Dropout in the head.
    survey_dropout : float
        Training only: probability that a survey other than the first is zeroed
        for an object (its images set to 0, as a missing survey is stored), so
        that the network learns to cope without it. 0 (default): off.
    batch_norm : bool
        Batch normalisation in the encoders (:func:`conv_encoder`).

    Shapes
    ------
    forward(images_1 (N, B_1, H_1, W_1), ..., images_S (N, B_S, H_S, W_S)[, extra (N, E)]) -> logits (N, G).
    """

    def __init__(self, survey_channels, n_bins: int, channels=(16, 32), hidden: int = 128, extra: int = 0,
                 dropout: float = 0.0, survey_dropout: float = 0.0, batch_norm: bool = False):
        super().__init__()
        if isinstance(survey_channels, dict):
            names, bands = list(survey_channels), [int(v) for v in survey_channels.values()]
        else:
            bands = [int(v) for v in survey_channels]
            names = [f"survey{i}" for i in range(len(bands))]
        if not bands or min(bands) < 1 or n_bins < 2 or extra < 0 or not 0.0 <= survey_dropout < 1.0:
            raise ValueError(f"LateFusionCNN: need >= 1 survey with >= 1 band each, n_bins >= 2, extra >= 0 and "
                             f"0 <= survey_dropout < 1; got {survey_channels}, {n_bins}, {extra}, {survey_dropout}")
        widths = {n: tuple(channels[n] if isinstance(channels, dict) else channels) for n in names}
        self.surveys = names
        self.encoders = nn.ModuleList([conv_encoder(b, widths[n], batch_norm=batch_norm) for n, b in zip(names, bands)])
        fused = sum(int(widths[n][-1]) * 4 for n in names) + int(extra)
        self.head = nn.Sequential(nn.Linear(fused, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, hidden),
                                  nn.ReLU(), nn.Linear(hidden, n_bins))
        self.n_bins, self.extra, self.survey_dropout = int(n_bins), int(extra), float(survey_dropout)

    def features(self, *inputs) -> torch.Tensor:
        """Fused representation (N, D): every survey's encoder output, then the extra scalars."""
        n_s = len(self.encoders)
        if len(inputs) != n_s + (1 if self.extra else 0):
            raise ValueError(f"LateFusionCNN expects {n_s} image tensors{' and the extra scalars' if self.extra else ''}"
                             f" ({self.surveys}{' + extra' if self.extra else ''}), got {len(inputs)} inputs")
        parts = []
        for s, (enc, x) in enumerate(zip(self.encoders, inputs[:n_s])):
            if self.training and self.survey_dropout > 0 and s > 0:
                keep = (torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= self.survey_dropout).to(x.dtype)
                x = x * keep
            parts.append(enc(x))
        if self.extra:
            parts.append(inputs[n_s])
        return torch.cat(parts, dim=1)

    def forward(self, *inputs):
        """Redshift-bin logits (N, G)."""
        return self.head(self.features(*inputs))


class GMMHead(nn.Module):
    """Gaussian-mixture output layer: features -> (weights, means, sigmas), each (N, K).

    Means pass a softplus (redshifts ≥ 0), sigmas a softplus plus ``min_sigma``,
    weights a softmax (PICZL uses ReLU/softplus/softmax).

    Parameters
    ----------
    in_features : int
        Input width D.
    n_components : int
        Mixture components K.
    min_sigma : float
        Smallest component width (redshift units).
    z_init : tuple of float
        Range over which the initial component means are spread.
    """

    def __init__(self, in_features: int, n_components: int = 5, min_sigma: float = 0.005, z_init=(0.2, 3.0)):
        super().__init__()
        self.lin = nn.Linear(in_features, 3 * n_components)
        self.k = int(n_components)
        self.min_sigma = float(min_sigma)
        with torch.no_grad():
            self.lin.weight[self.k:2 * self.k].mul_(0.1)
            mu0 = torch.linspace(z_init[0], z_init[1], self.k)
            self.lin.bias[self.k:2 * self.k] = torch.log(torch.expm1(mu0))  # softplus^-1
            self.lin.bias[2 * self.k:] = math.log(math.expm1(0.2))

    def forward(self, x):
        """Return ``(weights, means, sigmas)``, each (N, K)."""
        a, m, s = self.lin(x).split(self.k, dim=1)
        return a.softmax(dim=1), nn.functional.softplus(m), nn.functional.softplus(s) + self.min_sigma


class MultiBranchGMM(nn.Module):
    """PICZL-style three-branch network with a Gaussian-mixture head.

    Branch A encodes the flux images, branch B the colour images (pairwise
    band differences), branch C the tabular features; the concatenation goes
    through dense layers to :class:`GMMHead`.

    Parameters
    ----------
    image_channels : int
        Channels of the image tensor (e.g. 4 for griz).
    colour_channels : int
        Channels of the colour-image tensor (e.g. 6 for griz pairs); 0 disables branch B.
    n_tabular : int
        Tabular features; 0 disables branch C.
    n_components : int
        Mixture components K.
    channels : sequence of int
        Widths of each convolutional branch.
    hidden : int
        Width of the dense layers.
    dropout : float
        Dropout in the dense layers.

    Shapes
    ------
    forward(images (N, C1, H, W), colours (N, C2, H, W), tabular (N, F)) -> (w, mu, sigma), each (N, K).
    """

    def __init__(self, image_channels: int, colour_channels: int, n_tabular: int, n_components: int = 5,
                 channels=(16, 32), hidden: int = 96, dropout: float = 0.1):
        super().__init__()
        self.img = conv_encoder(image_channels, channels)
        self.col = conv_encoder(colour_channels, channels) if colour_channels > 0 else None
        self.tab = (nn.Sequential(nn.Linear(n_tabular, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, hidden),
                                  nn.GELU()) if n_tabular > 0 else None)
        width = int(channels[-1]) * 4 * (1 + (colour_channels > 0)) + (hidden if n_tabular > 0 else 0)
        self.trunk = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, hidden),
                                   nn.GELU())
        self.head = GMMHead(hidden, n_components)
        self.n_components = int(n_components)

    def forward(self, images, colours=None, tabular=None):
        """Mixture parameters ``(weights, means, sigmas)``, each (N, K)."""
        parts = [self.img(images)]
        if self.col is not None:
            parts.append(self.col(colours))
        if self.tab is not None:
            parts.append(self.tab(tabular))
        return self.head(self.trunk(torch.cat(parts, dim=1)))


def _bin_median(probs, centres):
    cdf = probs.cumsum(dim=1)
    return centres[(cdf < 0.5).sum(dim=1).clamp(max=len(centres) - 1)]


def _point_metrics(zp, z):
    dz = (zp - z) / (1 + z)
    return {"nmad": 1.4826 * (dz - dz.median()).abs().median(), "outlier_rate": (dz.abs() > 0.15).float().mean(),
            "bias": dz.mean()}


class BinnedRedshiftTask(nn.Module):
    """A network returning redshift-bin logits, with the engine's ``loss``/``metrics`` protocol.

    Parameters
    ----------
    net : torch.nn.Module
        ``net(*inputs) -> logits (N, G)``.
    z_edges : array_like (G + 1,)
        Bin edges.
    loss : {"nll", "hsc"}
        Cross-entropy of the true bin, or the HSC loss of the PDF mean plus
        0.05 × cross-entropy (keeps a proper density).
    label_smoothing : float
        Width of a Gaussian soft label in bins (0: hard labels).
    """

    def __init__(self, net: nn.Module, z_edges, loss: str = "nll", label_smoothing: float = 0.0):
        super().__init__()
        if loss not in ("nll", "hsc"):
            raise ValueError(f"BinnedRedshiftTask: loss must be 'nll' or 'hsc', got {loss!r}")
        self.net = net
        edges = torch.as_tensor(np.asarray(z_edges, float), dtype=torch.float32)
        self.register_buffer("edges", edges)
        self.register_buffer("centres", 0.5 * (edges[1:] + edges[:-1]))
        self.loss_kind = loss
        self.label_smoothing = float(label_smoothing)

    def forward(self, *inputs):
        """Logits (N, G)."""
        return self.net(*inputs)

    def _targets(self, z):
        idx = torch.bucketize(z.clamp(self.edges[0], self.edges[-1] - 1e-6), self.edges, right=True) - 1
        return idx.clamp(0, len(self.centres) - 1)

    def loss(self, batch):
        """Scalar training loss of a batch ``(*inputs, z)``."""
        *inputs, z = batch
        logits = self.net(*inputs)
        if self.label_smoothing > 0:
            from astrolab.models.photoz import gaussian_soft_labels

            width = self.label_smoothing * float(self.edges[1] - self.edges[0])
            target = gaussian_soft_labels(z, self.centres, width)
            ce = -(target * logits.log_softmax(dim=1)).sum(dim=1).mean()
        else:
            ce = nn.functional.cross_entropy(logits, self._targets(z))
        if self.loss_kind == "hsc":
            from astrolab.metrics.photoz import hsc_loss_torch

            z_mean = (logits.softmax(dim=1) * self.centres).sum(dim=1)
            return hsc_loss_torch(z_mean, z) + 0.05 * ce
        return ce

    def metrics(self, batch):
        """Validation NMAD, outlier rate and bias of the PDF median."""
        *inputs, z = batch
        return _point_metrics(_bin_median(self.net(*inputs).softmax(dim=1), self.centres), z)

    def predict_pdf(self, inputs, batch_size: int = 2048, ids=None):
        """Redshift PDFs of ``inputs`` (tuple of arrays/tensors, N rows each) on the bin centres.

        Returns
        -------
        astrolab.metrics.RedshiftPDF
        """
        from astrolab.metrics.pdf import RedshiftPDF

        logits = predict_in_batches(self, inputs, batch_size)
        return RedshiftPDF.from_logits(logits, self.centres.cpu().numpy(), ids=ids)


class GMMRedshiftTask(nn.Module):
    """A network returning Gaussian-mixture parameters, trained with closed-form CRPS or the NLL.

    Parameters
    ----------
    net : torch.nn.Module
        ``net(*inputs) -> (weights, means, sigmas)``, each (N, K).
    loss : {"crps", "nll"}
        ``"crps"``: closed-form mixture CRPS weighted by 1/(1+z) (PICZL);
        ``"nll"``: mixture negative log-likelihood.
    """

    def __init__(self, net: nn.Module, loss: str = "crps"):
        super().__init__()
        if loss not in ("crps", "nll"):
            raise ValueError(f"GMMRedshiftTask: loss must be 'crps' or 'nll', got {loss!r}")
        self.net = net
        self.loss_kind = loss

    def forward(self, *inputs):
        """Mixture parameters ``(weights, means, sigmas)``."""
        return self.net(*inputs)

    def loss(self, batch):
        """Scalar loss of a batch ``(*inputs, z)``."""
        from astrolab.metrics.pdf import crps_gaussian_mixture_torch, gaussian_mixture_nll_torch

        *inputs, z = batch
        w, m, s = self.net(*inputs)
        w, m, s, z = w.float(), m.float(), s.float(), z.float()
        if self.loss_kind == "crps":
            return (crps_gaussian_mixture_torch(z, w, m, s) / (1 + z)).mean()
        return gaussian_mixture_nll_torch(z, w, m, s).mean()

    def metrics(self, batch):
        """Validation NMAD, outlier rate and bias of the mixture mean."""
        *inputs, z = batch
        w, m, s = self.net(*inputs)
        return _point_metrics((w * m).sum(dim=1), z)

    def predict_mixture(self, inputs, batch_size: int = 2048):
        """Mixture parameters of ``inputs``: three ndarrays (N, K) (weights, means, sigmas)."""
        outs = predict_in_batches(self, inputs, batch_size, n_out=3)
        return tuple(outs)

    def predict_pdf(self, inputs, z_grid, batch_size: int = 2048, ids=None):
        """Redshift PDFs on ``z_grid`` (G,) from the mixtures.

        Returns
        -------
        astrolab.metrics.RedshiftPDF
        """
        from astrolab.metrics.pdf import RedshiftPDF

        w, m, s = self.predict_mixture(inputs, batch_size)
        return RedshiftPDF.from_gaussian_mixture(w, m, s, z_grid, ids=ids)


def predict_in_batches(module: nn.Module, inputs, batch_size: int = 2048, n_out: int = 1):
    """Run ``module(*inputs)`` in evaluation mode on CPU tensors, batch by batch.

    Parameters
    ----------
    module : torch.nn.Module
    inputs : tuple of array_like
        Each (N, ...); converted to float32 tensors.
    batch_size : int
    n_out : int
        1 for a single-tensor output, else the number of tensors returned.

    Returns
    -------
    ndarray or list of ndarray
        Outputs concatenated over batches (float64).
    """
    if not isinstance(inputs, (tuple, list)):
        inputs = (inputs,)
    tens = [torch.as_tensor(np.asarray(x), dtype=torch.float32) for x in inputs]
    n = len(tens[0])
    was_training = module.training
    module.eval()
    dev = next(iter(module.parameters()), torch.empty(0)).device
    outs = [[] for _ in range(n_out)]
    with torch.no_grad():
        for st in range(0, n, batch_size):
            res = module(*[t[st:st + batch_size].to(dev) for t in tens])
            res = (res,) if n_out == 1 else res
            for k in range(n_out):
                outs[k].append(res[k].float().cpu().numpy().astype(np.float64))
    module.train(was_training)
    cat = [np.concatenate(o, axis=0) if o else np.zeros((0,)) for o in outs]
    return cat[0] if n_out == 1 else cat
