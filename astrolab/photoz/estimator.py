"""``PhotometricRedshift``: a scikit-learn-style photometric-redshift estimator.

Example
-------
>>> from astrolab import PhotometricRedshift
>>> from astrolab.sim.galaxies import simulate_galaxies
>>> train = simulate_galaxies(5000, survey="hsc", seed=1)
>>> test = simulate_galaxies(1000, survey="hsc", seed=2)
>>> model = PhotometricRedshift(bands=["g", "r", "i", "z", "y"], epochs=20).fit(train, z="redshift")
>>> pdf = model.predict_pdf(test)      # RedshiftPDF, one density per object
>>> z_hat = model.predict(test)        # ndarray (N,), the PDF median
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from astrolab.errors import DataValidationError, invalid

__all__ = ["PhotometricRedshift", "PhotometricFeatures"]

_FORMAT_VERSION = 1


@dataclass
class PhotometricFeatures:
    """Turns magnitude columns into network features, handling non-detections.

    Features per object (F = 4B - 1 for B bands): standardised magnitudes,
    standardised adjacent colours, standardised log10 magnitude errors, and a
    0/1 detection flag per band. A band that is NaN/inf (a non-detection or a
    missing measurement) is replaced by that band's faint limit learned on the
    training set (99th percentile of detected magnitudes) with an error of
    1 mag, and its flag is 0, so the network knows it was not measured.

    Attributes
    ----------
    bands : list of str
        Magnitude column names, in order.
    fill_mag, fill_err : ndarray (B,)
        Replacement magnitude [mag] and error [mag] for non-detections.
    mean, std : ndarray (F,)
        Standardisation of the features (flags are left as 0/1).
    """

    bands: list
    fill_mag: np.ndarray | None = None
    fill_err: np.ndarray | None = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    def _raw(self, table, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from astrolab.data.catalog import magnitude_columns

        mags, errs = magnitude_columns(table, self.bands)
        mags = np.asarray(mags, dtype=np.float64)
        errs = np.asarray(errs, dtype=np.float64)
        detected = np.isfinite(mags)
        errs = np.where(np.isfinite(errs) & (errs > 0), errs, np.nan)
        return mags, errs, detected

    def fit(self, table) -> "PhotometricFeatures":
        """Learn fill values and standardisation from a training table."""
        mags, errs, detected = self._raw(table, "training table")
        if not detected.any(axis=0).all():
            missing = [b for b, ok in zip(self.bands, detected.any(axis=0)) if not ok]
            raise invalid(
                f"PhotometricRedshift training table, band(s) {missing}",
                "no object is detected in these bands",
                "drop these bands from `bands=` or provide measured magnitudes",
            )
        self.fill_mag = np.array([np.nanpercentile(mags[detected[:, b], b], 99) for b in range(mags.shape[1])])
        self.fill_err = np.ones(mags.shape[1])
        x = self._assemble(mags, errs, detected)
        nb = len(self.bands)
        n_cont = x.shape[1] - nb
        self.mean = np.concatenate([x[:, :n_cont].mean(axis=0), np.zeros(nb)])
        std = x[:, :n_cont].std(axis=0)
        self.std = np.concatenate([np.where(std > 0, std, 1.0), np.ones(nb)])
        return self

    def _assemble(self, mags, errs, detected) -> np.ndarray:
        m = np.where(detected, mags, self.fill_mag[None, :])
        e = np.where(detected & np.isfinite(errs), errs, self.fill_err[None, :])
        colours = m[:, :-1] - m[:, 1:]
        return np.concatenate([m, colours, np.log10(np.clip(e, 1e-4, None)), detected.astype(np.float64)], axis=1)

    def transform(self, table) -> np.ndarray:
        """Features (N, F) float32 for a table with the same band columns."""
        if self.mean is None:
            raise RuntimeError("PhotometricFeatures.transform called before fit")
        mags, errs, detected = self._raw(table, "input table")
        x = (self._assemble(mags, errs, detected) - self.mean) / self.std
        return x.astype(np.float32)

    def state(self) -> dict:
        """Plain-Python state (lists/floats) safe for ``torch.load(weights_only=True)``."""
        return {k: (None if v is None else np.asarray(v).tolist()) for k, v in
                dict(fill_mag=self.fill_mag, fill_err=self.fill_err, mean=self.mean, std=self.std).items()}

    @classmethod
    def from_state(cls, bands, state: dict) -> "PhotometricFeatures":
        return cls(bands=list(bands), **{k: np.asarray(v, dtype=np.float64) for k, v in state.items()})


def _task_module(net, z_edges, loss: str):
    """Wrap the network with the ``loss(batch)``/``metrics(batch)`` protocol of the engine."""
    import torch
    from torch import nn

    from astrolab.metrics.photoz import hsc_loss_torch

    class PhotoZTask(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net
            edges = torch.as_tensor(z_edges, dtype=torch.float32)
            self.register_buffer("edges", edges)
            self.register_buffer("centres", 0.5 * (edges[1:] + edges[:-1]))

        def forward(self, x):
            return self.net(x)

        def _targets(self, z):
            idx = torch.bucketize(z.clamp(self.edges[0], self.edges[-1] - 1e-6), self.edges, right=True) - 1
            return idx.clamp(0, len(self.centres) - 1)

        def loss(self, batch):
            x, z = batch[0], batch[1]
            logits = self.net(x)
            ce = nn.functional.cross_entropy(logits, self._targets(z))
            if loss == "hsc":
                z_mean = (logits.softmax(dim=1) * self.centres).sum(dim=1)
                return hsc_loss_torch(z_mean, z) + 0.05 * ce
            return ce

        def metrics(self, batch):
            x, z = batch[0], batch[1]
            probs = self.net(x).softmax(dim=1)
            cdf = probs.cumsum(dim=1)
            med = self.centres[(cdf < 0.5).sum(dim=1).clamp(max=len(self.centres) - 1)]
            dz = (med - z) / (1 + z)
            nmad = 1.4826 * (dz - dz.median()).abs().median()
            return {"nmad": nmad, "outlier_rate": (dz.abs() > 0.15).float().mean()}

    return PhotoZTask()


class PhotometricRedshift:
    """Photometric redshift from broad-band magnitudes, with a full PDF per object.

    A multi-layer perceptron (GalaxiesML photometry architecture) maps
    magnitudes, colours, errors and detection flags to a density over
    ``n_bins`` redshift bins in [0, ``z_max``], trained with the negative log
    likelihood of the true bin (``loss="nll"``) or the HSC loss of the PDF mean
    (``loss="hsc"``). Training runs on astrolab's engine
    (:func:`astrolab.train.fit`): CUDA when present, checkpoints, resume, early
    stopping, a progress bar and a live metrics history.

    Parameters
    ----------
    bands : list of str
        Magnitude column names (AB mag); ``<band>_err`` columns are used when present.
    hidden : tuple of int
        Hidden layer widths.
    n_bins : int
        Number of redshift bins of the output PDF.
    z_max : float
        Upper edge of the redshift grid.
    loss : {"nll", "hsc"}
        Training loss.
    epochs, batch_size, lr, weight_decay, patience : training settings
        ``patience`` (epochs) enables early stopping on the validation loss.
    val_fraction : float
        Fraction of the training table held out for validation.
    seed : int
        Seed of the split, the initialisation and the shuffling.
    device : str
        ``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"``.
    progress : bool
        Show a tqdm progress bar while training.
    network : callable, optional
        Bring your own model: ``network(n_features, n_bins) -> torch.nn.Module``
        mapping features (N, n_features) float32 to logits (N, n_bins); a class
        or a function. Default: the GalaxiesML MLP with ``hidden`` layers. The
        estimator adds features, loss, engine training, PDFs and save/load
        (:meth:`load` then needs the same ``network``). Checked with
        :func:`astrolab.protocols.check_photoz_network`.

    Attributes
    ----------
    history_ : astrolab.train.MetricsHistory
        Per-epoch metrics of the last fit (``history_.frame`` is a DataFrame).
    fit_result_ : astrolab.train.FitResult
        Engine result of the last fit (run folder, checkpoints, timings).
    frozen_ : list of str
        Parameter names kept fixed in the last fit (``fit(..., freeze=...)``).
    """

    _PARAM_SPACE = {
        "epochs": ("int", 1, 300),
        "batch_size": ("int", 16, 4096),
        "lr": ("log", 1e-5, 1e-1),
        "weight_decay": ("log", 1e-7, 1e-1),
        "n_bins": ("int", 20, 400),
        "loss": ("choice", ["nll", "hsc"]),
        "width": ("int", 16, 1024),
        "depth": ("int", 1, 8),
    }

    def __init__(self, bands, hidden=(200, 200, 200, 200), n_bins: int = 200, z_max: float = 4.0,
                 loss: str = "nll", epochs: int = 30, batch_size: int = 256, lr: float = 1e-3,
                 weight_decay: float = 1e-5, patience: int | None = 10, val_fraction: float = 0.1,
                 seed: int = 0, device: str = "auto", progress: bool = True, network=None):
        if network is not None and not callable(network):
            raise invalid("PhotometricRedshift(network=...)", f"got {type(network).__name__}, not a callable",
                          "pass a factory(n_features, n_bins) -> torch.nn.Module (e.g. the class of your model)")
        if isinstance(bands, str) or not len(bands):
            raise invalid("PhotometricRedshift(bands=...)", f"expected a non-empty list of band names, got {bands!r}",
                          "pass e.g. bands=['g', 'r', 'i', 'z', 'y']")
        if loss not in ("nll", "hsc"):
            raise invalid("PhotometricRedshift(loss=...)", f"unknown loss {loss!r}", "use 'nll' or 'hsc'")
        self.bands = list(bands)
        self.hidden = tuple(int(h) for h in hidden)
        self.n_bins = int(n_bins)
        self.z_max = float(z_max)
        self.loss = loss
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.patience = patience
        self.val_fraction = float(val_fraction)
        self.seed = int(seed)
        self.device = device
        self.progress = progress
        self.network = network
        self.features_: PhotometricFeatures | None = None
        self.module_ = None
        self.frozen_: list = []
        self.history_ = None
        self.fit_result_ = None

    # -- scikit-learn style parameters -------------------------------------------------
    def get_params(self, deep: bool = True) -> dict:
        """Settings of this estimator (a JSON-able dict)."""
        return dict(bands=list(self.bands), hidden=list(self.hidden), n_bins=self.n_bins, z_max=self.z_max,
                    loss=self.loss, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                    weight_decay=self.weight_decay, patience=self.patience, val_fraction=self.val_fraction,
                    seed=self.seed, device=self.device, progress=self.progress, network=self.network)

    def set_params(self, **params) -> "PhotometricRedshift":
        """Change settings; ``width``/``depth`` rebuild ``hidden``. Returns self."""
        width = params.pop("width", None)
        depth = params.pop("depth", None)
        if width is not None or depth is not None:
            w = int(width if width is not None else (self.hidden[0] if self.hidden else 200))
            d = int(depth if depth is not None else len(self.hidden))
            params["hidden"] = tuple([w] * d)
        current = self.get_params()
        for key in params:
            if key not in current:
                raise invalid(f"PhotometricRedshift.set_params({key}=...)", "unknown parameter",
                              f"use one of {sorted(current)} (or width/depth)")
        current.update(params)
        self.__init__(**current)
        return self

    def param_values(self) -> dict:
        """Current value of every :meth:`param_space` entry, including the derived ``width`` (units per
        hidden layer, ``hidden[0]``) and ``depth`` (number of hidden layers)."""
        values = {k: v for k, v in self.get_params().items() if k in self._PARAM_SPACE}
        values["width"] = int(self.hidden[0]) if self.hidden else 0
        values["depth"] = len(self.hidden)
        return values

    def param_space(self) -> dict:
        """Widget-friendly ranges: name -> ("int"|"log"|"float", lo, hi) or ("choice", options)."""
        return copy.deepcopy(self._PARAM_SPACE)

    # -- training ---------------------------------------------------------------------
    @property
    def z_edges(self) -> np.ndarray:
        """Bin edges (n_bins + 1,) of the output redshift grid."""
        return np.linspace(0.0, self.z_max, self.n_bins + 1)

    @property
    def z_grid(self) -> np.ndarray:
        """Bin centres (n_bins,) on which PDFs are returned."""
        e = self.z_edges
        return 0.5 * (e[1:] + e[:-1])

    def _check_table(self, table, what: str):
        from astrolab.data.catalog import ERR_PATTERNS, validate_catalog

        cols = getattr(table, "colnames", None) or list(getattr(table, "columns", []))
        id_col = "object_id" if "object_id" in cols else None  # ids, when present, must be unique
        table = validate_catalog(table, required=self.bands, name=f"PhotometricRedshift {what}", id_col=id_col)
        for band in self.bands:  # magnitude errors are 1-sigma >= 0 (NaN or a -99 sentinel = unknown)
            for pattern in ERR_PATTERNS:
                name = pattern.format(band=band)
                if name not in table.colnames or table[name].dtype.kind not in "fiu":
                    continue
                err = np.ma.filled(np.ma.asarray(table[name], dtype=np.float64), np.nan)
                neg = np.isfinite(err) & (err < 0) & ~np.isin(err, (-99.0, -999.0))
                if neg.any():
                    raise invalid(f"PhotometricRedshift {what}, column {name!r}",
                                  f"{int(neg.sum())} negative magnitude error(s) (rows {np.flatnonzero(neg)[:5].tolist()})",
                                  "errors are 1-sigma >= 0; set NaN where the error is unknown, or drop those rows")
        return table

    def _redshifts(self, table, z) -> np.ndarray:
        if isinstance(z, str):
            if z not in table.colnames:
                raise invalid(f"PhotometricRedshift training table, column {z!r}", "not found",
                              f"pass z=<name of the true-redshift column>; available: {table.colnames}")
            zt = np.asarray(table[z], dtype=np.float64)
        else:
            zt = np.asarray(z, dtype=np.float64)
        if zt.shape != (len(table),):
            raise invalid("PhotometricRedshift.fit(z=...)", f"shape {zt.shape} does not match {len(table)} rows",
                          "give one true redshift per row")
        bad = ~np.isfinite(zt) | (zt < 0)
        if bad.any():
            raise invalid("PhotometricRedshift training redshifts",
                          f"{int(bad.sum())} value(s) are NaN, inf or negative (first rows: {np.flatnonzero(bad)[:5].tolist()})",
                          "drop those rows or fix the redshift column")
        return zt

    def fit(self, table, z="redshift", *, run_dir=None, resume: bool = False, history=None, stop_event=None,
            device: str | None = None, val_table=None, z_val=None, init_from=None,
            freeze=()) -> "PhotometricRedshift":
        """Train on a catalog with magnitude columns and true redshifts.

        Parameters
        ----------
        table : astropy.table.Table
            Training catalog with one magnitude column per band (AB mag; NaN for
            non-detections) and optional ``<band>_err``.
        z : str or array (N,)
            True-redshift column name or values (>= 0).
        run_dir : path, optional
            Folder for checkpoints (default: a fresh folder in the cache).
        resume : bool
            Continue from ``run_dir/checkpoints/last.pt`` if present.
        history : astrolab.train.MetricsHistory, optional
            Receives one row per epoch (for live widgets).
        stop_event : threading.Event, optional
            Set it to stop after the current batch; the last checkpoint is kept.
        device : str, optional
            Overrides the ``device`` setting for this fit.
        val_table, z_val : optional
            Explicit validation set; otherwise ``val_fraction`` of ``table``.
        init_from : PhotometricRedshift, optional
            Transfer learning: a fitted estimator to start from. Its feature
            scaling (:class:`PhotometricFeatures`) is kept as it is, not refitted
            on ``table``, and its weights initialise the network, which is then
            trained on ``table`` with this estimator's settings (typically a
            smaller ``lr``). It must have the same bands, ``n_bins``, ``z_max``,
            ``hidden`` and ``network``; it is not modified.
        freeze : sequence of str
            Parameter-name prefixes kept fixed during this fit (e.g.
            ``("net.body.0",)``: the first hidden layer; ``("net.body",)``: every
            hidden layer, only the head learns); see
            :func:`astrolab.models.transfer.parameter_groups`. The names frozen
            are listed in :attr:`frozen_`.

        Returns
        -------
        self
        """
        import torch
        from torch.utils.data import TensorDataset

        from astrolab import config
        from astrolab.train import fit as engine_fit

        table = self._check_table(table, "training table")
        zt = self._redshifts(table, z)
        if val_table is None:
            rng = np.random.default_rng(self.seed)
            order = rng.permutation(len(table))
            n_val = max(1, int(round(self.val_fraction * len(table)))) if self.val_fraction > 0 else 0
            val_idx, train_idx = order[:n_val], order[n_val:]
            train_tab, val_tab = table[train_idx], (table[val_idx] if n_val else None)
            z_train, z_val_arr = zt[train_idx], (zt[val_idx] if n_val else None)
        else:
            val_table = self._check_table(val_table, "validation table")
            train_tab, val_tab, z_train = table, val_table, zt
            z_val_arr = self._redshifts(val_table, "redshift" if z_val is None else z_val)
        if len(train_tab) < 2:
            raise invalid("PhotometricRedshift training table", f"only {len(train_tab)} usable row(s)",
                          "provide at least a few hundred objects")
        if init_from is not None:
            self._check_init_from(init_from)
            features = copy.deepcopy(init_from.features_)
        else:
            features = PhotometricFeatures(self.bands).fit(train_tab)
        config.seed_everything(self.seed)
        net = self._build_network(features.transform(train_tab[:1]).shape[1])
        module = _task_module(net, self.z_edges, self.loss)
        if init_from is not None:
            module.load_state_dict(init_from.module_.state_dict())
        frozen = self._freeze(module, freeze)  # checked before this estimator changes
        self.features_, self.module_, self.frozen_ = features, module, frozen

        def dataset(tab, zz):
            x = torch.from_numpy(self.features_.transform(tab))
            return TensorDataset(x, torch.as_tensor(zz, dtype=torch.float32))

        train_ds = dataset(train_tab, z_train)
        val_ds = dataset(val_tab, z_val_arr) if val_tab is not None else None
        result = engine_fit(
            self.module_, train_ds, val_ds, max_epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
            weight_decay=self.weight_decay, run_dir=run_dir, resume=resume,
            patience=self.patience if val_ds is not None else None, device=device or self.device,
            progress=self.progress, seed=self.seed, history=history, stop_event=stop_event,
            config={"estimator": "PhotometricRedshift", **self._plain_params()},
        )
        self.module_ = result.model.to("cpu").eval()
        self.fit_result_ = result
        self.history_ = result.history
        return self

    def _check_init_from(self, other) -> None:
        """Refuse a starting model that is not a fitted estimator with the same inputs and outputs."""
        if not isinstance(other, PhotometricRedshift) or other.module_ is None or other.features_ is None:
            what = "an unfitted PhotometricRedshift" if isinstance(other, PhotometricRedshift) else type(other).__name__
            raise invalid("PhotometricRedshift.fit(init_from=...)", f"got {what}",
                          "pass a fitted PhotometricRedshift (call .fit on the pre-training set first, or .load)")
        mine, theirs = self._plain_params(), other._plain_params()
        diff = [k for k in ("bands", "n_bins", "z_max", "hidden", "network") if mine[k] != theirs[k]]
        if diff:
            raise invalid("PhotometricRedshift.fit(init_from=...)",
                          "the pre-trained model differs in " + ", ".join(f"{k} ({theirs[k]!r} vs {mine[k]!r})"
                                                                          for k in diff),
                          "build the fine-tuned estimator with the pre-trained one's settings, e.g. "
                          "PhotometricRedshift(**pretrained.get_params()).set_params(lr=...) or "
                          "astrolab.photoz.transfer.fine_tune(pretrained, table)")

    @staticmethod
    def _freeze(module, prefixes) -> list:
        """Freeze parameters of ``module`` whose names start with ``prefixes``; return the frozen names."""
        from astrolab.models.transfer import freeze, parameter_groups

        if isinstance(prefixes, str):
            prefixes = (prefixes,)
        prefixes = tuple(prefixes or ())
        if not prefixes:
            return []
        try:
            freeze(module, *prefixes)
        except ValueError:
            raise invalid(f"PhotometricRedshift.fit(freeze={prefixes!r})", "a prefix matches no parameter",
                          f"use prefixes among {parameter_groups(module)}") from None
        return [n for n, p in module.named_parameters() if not p.requires_grad]

    def _build_network(self, n_features: int):
        """The network for ``n_features`` inputs: ``network(n_features, n_bins)`` or the default MLP."""
        from astrolab.models.photoz import PhotoZMLP
        from astrolab.protocols import check_photoz_network, model_name

        if self.network is None:
            return PhotoZMLP(n_features, self.n_bins, self.hidden)
        try:
            net = self.network(int(n_features), int(self.n_bins))
        except TypeError as exc:
            raise invalid(f"PhotometricRedshift network {model_name(self.network)}",
                          f"could not be called as network(n_features={n_features}, n_bins={self.n_bins}): {exc}",
                          "its signature must be (n_features, n_bins) -> torch.nn.Module") from exc
        check_photoz_network(net, n_features, self.n_bins, name=f"PhotometricRedshift network "
                             f"{model_name(self.network)}")
        return net

    def _plain_params(self) -> dict:
        """:meth:`get_params` with ``network`` as its name (JSON-able; for run configs and files)."""
        from astrolab.protocols import model_name

        params = self.get_params()
        params["network"] = None if self.network is None else model_name(self.network)
        return params

    # -- prediction -------------------------------------------------------------------
    def _require_fitted(self):
        if self.module_ is None or self.features_ is None:
            raise DataValidationError("PhotometricRedshift: the estimator is not fitted. Fix: call .fit(table) "
                                      "or PhotometricRedshift.load(path) first.")

    def predict_pdf(self, table, batch_size: int = 8192):
        """Redshift PDFs for every row of ``table``.

        Returns
        -------
        astrolab.metrics.pdf.RedshiftPDF
            Densities on :attr:`z_grid` (n_bins,), one row per table row, with
            ``ids`` from the ``object_id`` column when present. Rows with
            non-detections or missing bands get a (broader) PDF, never dropped.
        """
        import torch

        from astrolab.metrics.pdf import RedshiftPDF

        self._require_fitted()
        table = self._check_table(table, "input table")
        x = self.features_.transform(table)
        out = []
        module = self.module_.eval()
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                logits = module(torch.from_numpy(x[start:start + batch_size]))
                out.append(logits.float().softmax(dim=1).numpy())
        probs = np.concatenate(out, axis=0) if out else np.zeros((0, self.n_bins))
        width = self.z_max / self.n_bins
        ids = np.asarray(table["object_id"]) if "object_id" in table.colnames else None
        return RedshiftPDF(self.z_grid, probs / width, ids=ids)

    def predict(self, table, kind: str = "median") -> np.ndarray:
        """Point redshifts (N,) from the PDFs: ``kind`` in {"median", "mode", "mean"}."""
        return np.asarray(self.predict_pdf(table).point_estimate(kind))

    # -- persistence ------------------------------------------------------------------
    def save(self, path) -> Path:
        """Save settings, feature scaling and weights to ``path`` (atomic write).

        The file holds only tensors and plain Python values and loads with
        ``torch.load(path, weights_only=True)``.
        """
        import torch

        import astrolab
        from astrolab.utils import atomic_path

        self._require_fitted()
        payload = {
            "kind": "PhotometricRedshift",
            "format_version": _FORMAT_VERSION,
            "astrolab_version": astrolab.__version__,
            "params": self._plain_params(),
            "features": self.features_.state(),
            "state_dict": {k: v.detach().cpu() for k, v in self.module_.state_dict().items()},
        }
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
        return Path(path)

    @classmethod
    def load(cls, path, network=None) -> "PhotometricRedshift":
        """Load an estimator written by :meth:`save` (``weights_only=True``).

        Parameters
        ----------
        path : path
            File written by :meth:`save`.
        network : callable, optional
            The same ``network`` factory the model was trained with (needed when it
            was not the default MLP: files hold weights, never code).
        """
        import torch

        from astrolab.errors import CheckpointError

        path = Path(path)
        if not path.exists():
            raise CheckpointError(f"PhotometricRedshift.load: {path} does not exist. Fix: check the path.")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # corrupt, truncated or pickled file
            raise CheckpointError(f"PhotometricRedshift.load: {path} could not be read ({type(exc).__name__}: {exc}). "
                                  "Fix: the file is corrupt or truncated; save the model again.") from exc
        if not isinstance(payload, dict) or payload.get("kind") != "PhotometricRedshift":
            raise CheckpointError(f"PhotometricRedshift.load: {path} is not a PhotometricRedshift file. "
                                  "Fix: pass a file written by PhotometricRedshift.save().")
        if payload.get("format_version", 0) > _FORMAT_VERSION:
            raise CheckpointError(f"PhotometricRedshift.load: {path} has format {payload['format_version']}, newer "
                                  f"than this astrolab supports ({_FORMAT_VERSION}). Fix: upgrade astrolab.")
        params = dict(payload["params"])
        saved_network = params.pop("network", None)
        if saved_network is not None and network is None:
            raise CheckpointError(f"PhotometricRedshift.load: {path} was trained with the custom network "
                                  f"{saved_network!r}; files hold weights, not code. Fix: pass "
                                  "PhotometricRedshift.load(path, network=<the same factory>).")
        est = cls(**params, network=network)
        est.features_ = PhotometricFeatures.from_state(est.bands, payload["features"])
        n_features = 4 * len(est.bands) - 1
        est.module_ = _task_module(est._build_network(n_features), est.z_edges, est.loss)
        try:
            est.module_.load_state_dict(payload["state_dict"])
        except RuntimeError as exc:
            raise CheckpointError(f"PhotometricRedshift.load: the weights in {path} do not fit the network "
                                  f"({str(exc).splitlines()[0]}). Fix: pass the network (and hidden sizes) the "
                                  "model was trained with.") from exc
        est.module_.eval()
        return est

    def __repr__(self) -> str:
        fitted = "fitted" if self.module_ is not None else "not fitted"
        return f"PhotometricRedshift(bands={self.bands}, hidden={list(self.hidden)}, n_bins={self.n_bins}, {fitted})"
