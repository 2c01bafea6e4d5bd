"""AstroM3-style trimodal CLIP: photometry, spectrum and metadata encoders aligned by InfoNCE.

Rizhko & Bloom (``/work/shared/papers.md`` section 8): three encoders map a light curve, a
spectrum and a metadata vector of the same star to unit vectors in one embedding space; for
each pair (P, S), (S, M), (M, P) the logits ``exp(tau_pair) * cos(a_i, b_j)`` over a batch are
scored with a symmetric cross-entropy (the matching star is the right "class"), the three
losses are summed, and each pair has its own learnable temperature.

Batches are the tuples of :meth:`astrolab.data.astrom3.AstroM3Arrays.dataset`, in the order
``BATCH_KEYS`` = (time, phase, value, error, mask, aux, spectra, metadata, labels), or dicts
with those keys.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from astrolab.models.perceiver import PerceiverEncoder
from astrolab.models.sequence import SequenceTokenizer

__all__ = ["BATCH_KEYS", "as_batch_dict", "PhotometryEncoder", "SpectrumEncoder", "MetadataEncoder", "TrimodalCLIP",
           "clip_pair_loss", "ModalityClassifier", "MODALITIES"]

BATCH_KEYS = ("time", "phase", "value", "error", "mask", "aux", "spectra", "metadata", "labels")
#: Modalities of the classifiers: single encoders or the average of the three ("all").
MODALITIES = ("photometry", "spectra", "metadata", "all")


def as_batch_dict(batch) -> dict:
    """Tuple/list batch in ``BATCH_KEYS`` order (or a dict) -> dict of tensors."""
    if isinstance(batch, dict):
        return batch
    return dict(zip(BATCH_KEYS, batch))


class PhotometryEncoder(nn.Module):
    """Light-curve encoder: irregular-sequence tokenizer + Perceiver + mean over latents.

    Tokens carry (normalised value, normalised error), two continuous positions (time scaled to
    [0, 1] and phase on the catalogue period) and the per-object auxiliary features.

    Parameters
    ----------
    n_aux : int
        Auxiliary photometric features A.
    d_model, n_latents, n_blocks, n_heads : int
        Perceiver size (FAST: 32, 16, 1, 4).
    out_dim : int
        Output size E.

    Shapes
    ------
    batch dict -> (B, E)
    """

    def __init__(self, n_aux: int = 4, d_model: int = 32, n_latents: int = 16, n_blocks: int = 1, n_heads: int = 4,
                 out_dim: int = 64, dropout: float = 0.0):
        super().__init__()
        self.tokenizer = SequenceTokenizer(d_model, n_values=2, n_positions=2, n_bands=1,
                                           scales=[(1e-3, 2.0), (2e-2, 2.0)], n_aux=n_aux)
        self.perceiver = PerceiverEncoder(d_model, n_latents, n_blocks, n_heads, dropout=dropout)
        self.head = nn.Sequential(nn.Linear(d_model, out_dim), nn.GELU(), nn.Linear(out_dim, out_dim))
        self.out_dim = out_dim

    def forward(self, b: dict) -> torch.Tensor:
        values = torch.stack([b["value"], torch.log(b["error"].clamp_min(1e-4))], dim=-1)
        positions = torch.stack([b["time"], b["phase"]], dim=-1)
        tok = self.tokenizer(values, positions, None, b["aux"])
        lat = self.perceiver(tok, b["mask"])
        return self.head(lat.mean(dim=1))


class SpectrumEncoder(nn.Module):
    """GalSpecNet-like 1-D CNN over (C, L) spectra.

    Parameters
    ----------
    in_channels : int
        Spectrum channels C (3: flux, error, log MAD).
    channels : sequence of int
        Convolution widths (kernel 3, max-pool 4 after each).
    out_dim : int
        Output size E.

    Shapes
    ------
    batch dict with ``spectra`` (B, C, L) -> (B, E)
    """

    def __init__(self, in_channels: int = 3, channels=(16, 16, 32), out_dim: int = 64, dropout: float = 0.0):
        super().__init__()
        layers, c = [], in_channels
        for w in channels:
            layers += [nn.Conv1d(c, w, 3, padding=1), nn.GELU(), nn.MaxPool1d(4)]
            c = w
        self.conv = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * c, out_dim), nn.GELU(), nn.Linear(out_dim, out_dim))
        self.out_dim = out_dim

    def forward(self, b: dict) -> torch.Tensor:
        h = self.conv(b["spectra"])
        return self.head(torch.cat([h.mean(dim=-1), h.amax(dim=-1)], dim=-1))


class MetadataEncoder(nn.Module):
    """MLP over standardised metadata features.

    Shapes
    ------
    batch dict with ``metadata`` (B, F) -> (B, E)
    """

    def __init__(self, n_features: int, hidden: int = 64, out_dim: int = 64, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, hidden),
                                 nn.GELU(), nn.Linear(hidden, out_dim))
        self.out_dim = out_dim

    def forward(self, b: dict) -> torch.Tensor:
        return self.net(b["metadata"])


def clip_pair_loss(a: torch.Tensor, b: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE between two batches of embeddings (row i of ``a`` matches row i of ``b``).

    Parameters
    ----------
    a, b : torch.Tensor (B, E)
        Embeddings (normalised here).
    log_scale : torch.Tensor scalar
        Log of the logit scale (inverse temperature).

    Returns
    -------
    torch.Tensor scalar
        (CE(logits, arange) + CE(logits.T, arange)) / 2 [nats].
    """
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    logits = log_scale.clamp(max=math.log(100.0)).exp() * a @ b.T
    target = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


class TrimodalCLIP(nn.Module):
    """Three encoders + projection heads trained with the sum of three pairwise CLIP losses.

    Parameters
    ----------
    n_aux : int
        Auxiliary photometric features.
    n_meta : int
        Metadata features.
    spec_channels : int
        Spectrum channels.
    d_model, n_latents, n_blocks : int
        Photometry Perceiver size.
    embed_dim : int
        Shared embedding size E.
    init_temperature : float
        Initial temperature of each pair (logit scale = 1 / temperature, learnable).
    lc_keep : float in (0, 1]
        Light-curve augmentation during pre-training: at every training step each object keeps a
        random fraction, uniform in [lc_keep, 1], of its valid epochs (the others are masked out;
        at least 8 are kept). 1 (the default) = no augmentation. The encoder then cannot pair a
        light curve with its spectrum by memorising particular points, and must use what every
        subsample shares (shape, amplitude, period). Evaluation never subsamples.

    Notes
    -----
    ``loss(batch)`` is the mean of the three pair losses; ``metrics(batch)`` logs each pair and
    the in-batch photometry->spectrum retrieval accuracy.
    """

    pairs = (("photometry", "spectra"), ("spectra", "metadata"), ("metadata", "photometry"))

    def __init__(self, n_aux: int, n_meta: int, spec_channels: int = 3, d_model: int = 32, n_latents: int = 16,
                 n_blocks: int = 1, embed_dim: int = 64, init_temperature: float = 0.1, dropout: float = 0.0,
                 lc_keep: float = 1.0):
        super().__init__()
        if not 0.0 < float(lc_keep) <= 1.0:
            raise ValueError(f"TrimodalCLIP(lc_keep={lc_keep!r}): the kept fraction of light-curve epochs must lie in (0, 1]; "
                             "use 1 for no augmentation")
        self.lc_keep = float(lc_keep)
        self.config = dict(n_aux=n_aux, n_meta=n_meta, spec_channels=spec_channels, d_model=d_model,
                           n_latents=n_latents, n_blocks=n_blocks, embed_dim=embed_dim,
                           init_temperature=init_temperature, dropout=dropout, lc_keep=self.lc_keep)
        self.encoders = nn.ModuleDict({
            "photometry": PhotometryEncoder(n_aux, d_model, n_latents, n_blocks, out_dim=embed_dim, dropout=dropout),
            "spectra": SpectrumEncoder(spec_channels, out_dim=embed_dim, dropout=dropout),
            "metadata": MetadataEncoder(n_meta, hidden=embed_dim, out_dim=embed_dim, dropout=dropout),
        })
        self.projections = nn.ModuleDict({m: nn.Linear(embed_dim, embed_dim) for m in self.encoders})
        self.log_scales = nn.Parameter(torch.full((3,), math.log(1.0 / init_temperature)))

    def embed(self, batch, modality: str) -> torch.Tensor:
        """Unit-norm embedding (B, E) of one modality."""
        b = as_batch_dict(batch)
        return F.normalize(self.projections[modality](self.encoders[modality](b)), dim=-1)

    def subsample_lightcurves(self, b: dict) -> dict:
        """``b`` with a random fraction in [lc_keep, 1] of each object's valid epochs kept (mask only).

        Shapes: ``b["mask"]`` (B, T) bool -> same; every object keeps min(8, its valid count) epochs or more.
        """
        mask = b["mask"]
        keep = self.lc_keep + (1.0 - self.lc_keep) * torch.rand(mask.shape[0], 1, device=mask.device)
        u = torch.rand(mask.shape, device=mask.device)
        u = torch.where(mask, u, torch.full_like(u, 2.0))          # padding sorts last
        rank = torch.argsort(torch.argsort(u, dim=1), dim=1)        # 0 = first kept
        n_valid = mask.sum(dim=1, keepdim=True)
        n_keep = torch.maximum(torch.ceil(keep * n_valid), torch.clamp(n_valid, max=8))
        return {**b, "mask": mask & (rank < n_keep)}

    def pair_losses(self, batch) -> dict:
        """The three pair losses {"photometry-spectra": ..., ...} (scalar tensors).

        In training mode with ``lc_keep < 1`` the light curves are randomly subsampled first.
        """
        b = as_batch_dict(batch)
        if self.training and self.lc_keep < 1.0:
            b = self.subsample_lightcurves(b)
        emb = {m: self.embed(b, m) for m in self.encoders}
        return {f"{p}-{q}": clip_pair_loss(emb[p], emb[q], self.log_scales[k]) for k, (p, q) in enumerate(self.pairs)}

    def loss(self, batch) -> torch.Tensor:
        """Mean of the three symmetric InfoNCE losses [nats]."""
        return torch.stack(list(self.pair_losses(batch).values())).mean()

    def metrics(self, batch) -> dict:
        b = as_batch_dict(batch)
        with torch.no_grad():
            ep, es = self.embed(b, "photometry"), self.embed(b, "spectra")
            top1 = (torch.argmax(ep @ es.T, dim=1) == torch.arange(ep.shape[0], device=ep.device)).float().mean()
        return {"retrieval_top1": top1}


class ModalityClassifier(nn.Module):
    """Classifier on one modality's encoder (or the average of the three), from CLIP or from scratch.

    Parameters
    ----------
    clip : TrimodalCLIP
        Source of the encoders and projection heads (copied; pass a freshly initialised
        ``TrimodalCLIP`` for training from scratch).
    modality : {"photometry", "spectra", "metadata", "all"}
        "all" averages the three projected embeddings (AstroM3's multimodal classifier).
    n_classes : int
    head : {"linear", "mlp"}
        Linear or 1-hidden-layer (64) classification head.
    freeze : bool
        Freeze the encoders (probe) instead of fine-tuning them.
    encoder_lr_scale : float
        The encoders and projections learn at ``encoder_lr_scale × lr`` and the head at ``lr``
        (see :meth:`param_groups`); < 1 keeps pre-trained weights closer to where they started.
    feature_norm : bool
        Standardise each feature over the batch (``BatchNorm1d`` without affine weights; running
        statistics at evaluation) before the head, as the scikit-learn probes' ``StandardScaler``
        does. A unit-norm embedding spreads over ~1/sqrt(E) per feature, so without it a linear
        head learns slowly (a frozen probe of a few epochs stays far from the scikit-learn
        probe's accuracy). ``False`` = the ×4 fixed scale of earlier versions.

    Shapes
    ------
    batch -> logits (B, n_classes); ``loss`` is the cross-entropy against ``labels``.
    """

    def __init__(self, clip: TrimodalCLIP, modality: str, n_classes: int, head: str = "linear", freeze: bool = False,
                 dropout: float = 0.1, encoder_lr_scale: float = 1.0, feature_norm: bool = True):
        super().__init__()
        import copy

        if modality not in MODALITIES:
            raise ValueError(f"ModalityClassifier(modality={modality!r}): use one of {MODALITIES}")
        self.modality = modality
        mods = ("photometry", "spectra", "metadata") if modality == "all" else (modality,)
        self.encoders = nn.ModuleDict({m: copy.deepcopy(clip.encoders[m]) for m in mods})
        self.projections = nn.ModuleDict({m: copy.deepcopy(clip.projections[m]) for m in mods})
        if not encoder_lr_scale > 0:
            raise ValueError(f"ModalityClassifier(encoder_lr_scale={encoder_lr_scale!r}): use a positive factor")
        self.encoder_lr_scale = float(encoder_lr_scale)
        self.set_frozen(freeze)
        e = clip.config["embed_dim"]
        self.feature_norm = nn.BatchNorm1d(e, affine=False) if feature_norm else None
        self.head = (nn.Sequential(nn.Dropout(dropout), nn.Linear(e, n_classes)) if head == "linear" else
                     nn.Sequential(nn.Linear(e, 64), nn.GELU(), nn.Dropout(dropout), nn.Linear(64, n_classes)))

    def set_frozen(self, frozen: bool) -> None:
        """Freeze (``True``) or release (``False``) the encoders and projections; the head always trains."""
        for p in list(self.encoders.parameters()) + list(self.projections.parameters()):
            p.requires_grad_(not frozen)

    def param_groups(self, lr: float) -> list:
        """Optimiser parameter groups: trainable encoder+projection weights at ``encoder_lr_scale × lr``,
        the head at ``lr`` (read by the training engine)."""
        enc = [p for p in list(self.encoders.parameters()) + list(self.projections.parameters()) if p.requires_grad]
        return [{"params": enc, "lr": lr * self.encoder_lr_scale},
                {"params": [p for p in self.head.parameters() if p.requires_grad], "lr": lr}]

    def features(self, batch) -> torch.Tensor:
        """Averaged unit-norm embedding (B, E) of the classifier's modalities."""
        b = as_batch_dict(batch)
        z = [F.normalize(self.projections[m](self.encoders[m](b)), dim=-1) for m in self.encoders]
        return torch.stack(z).mean(dim=0)

    def forward(self, batch) -> torch.Tensor:
        f = self.features(batch)
        if self.feature_norm is None:
            return self.head(f * 4.0)
        bn = self.feature_norm
        if self.training and f.shape[0] < 2:   # a batch of one has no spread: use the running statistics
            return self.head(F.batch_norm(f, bn.running_mean, bn.running_var, training=False, eps=bn.eps))
        return self.head(bn(f))

    def loss(self, batch) -> torch.Tensor:
        b = as_batch_dict(batch)
        return F.cross_entropy(self(b), b["labels"])

    def metrics(self, batch) -> dict:
        b = as_batch_dict(batch)
        with torch.no_grad():
            return {"accuracy": (self(b).argmax(dim=1) == b["labels"]).float().mean()}
