"""CIGaRS-style neural simulation-based inference of SN Ia cosmology, DTD and host connection.

:class:`CigarsInference` wraps the ``sbi`` package's neural posterior estimation (NPE, a
neural spline flow) around a permutation-invariant set embedding
(:class:`astrolab.models.set_embedding.SetEmbedding`) of the detected SN+host objects simulated by
:class:`astrolab.sim.supernovae.CigarsSimulator`. It infers the ten global parameters
:data:`astrolab.sim.supernovae.PARAM_NAMES` (Ω_m, A, s, γ_Z, γ_age, Δ_step, α, β, M0, σ_res) and
checks calibration with SBC ranks, marginal coverage and TARP
(:mod:`astrolab.metrics.sbi`).

Example
-------
>>> from astrolab.sbi_cigars import CigarsInference
>>> inf = CigarsInference(n_hosts=15000).fit(n_sims=2000, max_epochs=40)   # doctest: +SKIP
>>> obs = inf.simulator.simulate(seed=123)                                  # truths of papers.md §3
>>> samples = inf.sample(inf.simulator.features(obs), 2000)                 # (2000, 10)
>>> cal = inf.calibrate(n_test=200)                                         # coverage at 68/95 %
"""

from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import dataclass

import numpy as np

from astrolab import config
from astrolab.errors import invalid
from astrolab.metrics import sbi as sbi_metrics
from astrolab.sim import supernovae as sn

__all__ = ["CigarsInference", "CalibrationResult", "cigars_prior", "posterior_table", "mass_step",
           "standardised_distance_modulus"]


def cigars_prior(device: str = "cpu"):
    """The prior of :data:`astrolab.sim.supernovae.PRIORS` as a torch distribution for ``sbi``.

    Parameters
    ----------
    device : str
        Torch device of the distribution.

    Returns
    -------
    sbi.utils.user_input_checks_utils.MultipleIndependent
        Event shape (10,), order :data:`astrolab.sim.supernovae.PARAM_NAMES`.
    """
    import torch
    from sbi.utils.user_input_checks_utils import MultipleIndependent
    from torch.distributions import Normal, Uniform

    dists = []
    for name in sn.PARAM_NAMES:
        kind, a, b = sn.PRIORS[name]
        ta = torch.tensor([float(a)], device=device)
        tb = torch.tensor([float(b)], device=device)
        dists.append(Normal(ta, tb) if kind == "normal" else Uniform(ta, tb))
    return MultipleIndependent(dists, validate_args=False, device=device)


def standardised_distance_modulus(table, alpha: float = sn.TRUTHS["alpha"], beta: float = sn.TRUTHS["beta"],
                                  m0: float = sn.TRUTHS["M0"]) -> np.ndarray:
    """Tripp-standardised distance moduli μ_obs = m_obs − (M0 + α x_obs + β c_obs) [mag].

    Parameters
    ----------
    table : astropy.table.Table
        SNe from :meth:`astrolab.sim.supernovae.CigarsSimulator.simulate`.
    alpha, beta, m0 : float
        Standardisation coefficients (default: the truths).

    Returns
    -------
    numpy.ndarray, shape (N,)
    """
    return (np.asarray(table["m_obs"], float) - m0 - alpha * np.asarray(table["x_obs"], float)
            - beta * np.asarray(table["c_obs"], float))


def mass_step(log_mstar, values, loc: float = 10.0) -> tuple[float, float]:
    """Apparent mass step: mean(values | log M* > loc) − mean(values | log M* ≤ loc).

    Parameters
    ----------
    log_mstar : array_like, shape (N,)
        Host log10 stellar mass [Msun].
    values : array_like, shape (N,)
        Magnitude offsets (δM or Hubble residuals) [mag].
    loc : float
        Split mass.

    Returns
    -------
    step : float
        Difference of the means [mag] (negative: SNe in massive hosts are brighter).
    error : float
        Its standard error [mag].
    """
    lm = np.asarray(log_mstar, float)
    v = np.asarray(values, float)
    hi, lo = v[lm > loc], v[lm <= loc]
    if hi.size < 2 or lo.size < 2:
        raise invalid("mass_step", f"has {hi.size} objects above and {lo.size} below log M* = {loc}",
                      "pass objects on both sides of the split")
    return float(hi.mean() - lo.mean()), float(np.sqrt(hi.var(ddof=1) / hi.size + lo.var(ddof=1) / lo.size))


def posterior_table(samples, truths=None, names=sn.PARAM_NAMES):
    """Posterior summary per parameter.

    Parameters
    ----------
    samples : array_like, shape (S, D)
        Posterior draws.
    truths : dict or array_like (D,), optional
        True values (adds ``truth``, ``in68`` and ``in95`` columns).
    names : sequence of str
        Parameter names.

    Returns
    -------
    astropy.table.Table
        Columns ``parameter``, ``mean``, ``std``, ``median``, ``lo68``, ``hi68``, ``lo95``, ``hi95``
        (central intervals) and optionally ``truth``, ``in68``, ``in95``, ``pull`` = (mean − truth)/std.
    """
    from astropy.table import Table

    s = np.asarray(samples, float)
    q = np.quantile(s, [0.025, 0.16, 0.5, 0.84, 0.975], axis=0)
    t = Table({"parameter": list(names), "mean": s.mean(0), "std": s.std(0), "median": q[2], "lo68": q[1],
               "hi68": q[3], "lo95": q[0], "hi95": q[4]})
    if truths is not None:
        tr = np.array([truths[n] for n in names] if isinstance(truths, dict) else truths, float)
        t["truth"] = tr
        t["in68"] = (tr >= q[1]) & (tr <= q[3])
        t["in95"] = (tr >= q[0]) & (tr <= q[4])
        t["pull"] = (t["mean"] - tr) / np.maximum(t["std"], 1e-12)
    return t


@dataclass
class CalibrationResult:
    """Posterior calibration over independent test simulations.

    Attributes
    ----------
    theta : numpy.ndarray, shape (B, D)
        True parameters of the test simulations (prior draws).
    samples : numpy.ndarray, shape (S, B, D)
        Posterior draws for each test simulation.
    ranks : numpy.ndarray, shape (B, D)
        SBC ranks (0..S).
    levels : numpy.ndarray, shape (L,)
        Credibility levels of ``coverage`` and ``tarp``.
    coverage : numpy.ndarray, shape (L, D)
        Marginal central-interval coverage per level and parameter.
    tarp : numpy.ndarray, shape (L,)
        TARP expected coverage per level.
    summary : dict
        :func:`astrolab.metrics.sbi.coverage_summary` at 68 % and 95 %.
    ks_pvalues : numpy.ndarray, shape (D,)
        KS p-values of the SBC ranks.
    seconds : float
        Wall time of the calibration.
    """

    theta: np.ndarray
    samples: np.ndarray
    ranks: np.ndarray
    levels: np.ndarray
    coverage: np.ndarray
    tarp: np.ndarray
    summary: dict
    ks_pvalues: np.ndarray
    seconds: float


class CigarsInference:
    """Amortised neural posterior for the CIGaRS global parameters (``sbi`` NPE + set embedding).

    Parameters
    ----------
    simulator : CigarsSimulator, optional
        The forward model; default ``CigarsSimulator(n_hosts=n_hosts, seed=seed)``.
    n_hosts : int
        Host-bank size when ``simulator`` is None.
    embed_dim : int
        Size of the set embedding fed to the flow.
    hidden : int
        Width of the embedding MLPs.
    pooling : {"mean", "attention"}
        Set pooling (see :class:`astrolab.models.set_embedding.SetEmbedding`).
    flow : str
        ``sbi`` density estimator (``"nsf"``, ``"maf"``, ``"mdn"``).
    num_transforms, flow_hidden : int
        Flow depth and width.
    device : str
        ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
    seed : int
        Seed of the host bank, the training simulations and the networks.
    cpu_threads : int or None
        Torch CPU threads while training/sampling on CPU (restored afterwards). The networks are
        small, so 1 thread (default) is fastest on a shared machine; None keeps torch's setting.

    Attributes
    ----------
    simulator : CigarsSimulator
    posterior_ : sbi DirectPosterior
        After :meth:`fit`.
    history_ : pandas.DataFrame
        One row per epoch: ``epoch``, ``train_loss``, ``val_loss`` (negative log posterior density).
    n_max_ : int
        Padded set size of the training data.
    train_seconds_, simulate_seconds_ : float
        Wall times of the last training and of simulating its data.
    """

    def __init__(self, simulator=None, *, n_hosts: int = 20000, embed_dim: int = 32, hidden: int = 64,
                 pooling: str = "mean", flow: str = "nsf", num_transforms: int = 4, flow_hidden: int = 64,
                 device: str = "auto", seed: int = 0, cpu_threads: int | None = 1):
        self.simulator = simulator if simulator is not None else sn.CigarsSimulator(n_hosts=n_hosts, seed=seed)
        self.embed_dim, self.hidden, self.pooling = int(embed_dim), int(hidden), pooling
        self.flow, self.num_transforms, self.flow_hidden = flow, int(num_transforms), int(flow_hidden)
        self.device, self.seed, self.cpu_threads = device, int(seed), cpu_threads
        self.posterior_ = None
        self.history_ = None
        self.n_max_ = None

    def __repr__(self) -> str:
        state = "fitted" if self.posterior_ is not None else "not fitted"
        return (f"CigarsInference({self.simulator!r}, pooling={self.pooling!r}, flow={self.flow!r}, "
                f"embed_dim={self.embed_dim}, {state})")

    @property
    def param_names(self) -> tuple:
        """Names of the inferred parameters (:data:`astrolab.sim.supernovae.PARAM_NAMES`)."""
        return sn.PARAM_NAMES

    def _device(self) -> str:
        return str(config.device(None if self.device == "auto" else self.device))

    @contextlib.contextmanager
    def _threads(self):
        import torch

        old = torch.get_num_threads()
        if self.cpu_threads and self._device() == "cpu":
            torch.set_num_threads(int(self.cpu_threads))
        try:
            yield
        finally:
            torch.set_num_threads(old)

    # -- data -----------------------------------------------------------------------------------
    def simulate(self, n_sims: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Draw parameters from the prior and simulate a survey for each.

        Parameters
        ----------
        n_sims : int
            Number of simulated surveys.
        seed : int
            Random seed.

        Returns
        -------
        theta : numpy.ndarray, shape (n_sims, 10)
        x : numpy.ndarray, shape (n_sims, N, F + 1), float32 (F = len(FEATURE_NAMES))
            Padded object sets (see :meth:`CigarsSimulator.simulate_sets`), padded to ``n_max_``
            once the model is fitted.
        """
        if n_sims < 1:
            raise invalid("CigarsInference.simulate(n_sims)", f"is {n_sims}", "ask for at least one simulation")
        theta = sn.prior_sample(n_sims, np.random.default_rng([seed, 1]))
        x = self.simulator.simulate_sets(theta, seed=seed, n_max=self.n_max_)
        return theta, x

    def pad(self, x) -> np.ndarray:
        """Pad (or randomly subsample) object sets to the training set size ``n_max_``.

        Parameters
        ----------
        x : array_like, shape (N, F), (N, F + 1) or (B, N, F + 1)
            One set of features (with or without the mask channel) or a batch of padded sets.

        Returns
        -------
        numpy.ndarray, shape (B, n_max_, F + 1), float32
        """
        self._check_fitted()
        x = np.asarray(x, dtype=np.float32)
        nf = len(sn.FEATURE_NAMES)
        if x.ndim == 2:
            if x.shape[1] == nf:
                x = np.concatenate([x, np.ones((len(x), 1), np.float32)], axis=1)
            x = x[None]
        if x.ndim != 3 or x.shape[2] != nf + 1:
            raise invalid("x", f"has shape {x.shape}", f"pass (N, {nf}) features or (B, N, {nf + 1}) padded sets")
        out = np.zeros((len(x), self.n_max_, nf + 1), np.float32)
        rng = np.random.default_rng(0)
        for i, xi in enumerate(x):
            real = xi[xi[:, -1] > 0.5]
            if len(real) > self.n_max_:
                warnings.warn(f"set {i} has {len(real)} objects, more than the {self.n_max_} seen in training; "
                              "subsampling (the posterior is then approximate)", stacklevel=2)
                real = real[np.sort(rng.choice(len(real), self.n_max_, replace=False))]
            out[i, :len(real)] = real
        return out

    # -- training -------------------------------------------------------------------------------
    def fit(self, theta=None, x=None, *, n_sims: int = 2000, max_epochs: int = 100, batch_size: int = 128,
            learning_rate: float = 1e-3, stop_after_epochs: int = 10, validation_fraction: float = 0.1,
            sim_seed: int | None = None) -> "CigarsInference":
        """Train the neural posterior (``sbi`` NPE) on prior simulations.

        Parameters
        ----------
        theta, x : array_like, optional
            Training pairs (B, 10) and (B, N, F + 1); simulated with :meth:`simulate` when omitted.
        n_sims : int
            Simulations to run when ``theta``/``x`` are omitted.
        max_epochs, batch_size, learning_rate, stop_after_epochs, validation_fraction
            ``sbi`` training settings (early stopping on the validation loss).
        sim_seed : int, optional
            Seed of the training simulations (default ``seed``).

        Returns
        -------
        CigarsInference
            ``self``, with ``posterior_`` and ``history_``.
        """
        import pandas as pd
        import torch
        from sbi.inference import NPE
        from sbi.neural_nets import posterior_nn

        from astrolab.models.set_embedding import SetEmbedding

        t0 = time.perf_counter()
        if theta is None or x is None:
            theta, x = self.simulate(n_sims, seed=self.seed if sim_seed is None else sim_seed)
        self.simulate_seconds_ = time.perf_counter() - t0
        theta = np.asarray(theta, np.float32)
        x = np.asarray(x, np.float32)
        if theta.ndim != 2 or theta.shape[1] != len(sn.PARAM_NAMES) or x.ndim != 3 or len(x) != len(theta):
            raise invalid("fit(theta, x)", f"have shapes {theta.shape} and {x.shape}",
                          "pass theta (B, 10) and padded sets x (B, N, F + 1) from CigarsInference.simulate")
        config.seed_everything(self.seed)
        dev = self._device()
        self.n_max_ = int(x.shape[1])
        emb = SetEmbedding(len(sn.FEATURE_NAMES), output_dim=self.embed_dim, hidden=self.hidden,
                           pooling=self.pooling).set_standardisation(torch.from_numpy(x))
        builder = posterior_nn(model=self.flow, embedding_net=emb, z_score_x="none",
                               hidden_features=self.flow_hidden, num_transforms=self.num_transforms)
        # sbi's default TensorBoard writer creates ./sbi-logs in the working folder (the notebooks' folder);
        # keep its logs in the astrolab cache instead
        from torch.utils.tensorboard import SummaryWriter

        log_dir = config.cache_dir() / "sbi-logs" / time.strftime("%Y%m%d-%H%M%S")
        npe = NPE(prior=cigars_prior(dev), density_estimator=builder, device=dev, show_progress_bars=False,
                  summary_writer=SummaryWriter(log_dir=str(log_dir)))
        npe.append_simulations(torch.from_numpy(theta), torch.from_numpy(x), data_device="cpu")
        t0 = time.perf_counter()
        with warnings.catch_warnings(), self._threads():
            warnings.simplefilter("ignore", UserWarning)
            estimator = npe.train(training_batch_size=batch_size, learning_rate=learning_rate,
                                  max_num_epochs=max_epochs, stop_after_epochs=stop_after_epochs,
                                  validation_fraction=validation_fraction)
        self.train_seconds_ = time.perf_counter() - t0
        self.posterior_ = npe.build_posterior(estimator)
        summ = npe.summary
        n = len(summ["training_loss"])
        self.history_ = pd.DataFrame({"epoch": np.arange(1, n + 1), "train_loss": summ["training_loss"],
                                      "val_loss": summ["validation_loss"][:n]})
        self._npe = npe
        return self

    def _check_fitted(self):
        if self.posterior_ is None:
            raise invalid("CigarsInference", "is not fitted", "call .fit() first")

    # -- posteriors -----------------------------------------------------------------------------
    def sample(self, x_obs, n_samples: int = 2000, seed: int = 0) -> np.ndarray:
        """Posterior draws for one observed survey.

        Parameters
        ----------
        x_obs : array_like, shape (N, F), (N, F + 1) or (1, N, F + 1)
            Features of the detected SNe (e.g. :meth:`CigarsSimulator.features`).
        n_samples : int
            Number of draws.
        seed : int
            Torch seed of the sampler.

        Returns
        -------
        numpy.ndarray, shape (n_samples, 10)
        """
        return self.sample_batched(x_obs, n_samples, seed=seed)[:, 0]

    def sample_batched(self, x, n_samples: int = 500, seed: int = 0, batch: int = 64) -> np.ndarray:
        """Posterior draws for many surveys at once.

        Parameters
        ----------
        x : array_like, shape (B, N, F + 1)
            Padded sets (or one set, see :meth:`pad`).
        n_samples : int
            Draws per survey.
        seed : int
            Torch seed.
        batch : int
            Surveys per sampling call.

        Returns
        -------
        numpy.ndarray, shape (n_samples, B, 10)
        """
        import torch

        xp = self.pad(x)
        torch.manual_seed(seed)
        dev = self._device()
        out = []
        for s in range(0, len(xp), batch):
            xb = torch.from_numpy(xp[s:s + batch]).to(dev)
            with torch.no_grad(), self._threads():
                smp = self.posterior_.sample_batched((n_samples,), x=xb, show_progress_bars=False)
            out.append(smp.reshape(n_samples, len(xb), -1).cpu().numpy())
        return np.concatenate(out, axis=1)

    def calibrate(self, n_test: int = 200, n_samples: int = 500, seed: int = 10_000,
                  levels=None) -> CalibrationResult:
        """Calibration on fresh prior simulations: SBC ranks, marginal coverage and TARP.

        Parameters
        ----------
        n_test : int
            Test simulations (≥ 200 for a ±0.03 check of the 68 % coverage).
        n_samples : int
            Posterior draws per test simulation.
        seed : int
            Seed of the test simulations (must differ from the training seed).
        levels : array_like, optional
            Credibility levels of the coverage curves (default 0.05–0.95 plus 0.68).

        Returns
        -------
        CalibrationResult
        """
        self._check_fitted()
        t0 = time.perf_counter()
        theta, x = self.simulate(n_test, seed=seed)
        samples = self.sample_batched(x, n_samples, seed=seed)
        lv = np.unique(np.r_[np.linspace(0.05, 0.95, 19), 0.68]) if levels is None else np.asarray(levels, float)
        ranks = sbi_metrics.sbc_ranks(samples, theta)
        return CalibrationResult(
            theta=theta, samples=samples, ranks=ranks, levels=lv,
            coverage=sbi_metrics.marginal_coverage(samples, theta, lv),
            tarp=sbi_metrics.tarp_coverage(samples, theta, lv, bounds=_prior_box())[1],
            summary=sbi_metrics.coverage_summary(samples, theta, (0.68, 0.95), names=sn.PARAM_NAMES),
            ks_pvalues=sbi_metrics.sbc_ks_pvalues(ranks, n_samples),
            seconds=time.perf_counter() - t0)


def _prior_box() -> np.ndarray:
    """(10, 2) box of the prior (uniform bounds, or mean ± 4 sd for normals) used to scale TARP."""
    box = []
    for name in sn.PARAM_NAMES:
        kind, a, b = sn.PRIORS[name]
        box.append((a - 4 * b, a + 4 * b) if kind == "normal" else (a, b))
    return np.array(box)
