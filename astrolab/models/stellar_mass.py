"""Binned log M* estimators for the interpretable stellar-mass notebook (papers.md §1).

A stellar mass is estimated as a classification over log M* bins (the paper uses 520 bins of
0.0125 dex over [6, 12.5]); the networks are the photo-z ones (:class:`~astrolab.models.photoz.PhotoZMLP`
for catalog inputs, :class:`~astrolab.models.photoz_images.ImageZCNN` for cutouts, + IR) and the task is
:class:`~astrolab.models.photoz_images.BinnedRedshiftTask` with mass metrics (:class:`BinnedMassTask`).
Train with :func:`astrolab.photoz.images.train_redshift_network` (the engine, :func:`astrolab.train.fit`).

Input sets of :func:`mass_inputs`: ``"photometry"`` (ugriz asinh magnitudes and errors), ``"morphology"``
(Sérsic n, log angular size, axis ratio), ``"photometry+morphology"``, ``"ir"`` (W1 absolute magnitude),
``"images"`` (ugriz cutouts, asinh-scaled in units of the pixel noise), ``"images+ir"``, and any of them
``"+z"`` (the redshift appended to the tabular features).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from astrolab.errors import invalid
from astrolab.models.photoz_images import BinnedRedshiftTask, predict_in_batches

__all__ = ["MASS_RANGE", "INPUT_SETS", "mass_bin_edges", "BinnedMassTask", "mass_inputs", "make_mass_model",
           "mass_metrics"]

#: Range [dex(Msun)] of the log M* bins (the simulator's truncation).
MASS_RANGE = (8.5, 12.0)
#: Input sets understood by :func:`mass_inputs` (each may end in ``"+z"``).
INPUT_SETS = ("photometry", "morphology", "photometry+morphology", "ir", "images", "images+ir")
_PHOT = ("u", "g", "r", "i", "z")
_MORPH = ("sersic_n", "log_size", "axis_ratio")


def mass_bin_edges(n_bins: int = 70, lo: float = MASS_RANGE[0], hi: float = MASS_RANGE[1]) -> np.ndarray:
    """Edges (G + 1,) of G equal log M* bins [dex(Msun)].

    Parameters
    ----------
    n_bins : int
        Number of bins G (the paper: 520 over [6, 12.5]).
    lo, hi : float
        Range [dex(Msun)].
    """
    if int(n_bins) < 2 or not hi > lo:
        raise invalid("mass_bin_edges", f"got n_bins={n_bins}, range=({lo}, {hi})", "pass n_bins >= 2 and hi > lo")
    return np.linspace(float(lo), float(hi), int(n_bins) + 1)


def mass_metrics(log_m_pred, log_m_true) -> dict:
    """Point-estimate metrics of log M* (paper 1): Δ = log M_pred − log M_true [dex].

    Returns
    -------
    dict
        ``bias`` (mean Δ), ``sigma_mad`` (1.4826 × MAD of Δ), ``eta`` (fraction |Δ| > 3 σ_MAD), ``rms``.
    """
    from astrolab.metrics.regression import outlier_fraction_sigma, sigma_mad

    p, t = np.asarray(log_m_pred, float).ravel(), np.asarray(log_m_true, float).ravel()
    if p.shape != t.shape:
        raise invalid("mass_metrics", f"got {p.shape} predictions for {t.shape} truths", "pass one prediction per galaxy")
    d = p - t
    return {"bias": float(np.mean(d)), "sigma_mad": sigma_mad(d), "eta": outlier_fraction_sigma(d, 3.0),
            "rms": float(np.sqrt(np.mean(d ** 2)))}


class BinnedMassTask(BinnedRedshiftTask):
    """Binned log M* classifier with the engine's ``loss``/``metrics`` protocol.

    :class:`~astrolab.models.photoz_images.BinnedRedshiftTask` (cross-entropy of the true bin) whose
    validation metrics are the mass ones: ``val_sigma_mad`` [dex], ``val_eta`` and ``val_bias`` of the
    PDF mean (no 1 + z normalisation).

    Parameters
    ----------
    net : torch.nn.Module
        ``net(*inputs) -> logits (N, G)``.
    edges : array_like (G + 1,)
        log M* bin edges [dex] (:func:`mass_bin_edges`).
    label_smoothing : float
        Gaussian soft-label width in bins (0: hard labels).

    Shapes
    ------
    batch ``(*inputs, log_mstar (N,))``; forward(*inputs) -> logits (N, G).
    """

    def __init__(self, net: nn.Module, edges, label_smoothing: float = 0.0):
        super().__init__(net, edges, loss="nll", label_smoothing=label_smoothing)

    def metrics(self, batch):
        """Validation σ_MAD, η (|Δ| > 3σ_MAD) and bias of the PDF mean [dex]."""
        *inputs, y = batch
        mean = (self.net(*inputs).softmax(dim=1) * self.centres).sum(dim=1)
        d = mean - y
        s = 1.4826 * (d - d.median()).abs().median()
        return {"sigma_mad": s, "eta": (d.abs() > 3 * s).float().mean(), "bias": d.mean()}

    def predict_probs(self, inputs, batch_size: int = 2048) -> np.ndarray:
        """Bin probabilities (N, G) of ``inputs`` (tuple of arrays, N rows each)."""
        logits = predict_in_batches(self, inputs, batch_size)
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def point_estimates(self, probs) -> np.ndarray:
        """PDF means (N,) [dex] of bin probabilities (N, G)."""
        return np.asarray(probs, float) @ self.centres.cpu().numpy().astype(float)

    def latents(self, inputs, batch_size: int = 2048) -> np.ndarray:
        """Representation (N, D) entering the last linear layer (the latent S of the kNN tests)."""
        last = [m for m in self.net.modules() if isinstance(m, nn.Linear)][-1]
        store = []
        hook = last.register_forward_hook(lambda mod, args, out: store.append(args[0].detach().float().cpu()))
        try:
            predict_in_batches(self, inputs, batch_size)
        finally:
            hook.remove()
        return torch.cat(store).numpy().astype(np.float64)


def _parse(input_set):
    base, plus_z = (input_set[:-2], True) if str(input_set).endswith("+z") else (str(input_set), False)
    if base not in INPUT_SETS:
        raise invalid("mass_inputs(input_set=...)", f"is {input_set!r}", f"pass one of {INPUT_SETS} (optionally + '+z')")
    return base, plus_z


def _tabular(cat, base, plus_z):
    cols = []
    if "photometry" in base:
        cols += list(_PHOT) + [f"{b}_err" for b in _PHOT]
    if "morphology" in base:
        cols += list(_MORPH)
    if base.endswith("ir"):
        cols += ["w1_abs"]
    if plus_z:
        cols += ["redshift"]
    missing = [c for c in cols if c not in cat.colnames]
    if missing:
        raise invalid("mass_inputs(data)", f"catalog misses {missing}",
                      "pass a MultimodalSet from astrolab.sim.stellar_mass.simulate_stellar_mass")
    return np.stack([np.asarray(cat[c], float) for c in cols], axis=1) if cols else None


def mass_inputs(data, input_set: str, reference=None, softening: float = 3.0):
    """Network inputs of one input set, as a tuple of float32 arrays.

    Parameters
    ----------
    data : astrolab.data.MultimodalSet
        From :func:`astrolab.sim.stellar_mass.simulate_stellar_mass` (``images`` needed for image sets).
    input_set : str
        One of :data:`INPUT_SETS`, optionally followed by ``"+z"``.
    reference : array_like of int, optional
        Rows whose mean and standard deviation standardise the tabular features (the training set;
        default: all rows).
    softening : float
        asinh softening of the images in units of the pixel noise
        (:func:`astrolab.photoz.images.scale_images`).

    Returns
    -------
    tuple of ndarray
        ``(features (N, F),)`` for catalog sets; ``(images (N, 5, H, W),)`` or ``(images, features)``
        for image sets -- the arguments of :func:`make_mass_model`'s network.
    """
    base, plus_z = _parse(input_set)
    cat = data.catalog
    tab = _tabular(cat, base, plus_z)
    if tab is not None:
        ref = tab if reference is None else tab[np.asarray(reference)]
        tab = ((tab - ref.mean(0)) / np.where(ref.std(0) > 0, ref.std(0), 1.0)).astype(np.float32)
    if not base.startswith("images"):
        return (tab,)
    if data.images is None:
        raise invalid("mass_inputs(data)", "has no images", "simulate with images=True")
    from astrolab.photoz.images import scale_images

    ims = scale_images(data.images, softening=softening)
    return (ims,) if tab is None else (ims, tab)


def make_mass_model(input_set: str, inputs, edges, hidden=(128, 128), channels=(16, 32, 64),
                    batch_norm: bool = True, label_smoothing: float = 1.0) -> BinnedMassTask:
    """A binned log M* task for one input set: PhotoZMLP for catalog sets, ImageZCNN for image sets.

    Parameters
    ----------
    input_set : str
        As in :func:`mass_inputs`.
    inputs : tuple of ndarray
        Output of :func:`mass_inputs` (sets the input sizes).
    edges : array_like (G + 1,)
        log M* bin edges [dex].
    hidden : sequence of int
        MLP widths (the CNN uses ``hidden[0]`` for its dense layers).
    channels : sequence of int
        CNN encoder widths.
    batch_norm : bool
        Batch normalisation in the CNN encoder.
    label_smoothing : float
        Soft-label width in bins.

    Returns
    -------
    BinnedMassTask
    """
    from astrolab.models.photoz import PhotoZMLP
    from astrolab.models.photoz_images import ImageZCNN

    base, _ = _parse(input_set)
    n_bins = len(edges) - 1
    if base.startswith("images"):
        n_feat = inputs[1].shape[1] if len(inputs) > 1 else 0
        net = ImageZCNN(inputs[0].shape[1], n_feat, n_bins, channels=channels, hidden=int(hidden[0]),
                        batch_norm=batch_norm)
    else:
        net = PhotoZMLP(inputs[0].shape[1], n_bins, hidden=hidden)
    return BinnedMassTask(net, edges, label_smoothing=label_smoothing)
