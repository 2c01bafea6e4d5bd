"""daep / maep workflow on irregular two-band transients (``/work/shared/papers.md`` section 2).

- :func:`transient_batch` -- padded, per-object normalised tensors from
  :func:`astrolab.sim.transients.simulate_transients` (and the noise-free truth in the same units);
- :func:`train_autoencoder` -- :class:`~astrolab.models.diffusion.DAEP` or
  :class:`~astrolab.models.diffusion.MAEP` on :func:`astrolab.train.fit`;
- :func:`reconstruction_mse` -- error of the reconstruction against the noise-free truth;
- :func:`latents` -- flattened bottlenecks for probes and UMAP.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TIME_SCALE", "transient_batch", "train_autoencoder", "reconstruction_mse", "latents"]

#: Days per unit of the scaled time axis.
TIME_SCALE = 180.0


def transient_batch(sim, max_len: int = 60, bands=("g", "r")):
    """Tensors for the autoencoders.

    Parameters
    ----------
    sim : SimulatedTransients
    max_len : int
        Padded length T (points in both bands).
    bands : sequence of str

    Returns
    -------
    (dict, torch.Tensor, numpy.ndarray, numpy.ndarray)
        Batch dict (``time`` (N, T) = (t - t_first) / TIME_SCALE, ``value`` (N, T) = flux / max|flux|,
        ``band`` (N, T) int64, ``mask`` (N, T) bool True = valid), the noise-free values (N, T) in the
        same units, the per-object flux scale (N,) and the first epoch (N,) [MJD].
    """
    import torch

    pad = sim.lightcurves.to_padded(max_len=max_len, bands=list(bands))
    true = sim.lightcurves_true.to_padded(max_len=max_len, bands=list(bands))
    scale = np.maximum(np.abs(pad["value"]).max(1), 1e-9)
    t_first = np.where(pad["mask"].any(1), pad["time"][:, 0], 0.0)
    t = (pad["time"] - t_first[:, None]) / TIME_SCALE * pad["mask"]
    b = {"time": torch.tensor(t, dtype=torch.float32), "value": torch.tensor(pad["value"] / scale[:, None], dtype=torch.float32),
         "band": torch.tensor(pad["band_index"]), "mask": torch.tensor(pad["mask"])}
    return b, torch.tensor(true["value"] / scale[:, None], dtype=torch.float32), scale, t_first


def train_autoencoder(model, batch: dict, *, epochs: int = 30, batch_size: int = 32, lr: float = 2e-3, seed: int = 0,
                      device: str = "cpu", progress: bool = False):
    """Train a DAEP or MAEP on :func:`astrolab.train.fit` (AdamW, cosine schedule).

    Returns
    -------
    (model, FitResult)
        The trained model (CPU, eval mode) and the engine result.
    """
    from torch.utils.data import TensorDataset

    from astrolab.models.diffusion import SEQ_KEYS
    from astrolab.train import fit

    ds = TensorDataset(*(batch[k] for k in SEQ_KEYS))
    res = fit(model.train(), ds, None, max_epochs=epochs, batch_size=batch_size, lr=lr, scheduler="cosine", seed=seed,
              device=device, progress=progress, resume=False, config={"model": type(model).__name__, **model.config})
    return res.model.cpu().eval(), res


def reconstruction_mse(model, batch: dict, truth, **kwargs) -> float:
    """Mean squared error [normalised flux^2] of the reconstruction at the observed epochs vs the noise-free truth.

    ``kwargs`` go to ``model.reconstruct`` (e.g. ``n_sample_steps`` for DAEP).
    """
    import torch

    with torch.no_grad():
        rec = model.reconstruct(batch, batch["time"], batch["band"], **kwargs)
    w = batch["mask"].float()
    return float((((rec - truth) ** 2) * w).sum() / w.sum())


def latents(model, batch: dict) -> np.ndarray:
    """Flattened bottlenecks (N, n_latents * d_model)."""
    import torch

    with torch.no_grad():
        return model.latent_features(batch).numpy()
