"""daep / maep / VAE workflow on irregular transients and spectra (``/work/shared/papers.md`` section 2).

- :func:`transient_batch` -- padded, per-object normalised tensors from
  :func:`astrolab.sim.transients.simulate_transients` (and the noise-free truth in the same units);
- :func:`spectrum_batch` -- the same for spectra on irregular grids with masked chunks
  (:func:`astrolab.sim.transients.simulate_transient_spectra`; position = scaled wavelength, one band);
- :func:`value_scale` -- factor that brings the values to unit variance (shared by all models);
- :func:`train_autoencoder` -- :class:`~astrolab.models.diffusion.DAEP`,
  :class:`~astrolab.models.diffusion.MAEP` or :class:`~astrolab.models.diffusion.VAE` on
  :func:`astrolab.train.fit`;
- :func:`reconstruction_mse` -- error of the reconstruction against the noise-free truth (at the
  observed points, or anywhere else, e.g. inside masked chunks);
- :func:`latents` -- flattened bottlenecks for probes and UMAP;
- :func:`probe_latents` -- linear / MLP probes on few-shot splits (several seeds) and KMeans NMI/ARI.
"""

from __future__ import annotations

import numpy as np

from astrolab.errors import invalid

__all__ = ["TIME_SCALE", "transient_batch", "spectrum_batch", "wavelength_to_position", "position_to_wavelength",
           "value_scale", "train_autoencoder", "reconstruction_mse", "reconstruct_on_grid", "ew_recovery", "latents",
           "probe_latents"]

#: Days per unit of the scaled time axis.
TIME_SCALE = 180.0

#: Wavelength range [Angstrom] mapped to positions [0, 1] by :func:`spectrum_batch`.
WAVE_RANGE = (3900.0, 8100.0)


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


def wavelength_to_position(wavelength, wave_range=WAVE_RANGE):
    """Scaled position ``(lambda - lo) / (hi - lo)`` (same shape) of wavelengths [Angstrom]."""
    lo, hi = wave_range
    return (np.asarray(wavelength, dtype=float) - lo) / (hi - lo)


def position_to_wavelength(position, wave_range=WAVE_RANGE):
    """Wavelength [Angstrom] (same shape) of scaled positions (inverse of :func:`wavelength_to_position`)."""
    lo, hi = wave_range
    return lo + np.asarray(position, dtype=float) * (hi - lo)


def spectrum_batch(sim, wave_range=WAVE_RANGE):
    """Tensors for the autoencoders from spectra on per-object irregular grids with masked chunks.

    Parameters
    ----------
    sim : SimulatedTransientSpectra
        From :func:`astrolab.sim.transients.simulate_transient_spectra` (observed and noise-free
        :class:`~astrolab.data.SpectrumSet` on the same grids).
    wave_range : (float, float)
        Wavelengths [Angstrom] mapped to positions 0 and 1.

    Returns
    -------
    (dict, torch.Tensor, numpy.ndarray, torch.Tensor)
        Batch dict (``time`` (N, L) = scaled wavelength (the continuous position), ``value`` (N, L) =
        flux / max of the unmasked flux, ``band`` (N, L) zeros (one band), ``mask`` (N, L) bool True =
        observed pixel), the noise-free flux (N, L) in the same units (everywhere, masked chunks
        included), the per-object flux scale (N,) [flux units] and ``hidden`` (N, L) bool = pixels inside
        the masked chunks (truth known, not seen by the encoder).
    """
    import torch

    spec, true = sim.spectra, sim.spectra_true
    if spec.shape != true.shape:
        raise invalid("spectrum_batch(sim)", f"observed {spec.shape} and noise-free {true.shape} spectra differ",
                      "pass the output of simulate_transient_spectra")
    n, length = spec.shape
    wl = np.broadcast_to(spec.wavelength, (n, length))
    lo, hi = wave_range
    if not lo < hi or wl.min() < lo - 1e-6 or wl.max() > hi + 1e-6:
        raise invalid("spectrum_batch(wave_range=...)", f"({lo}, {hi}) does not cover the grids ({wl.min():.0f}-{wl.max():.0f} A)",
                      "pass a wave_range that contains every wavelength")
    valid = ~spec.mask
    if not valid.any(axis=1).all():
        raise invalid("spectrum_batch(sim)", "some spectra are fully masked", "drop them before batching")
    scale = np.maximum(np.where(valid, spec.flux, -np.inf).max(axis=1), 1e-9)
    b = {"time": torch.tensor(wavelength_to_position(wl, wave_range), dtype=torch.float32),
         "value": torch.tensor(np.where(valid, spec.flux, 0.0) / scale[:, None], dtype=torch.float32),
         "band": torch.zeros((n, length), dtype=torch.long), "mask": torch.tensor(valid)}
    return b, torch.tensor(true.flux / scale[:, None], dtype=torch.float32), scale, torch.tensor(spec.mask)


def value_scale(batch: dict) -> float:
    """``1 / std`` of the valid values of ``batch``: multiplies them to about unit variance inside the models.

    Parameters
    ----------
    batch : dict
        With ``value`` (N, T) and ``mask`` (N, T) bool.

    Returns
    -------
    float
        Pass it as ``value_scale=`` to every model that is compared (the same for all).
    """
    v = batch["value"][batch["mask"].bool()]
    if v.numel() < 2:
        raise invalid("value_scale(batch)", "has fewer than 2 valid values", "pass a batch with observations")
    return float(1.0 / max(float(v.std()), 1e-6))


def train_autoencoder(model, batch: dict, *, epochs: int = 30, batch_size: int = 32, lr: float = 2e-3, seed: int = 0,
                      device: str = "cpu", progress: bool = False, val_batch: dict | None = None):
    """Train a DAEP, MAEP or VAE on :func:`astrolab.train.fit` (AdamW, cosine schedule).

    Parameters
    ----------
    model : DAEP, MAEP or VAE
        Any module with ``loss(batch)`` and a ``config`` dict.
    batch : dict
        ``time``, ``value``, ``band``, ``mask`` (N, T) tensors.
    epochs, batch_size : int
    lr : float
        Learning rate.
    seed : int
    device : str
    progress : bool
        tqdm progress bar.
    val_batch : dict, optional
        Validation sequences (the history then has ``val_loss`` and the model's ``metrics``, e.g. a
        VAE's ``val_recon`` and ``val_kl``).

    Returns
    -------
    (model, FitResult)
        The trained model (CPU, eval mode) and the engine result (``res.history.frame`` per epoch).
    """
    from torch.utils.data import TensorDataset

    from astrolab.models.diffusion import SEQ_KEYS
    from astrolab.train import fit

    for name, b in (("batch", batch), ("val_batch", val_batch)):
        if b is None:
            continue
        missing = [k for k in SEQ_KEYS if k not in b]
        if missing:
            raise invalid(f"train_autoencoder({name}=...)", f"lacks {missing}", "pass the dict of transient_batch / spectrum_batch")
    if not callable(getattr(model, "loss", None)):
        raise invalid("train_autoencoder(model=...)", f"{type(model).__name__} has no loss(batch) method", "pass a DAEP, MAEP or VAE")
    ds = TensorDataset(*(batch[k] for k in SEQ_KEYS))
    val = None if val_batch is None else TensorDataset(*(val_batch[k] for k in SEQ_KEYS))
    res = fit(model.train(), ds, val, max_epochs=epochs, batch_size=batch_size, lr=lr, scheduler="cosine", seed=seed,
              device=device, progress=progress, resume=False, config={"model": type(model).__name__, **model.config})
    return res.model.cpu().eval(), res


def reconstruction_mse(model, batch: dict, truth, where=None, **kwargs) -> float:
    """Mean squared error [normalised units^2] of the reconstruction vs the noise-free truth.

    Parameters
    ----------
    model : DAEP, MAEP or VAE
    batch : dict
        Sequences (N, T); the encoder sees their valid tokens.
    truth : torch.Tensor (N, T)
        Noise-free values in the units of ``batch["value"]``.
    where : torch.Tensor (N, T) bool, optional
        Entries scored (default ``batch["mask"]``, the observed points; e.g. the ``hidden`` pixels of
        :func:`spectrum_batch` to score the in-painting of masked chunks).
    **kwargs
        Passed to ``model.reconstruct`` (e.g. ``n_sample_steps``, ``generator`` for DAEP).

    Returns
    -------
    float
    """
    import torch

    w = (batch["mask"] if where is None else where).float()
    if tuple(w.shape) != tuple(batch["value"].shape) or tuple(truth.shape) != tuple(w.shape):
        raise invalid("reconstruction_mse", f"truth {tuple(truth.shape)} / where {tuple(w.shape)} differ from the batch "
                      f"{tuple(batch['value'].shape)}", "pass truth and where shaped like batch['value']")
    if w.sum() == 0:
        raise invalid("reconstruction_mse(where=...)", "selects no entry", "select at least one entry")
    with torch.no_grad():
        rec = model.reconstruct(batch, batch["time"], batch["band"], **kwargs)
    return float((((rec - truth) ** 2) * w).sum() / w.sum())


def reconstruct_on_grid(model, batch: dict, rows, positions, band: int = 0, **kwargs) -> np.ndarray:
    """Reconstructions (K, M) of sequences ``rows`` of ``batch`` at the same query positions.

    Parameters
    ----------
    model : DAEP, MAEP or VAE
    batch : dict
        Sequences (N, T).
    rows : sequence of int (K,)
        Rows of ``batch`` to reconstruct.
    positions : array_like (M,)
        Query positions (scaled time or wavelength, see :func:`wavelength_to_position`).
    band : int
        Band index of every query.
    **kwargs
        Passed to ``model.reconstruct``.

    Returns
    -------
    numpy.ndarray (K, M)
        In the units of ``batch["value"]``.
    """
    import torch

    rows = np.asarray(rows, dtype=np.int64)
    sub = {k: v[torch.as_tensor(rows)] for k, v in batch.items()}
    q = torch.as_tensor(np.asarray(positions, dtype=np.float32))[None].expand(len(rows), -1).contiguous()
    with torch.no_grad():
        return model.reconstruct(sub, q, torch.full(q.shape, int(band), dtype=torch.long), **kwargs).numpy()


def ew_recovery(model, sim, batch: dict, rows, scale, *, wave_range=WAVE_RANGE, n_grid: int = 600, window: float = 4.0,
                **kwargs):
    """Equivalent widths of the known narrow lines measured on reconstructed spectra vs their true values.

    Each spectrum in ``rows`` is reconstructed on a dense regular grid of ``n_grid`` wavelengths, brought
    back to flux units with ``scale`` and integrated as ``(F / C - 1)`` against the object's true continuum
    over ``centre +- window * sigma`` (:func:`astrolab.sim.transients.equivalent_width`).

    Parameters
    ----------
    model : DAEP, MAEP or VAE
    sim : SimulatedTransientSpectra
    batch : dict
        From :func:`spectrum_batch` (rows aligned with ``sim``).
    rows : sequence of int
        Object rows to score.
    scale : numpy.ndarray (N,)
        Flux scale of :func:`spectrum_batch` [flux units].
    wave_range : (float, float)
        The range used by :func:`spectrum_batch` [Angstrom].
    n_grid : int
        Dense grid size.
    window : float
        Half-width of the integration window in line sigmas.
    **kwargs
        Passed to ``model.reconstruct``.

    Returns
    -------
    astropy.table.Table
        ``object_id``, ``name``, ``kind``, ``ew_true``, ``ew_rec`` [Angstrom] and ``in_chunk`` (True when a
        masked chunk overlaps the window: the line was in-painted), for lines whose window lies inside
        the object's wavelength coverage.
    """
    from astropy.table import Table

    from astrolab.sim.transients import equivalent_width

    lam = np.linspace(*wave_range, int(n_grid))
    rec = reconstruct_on_grid(model, batch, rows, wavelength_to_position(lam, wave_range), **kwargs)
    out = []
    for k, i in enumerate(np.asarray(rows, dtype=np.int64)):
        grid = sim.spectra.wavelength_of(int(i))
        cont = sim.continuum(int(i), lam)
        chunks = sim.chunks[sim.chunks["object_id"] == sim.params["object_id"][i]]
        for ln in sim.object_lines(int(i)):
            lo, hi = ln["centre"] - window * ln["sigma"], ln["centre"] + window * ln["sigma"]
            if lo < grid[0] or hi > grid[-1]:
                continue
            ew = equivalent_width(lam, rec[k] * scale[i], cont, lo, hi)
            hit = bool(np.any((chunks["lo"] < hi) & (chunks["hi"] > lo)))
            out.append((int(sim.params["object_id"][i]), str(ln["name"]), str(ln["kind"]), float(ln["ew"]), ew, hit))
    t = Table(rows=out, names=("object_id", "name", "kind", "ew_true", "ew_rec", "in_chunk"),
              dtype=(np.int64, "U16", "U10", float, float, bool)) if out else \
        Table(names=("object_id", "name", "kind", "ew_true", "ew_rec", "in_chunk"), dtype=(np.int64, "U16", "U10", float, float, bool))
    for col in ("ew_true", "ew_rec"):
        t[col].unit = "Angstrom"
    return t


def latents(model, batch: dict) -> np.ndarray:
    """Flattened bottlenecks (N, n_latents * d_model) (a VAE gives its posterior means)."""
    import torch

    with torch.no_grad():
        return model.latent_features(batch).numpy()


def probe_latents(train_latents, train_labels, test_latents, test_labels, *, fraction: float = 0.3, seeds=range(5),
                  kinds=("linear", "mlp")) -> dict:
    """Linear and one-hidden-layer (64) MLP probes on few-shot splits, and KMeans NMI/ARI.

    Each seed draws a class-stratified ``fraction`` of the training latents
    (:func:`astrolab.data.astrom3.label_subset`, the paper's 30 % per class) and fits
    :func:`astrolab.trimodal.probe`; the test latents are scored. KMeans (as many clusters as
    classes, :func:`astrolab.metrics.clustering.kmeans_scores`) runs on all latents, train and test
    (no label is used), standardised with the training statistics.

    Parameters
    ----------
    train_latents, test_latents : array_like (N, E)
    train_labels, test_labels : array_like (N,) int
    fraction : float in (0, 1]
    seeds : iterable of int
    kinds : sequence of {"linear", "mlp"}

    Returns
    -------
    dict
        ``{kind: {"accuracy", "accuracy_std", "balanced_accuracy", "macro_f1", "macro_f1_std", "n_train"}}``
        (means and standard deviations over seeds) plus ``"kmeans": {"nmi", "ari"}``.
    """
    from astrolab.data.astrom3 import label_subset
    from astrolab.metrics.clustering import kmeans_scores
    from astrolab.trimodal import probe

    ztr, zte = np.asarray(train_latents, float), np.asarray(test_latents, float)
    ytr, yte = np.asarray(train_labels), np.asarray(test_labels)
    if ztr.ndim != 2 or zte.ndim != 2 or ztr.shape[1] != zte.shape[1] or len(ytr) != len(ztr) or len(yte) != len(zte):
        raise invalid("probe_latents", f"latents {ztr.shape}/{zte.shape} and labels {ytr.shape}/{yte.shape} do not match",
                      "pass (N, E) latents with one label per row")
    seeds = list(seeds)
    if not seeds:
        raise invalid("probe_latents(seeds=...)", "is empty", "pass at least one seed")
    out = {}
    for kind in kinds:
        runs = []
        for s in seeds:
            idx = label_subset(ytr, fraction, seed=s)
            runs.append(probe(ztr[idx], ytr[idx], zte, yte, kind=kind, seed=s))
        out[kind] = {"accuracy": float(np.mean([r["accuracy"] for r in runs])),
                     "accuracy_std": float(np.std([r["accuracy"] for r in runs])),
                     "balanced_accuracy": float(np.mean([r["balanced_accuracy"] for r in runs])),
                     "macro_f1": float(np.mean([r["macro_f1"] for r in runs])),
                     "macro_f1_std": float(np.std([r["macro_f1"] for r in runs])), "n_train": len(idx)}
    z = (np.concatenate([ztr, zte]) - ztr.mean(0)) / np.maximum(ztr.std(0), 1e-9)
    out["kmeans"] = kmeans_scores(z, np.concatenate([ytr, yte]), seed=seeds[0])
    return out
