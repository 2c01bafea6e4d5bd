"""Predict WISE W1-W4 from optical spectra (Jespersen et al. 2025; papers.md section 4).

- :class:`OpticalToIR` -- spectrum autoencoder + heteroscedastic WISE head
  (:class:`astrolab.models.spec2ir.Spec2IR`) trained with :func:`astrolab.train.fit`;
- :class:`SeparableSEDBaseline` -- the misspecified baseline (continuum colours + z);
- :func:`wise_chi2` -- chi^2_N per band of a prediction against observed fluxes with known sigma;
- :func:`wise_colours` -- W1-W2, W2-W3, W3-W4 in Vega-like magnitudes from fluxes.

Example
-------
>>> from astrolab.sim.spectra import simulate_optical_ir
>>> from astrolab.optical_ir import OpticalToIR, wise_chi2
>>> train, test = simulate_optical_ir(3000, seed=0), simulate_optical_ir(1000, seed=1)
>>> model = OpticalToIR(epochs=30).fit(train.spectra, train.wise_flux, train.wise_sigma)
>>> mean, sigma = model.predict(test.spectra)            # mJy, (N, 4) each
>>> wise_chi2(mean, test.wise_flux, test.wise_sigma)      # ~1 per band
"""

from __future__ import annotations

import numpy as np

from astrolab.errors import DataValidationError, invalid

__all__ = ["OpticalToIR", "SeparableSEDBaseline", "SimulatorOracle", "wise_chi2", "wise_colours"]


def wise_chi2(pred, obs, sigma) -> np.ndarray:
    """chi^2_N per WISE band, ``mean(((pred - obs) / sigma)^2)`` over objects.

    Parameters
    ----------
    pred, obs, sigma : array_like, shape (N, 4)
        Predicted and observed fluxes and the observational 1-sigma [same unit].

    Returns
    -------
    numpy.ndarray, shape (4,)
    """
    from astrolab.metrics import chi2_n

    return np.asarray(chi2_n(pred, obs, sigma, axis=0))


def wise_colours(flux) -> np.ndarray:
    """WISE colours W1-W2, W2-W3, W3-W4 [mag] from fluxes (AB-like: -2.5 log10 of flux ratios).

    Parameters
    ----------
    flux : array_like, shape (N, 4)
        Positive W1-W4 fluxes (any one unit).

    Returns
    -------
    numpy.ndarray, shape (N, 3)
        Colours [mag]; NaN where a flux is <= 0.
    """
    f = np.asarray(flux, dtype=float)
    if f.ndim != 2 or f.shape[1] != 4:
        raise invalid("wise_colours flux", f"has shape {f.shape}", "pass an (N, 4) array of W1-W4 fluxes")
    with np.errstate(invalid="ignore", divide="ignore"):
        m = -2.5 * np.log10(np.where(f > 0, f, np.nan))
    return m[:, :-1] - m[:, 1:]


class _Base:
    """Shared fit/predict plumbing of the two estimators."""

    _name = "estimator"

    def __init__(self, epochs=None, batch_size=128, lr=2e-3, weight_decay=1e-5, device="auto", seed=0,
                 progress=False):
        self.epochs = epochs
        self.batch_size = int(batch_size)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.device = device
        self.seed = int(seed)
        self.progress = bool(progress)
        self.module_ = None
        self.history_ = None
        self.fit_result_ = None

    def _require_fitted(self):
        if self.module_ is None:
            raise DataValidationError(f"{type(self).__name__}: the model is not fitted. Fix: call .fit(...) first.")

    def _train(self, module, train, val, epochs_default, run_dir, history, stop_event):
        from torch.utils.data import TensorDataset

        from astrolab import config
        from astrolab.train import fit

        epochs = self.epochs if self.epochs is not None else config.fast_or_full(*epochs_default)
        res = fit(module, TensorDataset(*train), None if val is None else TensorDataset(*val),
                  max_epochs=int(epochs), batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                  scheduler="cosine", run_dir=run_dir, resume=False, device=self.device, progress=self.progress,
                  seed=self.seed, history=history, stop_event=stop_event,
                  config={"estimator": type(self).__name__, "epochs": int(epochs)})
        self.fit_result_ = res
        self.module_ = res.model.to("cpu").eval()
        self.history_ = res.history
        return self


class OpticalToIR(_Base):
    """Spectrum autoencoder + heteroscedastic MLP predicting WISE W1-W4 with uncertainties.

    Parameters
    ----------
    n_latent : int
        Autoencoder latents S.
    channels : tuple of int
        Encoder convolution widths.
    recon_weight : float
        Weight of the reconstruction chi^2 in the joint loss.
    epochs : int, optional
        Training epochs (default 40 FAST / 150 full).
    batch_size, lr, weight_decay : int, float, float
        Optimiser settings (AdamW + cosine schedule through :func:`astrolab.train.fit`).
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``.
    seed : int
        Seed of initialisation and batching.
    progress : bool
        Engine progress bar.
    """

    _name = "OpticalToIR"

    def __init__(self, n_latent: int = 8, channels=(16, 32, 32), recon_weight: float = 0.05, epochs=None,
                 batch_size: int = 64, lr: float = 3e-3, weight_decay: float = 1e-5, device: str = "auto",
                 seed: int = 0, progress: bool = False):
        super().__init__(epochs, batch_size, lr, weight_decay, device, seed, progress)
        self.n_latent = int(n_latent)
        self.channels = tuple(int(c) for c in channels)
        self.recon_weight = float(recon_weight)
        self.grid_ = None

    def fit(self, spectra, wise_flux, wise_sigma, *, val=None, run_dir=None, history=None,
            stop_event=None) -> "OpticalToIR":
        """Train on spectra and their WISE photometry.

        Parameters
        ----------
        spectra : SpectrumSet
            N spectra on a shared observed grid (L,), with redshift and ivar.
        wise_flux, wise_sigma : array_like, shape (N, 4)
            Observed W1-W4 fluxes and 1-sigma errors (one unit, e.g. mJy).
        val : tuple (SpectrumSet, flux, sigma), optional
            Validation set (logged ``val_chi2_W*`` per epoch).
        run_dir, history, stop_event : optional
            Passed to :func:`astrolab.train.fit`.

        Returns
        -------
        self
        """
        from astrolab import config
        from astrolab.models.spec2ir import Spec2IR, spec2ir_tensors

        train, _ = spec2ir_tensors(spectra, wise_flux, wise_sigma)
        vt = None if val is None else spec2ir_tensors(*val)[0]
        self.grid_ = np.asarray(spectra.wavelength, dtype=float)
        ll = np.log10(self.grid_)
        step = float(np.median(np.diff(ll)))
        zmax = max(0.5, float(np.max(spectra.redshift)))
        rest = np.arange(ll[0] - np.log10(1 + zmax) - 2 * step, ll[-1] + 2 * step, step)
        config.seed_everything(self.seed)
        module = Spec2IR(rest, ll, self.n_latent, self.channels, self.recon_weight)
        module.head.set_target_scaling(train[2].numpy())
        return self._train(module, train, vt, (40, 150), run_dir, history, stop_event)

    def _tensors(self, spectra):
        from astrolab.models.spec2ir import spec2ir_tensors

        self._require_fitted()
        if spectra.wavelength.shape != self.grid_.shape or not np.allclose(spectra.wavelength, self.grid_):
            raise invalid("OpticalToIR spectra", "are not on the training wavelength grid",
                          "resample them: spectra.resample(model.grid_)")
        return spec2ir_tensors(spectra)

    def predict(self, spectra, batch: int = 512):
        """Predicted W1-W4 fluxes and model uncertainties.

        Parameters
        ----------
        spectra : SpectrumSet
            N spectra on the training grid.
        batch : int
            Objects per forward pass.

        Returns
        -------
        mean : numpy.ndarray, shape (N, 4)
            Predicted fluxes, unit of the training fluxes.
        sigma_model : numpy.ndarray, shape (N, 4)
            Model (epistemic + intrinsic) 1-sigma; add the observational sigma in
            quadrature for the predictive spread of an observed flux.
        """
        import torch

        (spec, scal), s = self._tensors(spectra)
        ms, ss = [], []
        with torch.no_grad():
            for i in range(0, len(s), batch):
                m, ls, _ = self.module_(spec[i:i + batch], scal[i:i + batch])
                ms.append(torch.exp(m).numpy())
                ss.append((torch.exp(m) * torch.exp(ls)).numpy())
        return np.concatenate(ms) * s[:, None], np.concatenate(ss) * s[:, None]

    def latents(self, spectra) -> np.ndarray:
        """Autoencoder latents, shape (N, S)."""
        import torch

        (spec, scal), _ = self._tensors(spectra)
        with torch.no_grad():
            return self.module_.encode(spec, scal).numpy()

    def reconstruct(self, spectra) -> np.ndarray:
        """Decoded spectra (N, L) in the flux unit of ``spectra``."""
        import torch

        (spec, scal), s = self._tensors(spectra)
        with torch.no_grad():
            return self.module_.reconstruct(spec, scal).numpy() * s[:, None]


class SeparableSEDBaseline(_Base):
    """Misspecified "separable SED" baseline: WISE from continuum colours and z only.

    Parameters
    ----------
    epochs : int, optional
        Training epochs (default 60 FAST / 150 full).
    batch_size, lr, weight_decay, device, seed, progress :
        As :class:`OpticalToIR`.
    """

    _name = "SeparableSEDBaseline"

    def __init__(self, epochs=None, batch_size: int = 128, lr: float = 3e-3, weight_decay: float = 1e-5,
                 device: str = "auto", seed: int = 0, progress: bool = False):
        super().__init__(epochs, batch_size, lr, weight_decay, device, seed, progress)

    def fit(self, spectra, wise_flux, wise_sigma, *, run_dir=None, history=None,
            stop_event=None) -> "SeparableSEDBaseline":
        """Train on continuum colours (see :func:`astrolab.models.spec2ir.baseline_tensors`).

        Parameters
        ----------
        spectra : SpectrumSet
            N spectra with redshifts.
        wise_flux, wise_sigma : array_like, shape (N, 4)
            W1-W4 fluxes and 1-sigma errors.

        Returns
        -------
        self
        """
        from astrolab import config
        from astrolab.models.spec2ir import SeparableSED, baseline_tensors

        train, _ = baseline_tensors(spectra, wise_flux, wise_sigma)
        config.seed_everything(self.seed)
        module = SeparableSED(train[0].shape[1])
        module.head.set_target_scaling(train[1].numpy())
        return self._train(module, train, None, (60, 150), run_dir, history, stop_event)

    def predict(self, spectra):
        """Predicted W1-W4 fluxes (N, 4) and model 1-sigma (N, 4), unit of the training fluxes."""
        import torch

        from astrolab.models.spec2ir import baseline_tensors

        self._require_fitted()
        (feat,), s = baseline_tensors(spectra)
        with torch.no_grad():
            m, ls = self.module_(feat)
        return torch.exp(m).numpy() * s[:, None], (torch.exp(m) * torch.exp(ls)).numpy() * s[:, None]


#: Parameters the oracle fits per spectrum: name -> (lower, upper) bound of its fitted variable.
_ORACLE_BOUNDS = {
    "log_norm": (-3.0, 4.0),        # log10 of the 5500 A continuum scale [1e-17 erg/s/cm2/A]
    "young_frac": (0.0, 1.0),
    "log_age": (0.0, np.log10(12.0)),  # log10 age [Gyr]
    "log_z": (-0.6, 0.3),
    "a_v": (0.0, 1.2),
    "log_sfr_rel": (-1.7, 0.4),
    "f_agn": (0.0, 1.0),
    "log_decoy": (-1.0, 0.5),
}


class SimulatorOracle:
    """The physical limit of the spectrum -> IR mapping: fit the simulator's own forward model.

    For each spectrum, the parameters of :func:`astrolab.sim.spectra.noise_free_spectra`
    (continuum scale, young fraction, age, metallicity, A_V, SFR, AGN strength, decoy
    strength; the redshift is known) are fitted by weighted least squares
    (``scipy.optimize.least_squares``, several starts), and the WISE fluxes follow from
    :func:`astrolab.sim.spectra.wise_fluxes` at the fitted parameters, with q_PAH from the
    simulator's metallicity relation. Knowing the true model, it shows how far the
    spectrum alone determines W1-W4: the reference the learned χ²_N is read against.

    Parameters
    ----------
    n_starts : int
        Starting points per spectrum (the best fit is kept).
    seed : int
        Seed of the starting points.
    """

    def __init__(self, n_starts: int = 4, seed: int = 0):
        if int(n_starts) < 1:
            raise invalid("SimulatorOracle n_starts", f"is {n_starts}", "pass n_starts >= 1")
        self.n_starts = int(n_starts)
        self.seed = int(seed)

    @staticmethod
    def _params(theta, z):
        t = dict(zip(_ORACLE_BOUNDS, np.asarray(theta, float)))
        return dict(z=np.atleast_1d(z), norm=np.atleast_1d(10 ** t["log_norm"]),
                    age_gyr=np.atleast_1d(10 ** t["log_age"]), young_frac=np.atleast_1d(t["young_frac"]),
                    log_z=np.atleast_1d(t["log_z"]), a_v=np.atleast_1d(t["a_v"]),
                    sfr_rel=np.atleast_1d(10 ** t["log_sfr_rel"]), f_agn=np.atleast_1d(t["f_agn"]),
                    decoy_amp=np.atleast_1d(10 ** t["log_decoy"]))

    def fit_spectrum(self, wavelength, flux, ivar, z: float, dloglam: float) -> dict:
        """Best-fitting parameters of one spectrum.

        Parameters
        ----------
        wavelength, flux, ivar : array_like, shape (L,)
            Observed wavelengths [A], flux and inverse variance (0 = masked).
        z : float
            Redshift.
        dloglam : float
            Pixel size in log10(lambda / A).

        Returns
        -------
        dict
            ``theta`` (fitted variables, keys of the bounds), ``chi2`` (best weighted
            residual sum of squares) and ``n_pix`` (unmasked pixels).
        """
        from scipy.optimize import least_squares

        from astrolab.sim.spectra import noise_free_spectra

        lam = np.asarray(wavelength, float)
        f = np.asarray(flux, float)
        w = np.sqrt(np.clip(np.asarray(ivar, float), 0, None))
        good = w > 0
        if good.sum() < 20:
            raise invalid("SimulatorOracle spectrum", f"has only {int(good.sum())} unmasked pixels",
                          "pass spectra with ivar > 0 on most pixels")
        lam, f, w = lam[good], f[good], w[good]

        def resid(theta):
            model, _ = noise_free_spectra(lam, self._params(theta, z), dloglam=dloglam)
            return (model[0] - f) * w

        lo = np.array([b[0] for b in _ORACLE_BOUNDS.values()])
        hi = np.array([b[1] for b in _ORACLE_BOUNDS.values()])
        rng = np.random.default_rng(self.seed)
        # the continuum scale from the data: the model is ~1 at 5500 A rest before dust and (1+z)
        scale0 = np.log10(max(np.median(f) * (1.0 + z), 1e-3))
        best = None
        for k in range(self.n_starts):
            x0 = lo + (hi - lo) * (0.5 if k == 0 else rng.uniform(0.15, 0.85, lo.size))
            x0[0] = np.clip(scale0 + (0.0 if k == 0 else rng.normal(0, 0.1)), lo[0] + 1e-6, hi[0] - 1e-6)
            r = least_squares(resid, x0, bounds=(lo, hi), x_scale="jac", max_nfev=400)
            if best is None or r.cost < best.cost:
                best = r
        return {"theta": dict(zip(_ORACLE_BOUNDS, best.x.tolist())), "chi2": float(2 * best.cost),
                "n_pix": int(good.sum())}

    def predict(self, spectra, dloglam: float | None = None) -> tuple[np.ndarray, list]:
        """WISE W1-W4 fluxes [mJy] from the best-fitting simulator parameters of each spectrum.

        Parameters
        ----------
        spectra : SpectrumSet
            N spectra on the simulator's log-lambda grid, with ``redshift`` and ``ivar``.
        dloglam : float, optional
            Pixel size in log10(lambda / A) (default: read from the grid).

        Returns
        -------
        wise : numpy.ndarray, shape (N, 4)
            Predicted noise-free W1-W4 [mJy].
        fits : list of dict
            :meth:`fit_spectrum` output per spectrum.
        """
        from astrolab.sim.spectra import q_pah_of_metallicity, wise_fluxes

        if spectra.redshift is None or spectra.ivar is None:
            raise invalid("SimulatorOracle spectra", "have no redshift or ivar",
                          "build the SpectrumSet with redshift=... and ivar=...")
        if not spectra.shared_grid:
            raise invalid("SimulatorOracle spectra", "are on per-object grids", "use the simulator's shared grid")
        lam = np.asarray(spectra.wavelength, float)
        if dloglam is None:
            dloglam = float(np.median(np.diff(np.log10(lam))))
        fits, out = [], np.empty((len(spectra), 4))
        for i in range(len(spectra)):
            fit = self.fit_spectrum(lam, spectra.flux[i], spectra.ivar[i], float(spectra.redshift[i]), dloglam)
            p = self._params(list(fit["theta"].values()), float(spectra.redshift[i]))
            p["q_pah"] = np.clip(q_pah_of_metallicity(p["log_z"]), 0.3, 5.0)
            out[i] = wise_fluxes(p)["total"][0]
            fits.append(fit)
        return out, fits
