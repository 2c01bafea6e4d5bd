"""AstroM3-style model inputs: padded photometry, normalised spectra, standardised metadata.

Two sources give the same :class:`AstroM3Arrays`:

- :func:`arrays_from_multimodal` -- any :class:`~astrolab.data.MultimodalSet` with light
  curves, spectra and a catalog (e.g. :func:`astrolab.sim.variables.simulate_variables`),
  preprocessed as in Rizhko & Bloom (``/work/shared/papers.md`` section 8): magnitudes ->
  (m - mean)/MAD, errors / MAD, time scaled to [0, 1], crop or zero-pad to ``max_len`` points
  with a validity mask; per-object auxiliary photometric features (log10 period, amplitude,
  log10 MAD, log10 time span); spectra -> (flux - mean)/MAD with channels (flux, error,
  log10 MAD); metadata columns standardised with training-set mean/std.
- :func:`load_astrom3_processed` -- the published *processed* AstroM3 tables
  (Hugging Face ``AstroMLCore/AstroM3Processed``), read from a local copy. Layout::

      <root>/<subset>_<seed>/<split>/*.parquet     subset in {full, sub50, sub25, sub10},
                                                   seed in {42, 0, 66, 12, 123},
                                                   split in {train, validation, test}

  Each row has ``photometry`` (T x 9 float32, a list of T lists; channels: 0 time scaled to
  [0, 1], 1 normalised flux, 2 normalised flux error, 3-8 per-object auxiliary features
  repeated at every time step: amplitude, period, Lafler-Kinman statistic, RF score, log10 MAD,
  time span), ``spectra`` (3 x 2575: flux, error, log10 MAD on 3850-9000 A at 2 A),
  ``metadata`` (34 standardised features) and ``label`` (int index into :data:`ASTROM3_CLASSES`
  or the class name). Channel meanings follow the paper's description; check them against your
  copy (``[verify]`` in papers.md). Nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from astrolab.errors import invalid

__all__ = ["ASTROM3_CLASSES", "AstroM3Arrays", "arrays_from_multimodal", "split_multimodal", "photometry_arrays",
           "spectrum_arrays", "standardise", "load_astrom3_processed", "label_subset"]

#: AstroM3 class names in the order of integer labels (alphabetical; [verify] against the real ClassLabel).
ASTROM3_CLASSES = ("DSCT", "EA", "EB", "EW", "HADS", "M", "ROT", "RRAB", "RRC", "SR")


@dataclass
class AstroM3Arrays:
    """Model-ready arrays of N objects (all float32 except labels and mask).

    Attributes
    ----------
    time : numpy.ndarray (N, T)
        Time scaled to [0, 1] over each light curve (0 in padding).
    phase : numpy.ndarray (N, T)
        Phase in [0, 1) folded on the catalogue period (0 in padding).
    value, error : numpy.ndarray (N, T)
        (mag - mean) / MAD and error / MAD (0 and 1 in padding).
    mask : numpy.ndarray (N, T) bool
        True = valid observation (attention convention).
    aux : numpy.ndarray (N, A)
        Per-object photometric features (standardised).
    spectra : numpy.ndarray (N, C, L)
        Spectrum channels (flux, error, log10 MAD), normalised.
    metadata : numpy.ndarray (N, F)
        Standardised metadata features.
    labels : numpy.ndarray (N,) int64
        Class index (-1 unknown).
    ids : numpy.ndarray (N,)
        Object ids.
    classes : tuple of str
        Class names indexed by ``labels``.
    stats : dict
        Standardisation statistics (``aux_mean``, ``aux_std``, ``meta_mean``, ``meta_std``).
    """

    time: np.ndarray
    phase: np.ndarray
    value: np.ndarray
    error: np.ndarray
    mask: np.ndarray
    aux: np.ndarray
    spectra: np.ndarray
    metadata: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    classes: tuple = ASTROM3_CLASSES
    stats: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, idx) -> "AstroM3Arrays":
        """Rows ``idx`` (int array or boolean mask) as a new :class:`AstroM3Arrays` (shared stats)."""
        idx = np.asarray(idx)
        take = lambda a: a[idx]  # noqa: E731
        return AstroM3Arrays(take(self.time), take(self.phase), take(self.value), take(self.error), take(self.mask),
                             take(self.aux), take(self.spectra), take(self.metadata), take(self.labels),
                             take(self.ids), self.classes, dict(self.stats))

    def tensors(self) -> dict:
        """Dict of torch tensors (float32; ``mask`` bool, ``labels`` int64) for the models."""
        import torch

        f = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)  # noqa: E731
        return {"time": f(self.time), "phase": f(self.phase), "value": f(self.value), "error": f(self.error),
                "mask": torch.as_tensor(self.mask, dtype=torch.bool), "aux": f(self.aux), "spectra": f(self.spectra),
                "metadata": f(self.metadata), "labels": torch.as_tensor(self.labels, dtype=torch.int64)}

    def dataset(self):
        """``torch.utils.data.TensorDataset`` of (time, phase, value, error, mask, aux, spectra, metadata, labels)."""
        from torch.utils.data import TensorDataset

        t = self.tensors()
        return TensorDataset(*(t[k] for k in BATCH_KEYS))

    @property
    def n_aux(self) -> int:
        """Number A of auxiliary photometric features."""
        return int(self.aux.shape[1])

    @property
    def n_meta(self) -> int:
        """Number F of metadata features."""
        return int(self.metadata.shape[1])


#: Order of tensors in :meth:`AstroM3Arrays.dataset` batches.
BATCH_KEYS = ("time", "phase", "value", "error", "mask", "aux", "spectra", "metadata", "labels")


def _mad(x, axis=-1):
    med = np.median(x, axis=axis, keepdims=True)
    return np.median(np.abs(x - med), axis=axis, keepdims=True)


def photometry_arrays(lcs, period=None, max_len: int = 200, crop: str = "center", seed: int = 0) -> dict:
    """Pad/crop and normalise light curves (AstroM3 photometry preprocessing).

    Parameters
    ----------
    lcs : LightCurveSet
        N light curves (one band is assumed; magnitudes or fluxes).
    period : array_like (N,), optional
        Catalogue period [d] used for the phase and the ``log10 period`` feature
        (NaN or absent -> phase 0 and feature 0).
    max_len : int
        Length T of the padded sequences.
    crop : {"center", "random"}
        Which ``max_len`` consecutive points to keep from longer curves.
    seed : int
        Seed of the random crop.

    Returns
    -------
    dict
        ``time``, ``phase``, ``value``, ``error`` (N, T) float32, ``mask`` (N, T) bool (True = valid),
        ``aux`` (N, 4) float32: log10 period [d], amplitude (95-5 percentile range / MAD),
        log10 MAD [mag], log10 time span [d] (not standardised).
    """
    if crop not in ("center", "random"):
        raise invalid("photometry_arrays(crop=...)", f"got {crop!r}", "use 'center' or 'random'")
    n = len(lcs)
    rng = np.random.default_rng(seed)
    per = np.full(n, np.nan) if period is None else np.asarray(period, dtype=float).reshape(-1)
    if per.shape != (n,):
        raise invalid("photometry_arrays(period=...)", f"has shape {per.shape}, expected ({n},)", "pass one period per light curve")
    out = {k: np.zeros((n, max_len), np.float32) for k in ("time", "phase", "value")}
    out["error"] = np.ones((n, max_len), np.float32)
    out["mask"] = np.zeros((n, max_len), bool)
    aux = np.zeros((n, 4), np.float32)
    for i in range(n):
        a, b = lcs.offsets[i], lcs.offsets[i + 1]
        t, y, e = lcs.time[a:b], lcs.value[a:b], lcs.error[a:b]
        if t.size == 0:
            continue
        mad = float(np.median(np.abs(y - np.median(y)))) or 1e-3
        span = float(t[-1] - t[0]) or 1.0
        amp = (np.percentile(y, 95) - np.percentile(y, 5)) / mad
        p = per[i]
        aux[i] = (np.log10(p) if np.isfinite(p) and p > 0 else 0.0, amp, np.log10(mad), np.log10(span))
        if t.size > max_len:
            start = (t.size - max_len) // 2 if crop == "center" else int(rng.integers(0, t.size - max_len + 1))
            sl = slice(start, start + max_len)
            t, y, e = t[sl], y[sl], e[sl]
        k = t.size
        t0 = lcs.time[a]
        out["time"][i, :k] = (t - t0) / span
        out["phase"][i, :k] = np.mod((t - t0) / p, 1.0) if np.isfinite(p) and p > 0 else 0.0
        out["value"][i, :k] = (y - np.mean(lcs.value[a:b])) / mad
        out["error"][i, :k] = e / mad
        out["mask"][i, :k] = True
    out["aux"] = aux
    return out


def spectrum_arrays(spectra) -> np.ndarray:
    """AstroM3 spectrum channels: (flux - mean)/MAD, error/MAD, log10 MAD.

    Parameters
    ----------
    spectra : SpectrumSet
        N spectra on a shared grid (L,); masked pixels and ivar = 0 are set to flux 0, error 0.

    Returns
    -------
    numpy.ndarray, shape (N, 3, L), float32
    """
    flux = np.asarray(spectra.flux, dtype=float)
    good = ~np.asarray(spectra.mask) & np.isfinite(flux)
    if spectra.ivar is not None:
        good &= np.asarray(spectra.ivar) > 0
        err = np.where(good, 1.0 / np.sqrt(np.where(good, spectra.ivar, 1.0)), 0.0)
    else:
        err = np.zeros_like(flux)
    fm = np.where(good, flux, np.nan)
    mean = np.nanmean(fm, axis=1, keepdims=True)
    mad = np.nanmedian(np.abs(fm - np.nanmedian(fm, axis=1, keepdims=True)), axis=1, keepdims=True)
    mad = np.where(np.isfinite(mad) & (mad > 0), mad, 1.0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    x = np.where(good, (flux - mean) / mad, 0.0)
    out = np.stack([x, err / mad, np.broadcast_to(np.log10(mad), x.shape)], axis=1)
    return out.astype(np.float32)


def standardise(x, mean=None, std=None):
    """Standardise columns of ``x`` (N, F); NaN -> 0 after scaling. Returns (z, mean, std)."""
    x = np.asarray(x, dtype=float)
    if mean is None:
        mean = np.nanmean(x, axis=0)
        std = np.nanstd(x, axis=0)
        std = np.where(std > 0, std, 1.0)
    z = np.nan_to_num((x - mean) / std, nan=0.0)
    return z.astype(np.float32), mean, std


def arrays_from_multimodal(mm, metadata_columns, label_column: str = "label_index", period_column: str | None = "period",
                           max_len: int = 200, classes=ASTROM3_CLASSES, stats: dict | None = None, crop: str = "center",
                           seed: int = 0) -> AstroM3Arrays:
    """Preprocess a :class:`MultimodalSet` into :class:`AstroM3Arrays`.

    Parameters
    ----------
    mm : MultimodalSet
        With ``lightcurves``, ``spectra`` and catalog columns; every object must have both modalities.
    metadata_columns : sequence of str
        Numeric catalog columns of the metadata modality (F of them).
    label_column : str
        Integer class column (-1 = unknown); absent -> all -1.
    period_column : str or None
        Catalogue period column [d] (phase folding and the log-period feature).
    max_len : int
        Padded light-curve length T.
    classes : sequence of str
        Class names indexed by the labels.
    stats : dict, optional
        Standardisation statistics of a training set (``AstroM3Arrays.stats``); computed here when absent.
    crop, seed
        See :func:`photometry_arrays`.

    Returns
    -------
    AstroM3Arrays
    """
    for mod in ("lightcurves", "spectra"):
        if not np.all(mm.has(mod)):
            raise invalid("arrays_from_multimodal(mm=...)", f"{int((~mm.has(mod)).sum())} object(s) lack {mod}",
                          f"select the objects that have both, e.g. mm[mm.has('lightcurves') & mm.has('spectra')]")
    cat = mm.catalog
    lcs = mm.lightcurves.select_ids(mm.ids)
    spec = mm.spectra.select_ids(mm.ids)
    per = np.asarray(cat[period_column], dtype=float) if period_column and period_column in cat.colnames else None
    ph = photometry_arrays(lcs, per, max_len=max_len, crop=crop, seed=seed)
    missing = [c for c in metadata_columns if c not in cat.colnames]
    if missing:
        raise invalid("arrays_from_multimodal(metadata_columns=...)", f"unknown column(s) {missing}", "pick catalog columns")
    meta = np.stack([np.ma.filled(np.ma.asarray(cat[c], dtype=float), np.nan) for c in metadata_columns], axis=1)
    if stats is None:
        _, am, asd = standardise(ph["aux"])
        _, mmean, msd = standardise(meta)
        stats = {"aux_mean": am, "aux_std": asd, "meta_mean": mmean, "meta_std": msd}
    aux, _, _ = standardise(ph["aux"], stats["aux_mean"], stats["aux_std"])
    metaz, _, _ = standardise(meta, stats["meta_mean"], stats["meta_std"])
    labels = np.asarray(cat[label_column], dtype=np.int64) if label_column in cat.colnames else np.full(len(cat), -1)
    return AstroM3Arrays(ph["time"], ph["phase"], ph["value"], ph["error"], ph["mask"], aux, spectrum_arrays(spec),
                         metaz, labels, np.asarray(mm.ids), tuple(classes), stats)


def split_multimodal(mm, metadata_columns, fractions=(0.7, 0.15), seed: int = 0, max_len: int = 200, **kw):
    """Random train / validation / test split of a :class:`MultimodalSet`, preprocessed into :class:`AstroM3Arrays`.

    The validation and test arrays are standardised with the training set's statistics, so no information
    leaks from them into the training inputs. Pre-training and fine-tuning must use the same split
    (the AstroM3 protocol): call this once and pass its arrays to both.

    Parameters
    ----------
    mm : MultimodalSet
        N objects, each with a light curve and a spectrum.
    metadata_columns : sequence of str
        Numeric catalog columns of the metadata modality.
    fractions : (float, float)
        Training and validation fractions of N; the test set is the rest (must be non-empty).
    seed : int
        Seed of the random permutation.
    max_len : int
        Padded light-curve length T (see :func:`arrays_from_multimodal`).
    **kw
        Passed on to :func:`arrays_from_multimodal` (``label_column``, ``period_column``, ``classes``, ...).

    Returns
    -------
    split : dict
        ``{"train", "val", "test"}`` -> int64 row indices into ``mm``.
    train, val, test : AstroM3Arrays
        ``val`` is None when the validation fraction gives no object.
    """
    f_tr, f_va = (float(f) for f in fractions)
    n = len(mm)
    n_tr, n_va = int(f_tr * n), int(f_va * n)
    if f_tr <= 0 or f_va < 0 or n_tr < 1 or n - n_tr - n_va < 1:
        raise invalid("split_multimodal(fractions=...)", f"got {fractions!r} for {n} objects",
                      "pass (train, val) fractions with train > 0 that leave at least one test object")
    perm = np.random.default_rng(seed).permutation(n).astype(np.int64)
    split = {"train": perm[:n_tr], "val": perm[n_tr:n_tr + n_va], "test": perm[n_tr + n_va:]}
    train = arrays_from_multimodal(mm[split["train"]], metadata_columns, max_len=max_len, **kw)
    val = arrays_from_multimodal(mm[split["val"]], metadata_columns, max_len=max_len, stats=train.stats, **kw) if n_va else None
    test = arrays_from_multimodal(mm[split["test"]], metadata_columns, max_len=max_len, stats=train.stats, **kw)
    return split, train, val, test


def label_subset(labels, fraction: float, seed: int = 0) -> np.ndarray:
    """Indices of a class-stratified subset with ``fraction`` of the labels (at least 1 per class).

    Parameters
    ----------
    labels : array_like (N,) int
    fraction : float in (0, 1]
    seed : int

    Returns
    -------
    numpy.ndarray (K,) int64, sorted.
    """
    if not 0 < fraction <= 1:
        raise invalid("label_subset(fraction=...)", f"got {fraction!r}", "pass a fraction in (0, 1]")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = max(1, int(round(fraction * idx.size)))
        keep.append(rng.choice(idx, size=k, replace=False))
    return np.sort(np.concatenate(keep)).astype(np.int64)


def load_astrom3_processed(root, config: str = "full_42", split: str = "train", max_len: int = 200,
                           classes=ASTROM3_CLASSES, limit: int | None = None) -> AstroM3Arrays:
    """Read a local copy of the processed AstroM3 tables (parquet) into :class:`AstroM3Arrays`.

    Parameters
    ----------
    root : path-like
        Folder holding ``<config>/<split>/*.parquet`` (see the module docstring).
    config : str
        ``"<subset>_<seed>"``, e.g. ``"full_42"`` or ``"sub10_0"``.
    split : {"train", "validation", "test"}
    max_len : int
        Photometry is centre-cropped or zero-padded to T = ``max_len`` points.
    classes : sequence of str
        Class names (string labels are mapped to their index here).
    limit : int, optional
        Read at most this many rows.

    Returns
    -------
    AstroM3Arrays
        ``time`` and ``value``/``error`` from photometry channels 0/1/2; ``aux`` = channels 3-8 at the
        first time step (per-object features); ``phase`` = time folded on the period channel when it is
        positive (it is normalised in the processed tables, so treat ``phase`` as approximate);
        ``spectra`` (N, 3, L); ``metadata`` (N, 34); ``ids`` = row numbers (or ``id`` column).
    """
    import pyarrow.parquet as pq

    folder = Path(root) / config / split
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise invalid("load_astrom3_processed(root=...)", f"no parquet files in {folder}",
                      "download AstroMLCore/AstroM3Processed elsewhere and pass the folder that holds <config>/<split>/")
    tables = [pq.read_table(f) for f in files]
    rows = []
    for tab in tables:
        need = {"photometry", "spectra", "metadata", "label"}
        if not need <= set(tab.column_names):
            raise invalid(f"AstroM3 table {files[0]}", f"columns {tab.column_names} lack {sorted(need - set(tab.column_names))}",
                          "point to the processed AstroM3 dataset (photometry, spectra, metadata, label)")
        rows.extend(tab.to_pylist())
        if limit is not None and len(rows) >= limit:
            break
    rows = rows[:limit] if limit is not None else rows
    n = len(rows)
    T = int(max_len)
    arr = {k: np.zeros((n, T), np.float32) for k in ("time", "phase", "value")}
    arr["error"] = np.ones((n, T), np.float32)
    arr["mask"] = np.zeros((n, T), bool)
    aux = np.zeros((n, 6), np.float32)
    spectra, meta, labels, ids = [], [], np.zeros(n, np.int64), []
    lookup = {c: i for i, c in enumerate(classes)}
    for i, r in enumerate(rows):
        ph = np.asarray(r["photometry"], dtype=np.float32).reshape(-1, 9) if r["photometry"] is not None else np.zeros((0, 9), np.float32)
        if ph.shape[0] > T:
            s = (ph.shape[0] - T) // 2
            ph = ph[s:s + T]
        k = ph.shape[0]
        arr["time"][i, :k], arr["value"][i, :k], arr["error"][i, :k] = ph[:, 0], ph[:, 1], ph[:, 2]
        arr["mask"][i, :k] = True
        if k:
            aux[i] = ph[0, 3:9]
            p = ph[0, 4]
            arr["phase"][i, :k] = np.mod(ph[:, 0] / p, 1.0) if p > 0 else 0.0
        spectra.append(np.asarray(r["spectra"], dtype=np.float32))
        meta.append(np.asarray(r["metadata"], dtype=np.float32).ravel())
        lab = r["label"]
        labels[i] = lookup.get(lab, -1) if isinstance(lab, str) else int(lab)
        ids.append(r.get("id", i))
    spec = np.stack(spectra) if spectra else np.zeros((0, 3, 2575), np.float32)
    if spec.ndim != 3:
        raise invalid("AstroM3 spectra column", f"rows stack to shape {spec.shape}", "each spectrum must be (channels, L)")
    return AstroM3Arrays(arr["time"], arr["phase"], arr["value"], arr["error"], arr["mask"], aux, spec,
                         np.stack(meta) if meta else np.zeros((0, 34), np.float32), labels, np.asarray(ids),
                         tuple(classes), {})
