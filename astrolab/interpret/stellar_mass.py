"""Causal and information-theoretic interpretation of stellar-mass estimators (papers.md §1).

Three tools of Zhang, Lin, Ting et al. (2025), reimplemented:

- **Pointwise information decomposition** (MMI-PID) from the cross-entropies of three models trained on
  the input sets X1, X2 and X1 ∪ X2 over the same bins of the target: per object
  I_k = h(y) − CE_k with h(y) = −log p_prior(bin of y), redundancy R = min(I1, I2), unique
  U_k = I_k − R, synergy S = I12 − I1 − I2 + R (:func:`pointwise_pid`, :func:`pid_summary`). Nats;
  negative values ("misinformation") are allowed. :func:`bin_surprisal` and :func:`bin_cross_entropy`
  turn prior histograms and predicted bin probabilities into h(y) and CE_k; :func:`plugin_cross_entropy`
  is the exact (count-based) model for discrete toys; :func:`gaussian_mmi_pid` is the analytic MMI-PID of
  a trivariate Gaussian.
- **Local (conditional) independence tests** in latent k-nearest-neighbour neighbourhoods
  (:func:`knn_neighbourhoods`, :func:`local_correlations`): Pearson correlation of Y and a query X_q
  within each neighbourhood, optionally after quadratic residualisation of both on a conditioner X_c,
  against a permutation null; :func:`predictive_efficiency`.
- **Global causal discovery** with causal-learn's PC algorithm (:func:`pc_skeleton`) scored against a
  planted DAG (:func:`skeleton_scores`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from astrolab.errors import invalid

__all__ = ["PID", "pointwise_pid", "pid_summary", "bin_surprisal", "bin_cross_entropy", "plugin_cross_entropy",
           "gaussian_mmi_pid", "knn_neighbourhoods", "quadratic_residuals", "LocalCorrelations",
           "local_correlations", "predictive_efficiency", "pc_skeleton", "skeleton_scores"]

_TERMS = ("redundant", "unique_1", "unique_2", "synergy")


def _vec(x, name, n=None):
    a = np.asarray(x, float).ravel()
    if n is not None and len(a) != n:
        raise invalid(name, f"has {len(a)} values, expected {n}", "pass one value per object (same N everywhere)")
    if not np.all(np.isfinite(a)):
        raise invalid(name, "holds non-finite values", "drop or clip the objects with NaN/inf (e.g. zero probabilities)")
    return a


# -- information decomposition ---------------------------------------------------------------------------------

class PID(NamedTuple):
    """Pointwise MMI information decomposition, each field an ndarray (N,) in nats.

    ``i_1``, ``i_2``, ``i_12``: information of X1, X2, X1 ∪ X2 about Y; ``redundant`` = min(i_1, i_2);
    ``unique_1`` = i_1 − R; ``unique_2`` = i_2 − R; ``synergy`` = i_12 − i_1 − i_2 + R.
    """

    i_1: np.ndarray
    i_2: np.ndarray
    i_12: np.ndarray
    redundant: np.ndarray
    unique_1: np.ndarray
    unique_2: np.ndarray
    synergy: np.ndarray


def pointwise_pid(h_y, ce_1, ce_2, ce_12) -> PID:
    """Pointwise MMI-PID of two sources from per-object cross-entropies (paper 1, §MI decomposition).

    Parameters
    ----------
    h_y : array_like (N,)
        Prior surprisal −log p_prior(y_i) [nats] (:func:`bin_surprisal`).
    ce_1, ce_2, ce_12 : array_like (N,)
        Cross-entropies −log q_k(y_i | x_i) [nats] of the models trained on X1, X2 and X1 ∪ X2
        (:func:`bin_cross_entropy`), on the same target bins as ``h_y``.

    Returns
    -------
    PID
        Per-object terms [nats]; I1 + I2 − R + S = I12 and R + U1 = I1 hold exactly.

    Raises
    ------
    astrolab.errors.DataValidationError
        On arrays of different lengths or non-finite values.
    """
    h = _vec(h_y, "pointwise_pid(h_y)")
    n = len(h)
    c1, c2, c12 = (_vec(c, f"pointwise_pid({nm})", n) for c, nm in ((ce_1, "ce_1"), (ce_2, "ce_2"), (ce_12, "ce_12")))
    i1, i2, i12 = h - c1, h - c2, h - c12
    r = np.minimum(i1, i2)
    return PID(i1, i2, i12, r, i1 - r, i2 - r, i12 - i1 - i2 + r)


def pid_summary(pid: PID, groups=None, redundancy: str = "pointwise") -> dict:
    """Mean PID terms [nats], overall and per group.

    Parameters
    ----------
    pid : PID
        From :func:`pointwise_pid`.
    groups : array_like (N,), optional
        Labels (e.g. galaxy class); adds one entry per label.
    redundancy : {"pointwise", "mmi"}
        ``"pointwise"``: means of the per-object terms (the paper's per-galaxy decomposition);
        ``"mmi"``: the classical MMI-PID of the mean informations, R = min(⟨I1⟩, ⟨I2⟩) (converges to
        the exact PID of a discrete or Gaussian distribution; :func:`gaussian_mmi_pid`).

    Returns
    -------
    dict
        ``{"all": {"i_1", "i_2", "i_12", "redundant", "unique_1", "unique_2", "synergy", "n"}, label: {...}}``.
    """
    if redundancy not in ("pointwise", "mmi"):
        raise invalid("pid_summary(redundancy=...)", f"is {redundancy!r}", "pass 'pointwise' or 'mmi'")
    n = len(pid.i_1)

    def one(mask):
        i1, i2, i12 = (float(np.mean(a[mask])) for a in (pid.i_1, pid.i_2, pid.i_12))
        if redundancy == "mmi":
            r = min(i1, i2)
            out = {"redundant": r, "unique_1": i1 - r, "unique_2": i2 - r, "synergy": i12 - i1 - i2 + r}
        else:
            out = {k: float(np.mean(getattr(pid, k)[mask])) for k in _TERMS}
        return {"i_1": i1, "i_2": i2, "i_12": i12, **out, "n": int(mask.sum())}

    res = {"all": one(np.ones(n, bool))}
    if groups is not None:
        g = np.asarray(groups)
        if len(g) != n:
            raise invalid("pid_summary(groups=...)", f"has {len(g)} labels for {n} objects", "pass one label per object")
        for lab in np.unique(g):
            res[str(lab)] = one(g == lab)
    return res


def _bin_index(y, edges):
    e = np.asarray(edges, float)
    if e.ndim != 1 or len(e) < 3 or not np.all(np.diff(e) > 0):
        raise invalid("bin edges", f"are {e[:5]}...", "pass increasing edges (G + 1,), G >= 2 bins")
    return np.clip(np.searchsorted(e, np.asarray(y, float), side="right") - 1, 0, len(e) - 2)


def bin_surprisal(y, edges, y_reference, pseudo_count: float = 0.5) -> np.ndarray:
    """Prior surprisal h(y) = −log p_prior(bin of y) [nats], from a histogram of reference targets.

    Parameters
    ----------
    y : array_like (N,)
        Targets (e.g. log M* [dex]).
    edges : array_like (G + 1,)
        Bin edges (the models' output bins).
    y_reference : array_like (M,)
        Targets defining the prior (e.g. the training set).
    pseudo_count : float
        Added to every bin count (no empty bin).

    Returns
    -------
    ndarray (N,)
    """
    counts = np.bincount(_bin_index(_vec(y_reference, "bin_surprisal(y_reference)"), edges),
                         minlength=len(edges) - 1).astype(float) + float(pseudo_count)
    p = counts / counts.sum()
    return -np.log(p[_bin_index(_vec(y, "bin_surprisal(y)"), edges)])


def bin_cross_entropy(probs, y, edges, floor: float = 1e-12) -> np.ndarray:
    """Per-object cross-entropy −log q(bin of y | x) [nats] of a binned classifier.

    Parameters
    ----------
    probs : array_like (N, G)
        Predicted bin probabilities (rows sum to 1).
    y : array_like (N,)
        True targets.
    edges : array_like (G + 1,)
        Bin edges.
    floor : float
        Probabilities are floored at this value (finite cross-entropies).

    Returns
    -------
    ndarray (N,)
    """
    p = np.asarray(probs, float)
    yy = _vec(y, "bin_cross_entropy(y)")
    if p.ndim != 2 or p.shape != (len(yy), len(edges) - 1):
        raise invalid("bin_cross_entropy(probs)", f"has shape {p.shape}",
                      f"pass ({len(yy)}, {len(edges) - 1}) probabilities, one row per object and one column per bin")
    return -np.log(np.maximum(p[np.arange(len(yy)), _bin_index(yy, edges)], floor))


def _codes(x):
    x = np.asarray(x)
    x = x.reshape(len(x), -1)
    _, inv = np.unique(x, axis=0, return_inverse=True)
    return inv.ravel()


def plugin_cross_entropy(x, y, x_train=None, y_train=None, pseudo_count: float = 0.0) -> np.ndarray:
    """Cross-entropy −log q(y | x) [nats] of the count-based (plug-in) model of discrete data.

    The exact model for discrete toys (XOR, COPY): q(y | x) = n(x, y) / n(x) counted on the training
    set; with x = a constant it returns the prior surprisal h(y).

    Parameters
    ----------
    x : array_like (N,) or (N, D)
        Discrete inputs (rows are symbols).
    y : array_like (N,)
        Discrete targets.
    x_train, y_train : array_like, optional
        Where to count (default: ``x``, ``y`` themselves).
    pseudo_count : float
        Added to each (x, y) count.

    Returns
    -------
    ndarray (N,)

    Raises
    ------
    astrolab.errors.DataValidationError
        An evaluated (x, y) pair never occurs in training and ``pseudo_count`` is 0.
    """
    xt = x if x_train is None else x_train
    yt = y if y_train is None else y_train
    x_all = np.concatenate([np.asarray(xt).reshape(len(xt), -1), np.asarray(x).reshape(len(x), -1)])
    y_all = np.concatenate([np.asarray(yt).ravel(), np.asarray(y).ravel()])
    cx, cy = _codes(x_all), _codes(y_all)
    nt = len(yt)
    table = np.zeros((cx.max() + 1, cy.max() + 1))
    np.add.at(table, (cx[:nt], cy[:nt]), 1.0)
    table += float(pseudo_count)
    num = table[cx[nt:], cy[nt:]]
    if np.any(num <= 0):
        raise invalid("plugin_cross_entropy(x, y)", "has (x, y) pairs absent from the training counts",
                      "pass pseudo_count > 0 or count on data that contain every evaluated pair")
    return -np.log(num / table.sum(axis=1)[cx[nt:]])


def gaussian_mmi_pid(rho_1: float, rho_2: float, rho_12: float) -> dict:
    """Analytic MMI-PID [nats] of a trivariate Gaussian (Y, X1, X2) with unit variances.

    Parameters
    ----------
    rho_1, rho_2 : float
        Correlations corr(Y, X1), corr(Y, X2).
    rho_12 : float
        corr(X1, X2).

    Returns
    -------
    dict
        ``i_1`` = −½ log(1 − ρ1²), ``i_2``, ``i_12`` = −½ log(1 − R²) with R² the squared multiple
        correlation of Y on (X1, X2); ``redundant`` = min(i_1, i_2), ``unique_1``, ``unique_2``,
        ``synergy`` = i_12 − max(i_1, i_2) (Barrett 2015: for Gaussians the MMI-PID is the exact PID).

    Raises
    ------
    astrolab.errors.DataValidationError
        The correlation matrix is not positive definite.
    """
    c = np.array([[1.0, rho_1, rho_2], [rho_1, 1.0, rho_12], [rho_2, rho_12, 1.0]])
    if np.any(np.linalg.eigvalsh(c) <= 0):
        raise invalid("gaussian_mmi_pid(rho_1, rho_2, rho_12)", f"gives a non-positive-definite matrix {c.tolist()}",
                      "pass correlations of a valid Gaussian (|rho| < 1, consistent with each other)")
    i1 = -0.5 * np.log(1 - rho_1 ** 2)
    i2 = -0.5 * np.log(1 - rho_2 ** 2)
    b = np.array([rho_1, rho_2])
    r2 = float(b @ np.linalg.solve(c[1:, 1:], b))
    i12 = -0.5 * np.log(1 - r2)
    r = min(i1, i2)
    return {"i_1": float(i1), "i_2": float(i2), "i_12": float(i12), "redundant": float(r),
            "unique_1": float(i1 - r), "unique_2": float(i2 - r), "synergy": float(i12 - i1 - i2 + r)}


# -- local independence tests ----------------------------------------------------------------------------------

def knn_neighbourhoods(latents, k: int = 100, reference=None, exclude_self: bool = True) -> np.ndarray:
    """Indices of the k nearest reference objects of each object in a latent space (Euclidean).

    Parameters
    ----------
    latents : array_like (N, D)
        Query latents (e.g. a mass model's representation).
    k : int
        Neighbours per object.
    reference : array_like (M, D), optional
        Latents searched (default: ``latents`` themselves).
    exclude_self : bool
        Without ``reference``, drop each object from its own neighbourhood.

    Returns
    -------
    ndarray (N, k) int
        Row i: indices into ``reference`` (or ``latents``), nearest first.
    """
    from sklearn.neighbors import NearestNeighbors

    q = np.asarray(latents, float)
    if q.ndim != 2 or not np.all(np.isfinite(q)):
        raise invalid("knn_neighbourhoods(latents)", f"has shape {q.shape} or non-finite values", "pass finite (N, D) latents")
    ref = q if reference is None else np.asarray(reference, float)
    self_drop = reference is None and exclude_self
    if not 3 <= int(k) <= len(ref) - int(self_drop):
        raise invalid("knn_neighbourhoods(k=...)", f"is {k} for {len(ref)} reference objects",
                      "pass 3 <= k < number of reference objects")
    nn = NearestNeighbors(n_neighbors=int(k) + int(self_drop)).fit(ref)
    idx = nn.kneighbors(q, return_distance=False)
    return idx[:, 1:] if self_drop else idx


def _gather(values, neighbours, name):
    v = np.asarray(values, float)
    if v.ndim != 1 or not np.all(np.isfinite(v)):
        raise invalid(name, f"has shape {v.shape} or non-finite values", "pass finite (M,) values of the reference objects")
    if neighbours.max() >= len(v):
        raise invalid(name, f"has {len(v)} values but neighbourhoods index up to {neighbours.max()}",
                      "pass the values of the reference objects the neighbourhoods point into")
    return v[neighbours]


def quadratic_residuals(v, c) -> np.ndarray:
    """Residuals of v after a least-squares quadratic fit a + b c + d c² within each neighbourhood.

    Parameters
    ----------
    v, c : array_like (N, k)
        Values of the variable and of the conditioner, one row per neighbourhood.

    Returns
    -------
    ndarray (N, k)
    """
    v = np.asarray(v, float)
    c = np.asarray(c, float)
    if v.shape != c.shape or v.ndim != 2:
        raise invalid("quadratic_residuals(v, c)", f"have shapes {v.shape}, {c.shape}", "pass two (N, k) arrays")
    cc = (c - c.mean(1, keepdims=True)) / (c.std(1, keepdims=True) + 1e-12)
    design = np.stack([np.ones_like(cc), cc, cc ** 2], axis=2)  # (N, k, 3)
    gram = design.transpose(0, 2, 1) @ design + 1e-9 * np.eye(3)
    coef = np.linalg.solve(gram, design.transpose(0, 2, 1) @ v[:, :, None])
    return v - (design @ coef)[:, :, 0]


def _rowcorr(a, b):
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    den = np.sqrt((a ** 2).sum(1) * (b ** 2).sum(1))
    return np.where(den > 0, (a * b).sum(1) / np.where(den > 0, den, 1.0), 0.0)


class LocalCorrelations(NamedTuple):
    """Per-neighbourhood Pearson correlations (N,): ``original`` and ``permuted`` (the null: X_q shuffled
    within the neighbourhood), plus ``p_value`` (two-sided, from ``n_perm`` permutations)."""

    original: np.ndarray
    permuted: np.ndarray
    p_value: np.ndarray


def local_correlations(y, x_query, neighbours, conditioner=None, n_perm: int = 50, seed: int = 0) -> LocalCorrelations:
    """Local (conditional) correlation tests of Y and X_q in latent neighbourhoods, with a permutation null.

    Within neighbourhood i: r_i = corr(Y, X_q), or with a conditioner X_c the correlation of the residuals
    of Y and X_q after a quadratic regression on X_c (:func:`quadratic_residuals`). A latent that has
    absorbed everything X_q says about Y gives r_i distributed like the permuted null.

    Parameters
    ----------
    y, x_query : array_like (M,)
        Target (e.g. true log M* [dex]) and query variable (e.g. axis ratio) of the reference objects.
    neighbours : array_like (N, k) int
        From :func:`knn_neighbourhoods`.
    conditioner : array_like (M,), optional
        X_c (e.g. redshift).
    n_perm : int
        Permutations per neighbourhood for the p-value (one of them is returned as ``permuted``).
    seed : int

    Returns
    -------
    LocalCorrelations
    """
    nb = np.asarray(neighbours)
    if nb.ndim != 2 or nb.shape[1] < 4 or not np.issubdtype(nb.dtype, np.integer):
        raise invalid("local_correlations(neighbours)", f"has shape {nb.shape}, dtype {nb.dtype}",
                      "pass (N, k) integer indices from knn_neighbourhoods with k >= 4")
    if int(n_perm) < 1:
        raise invalid("local_correlations(n_perm=...)", f"is {n_perm}", "pass at least 1 permutation")
    yv = _gather(y, nb, "local_correlations(y)")
    xv = _gather(x_query, nb, "local_correlations(x_query)")
    if conditioner is not None:
        cv = _gather(conditioner, nb, "local_correlations(conditioner)")
        yv, xv = quadratic_residuals(yv, cv), quadratic_residuals(xv, cv)
    r = _rowcorr(yv, xv)
    rng = np.random.default_rng(seed)
    exceed = np.zeros(len(r))
    first = None
    for _ in range(int(n_perm)):
        perm = np.argsort(rng.random(xv.shape), axis=1)
        rp = _rowcorr(yv, np.take_along_axis(xv, perm, axis=1))
        first = rp if first is None else first
        exceed += np.abs(rp) >= np.abs(r)
    return LocalCorrelations(r, first, (exceed + 1) / (int(n_perm) + 1))


def predictive_efficiency(y, x, neighbours) -> np.ndarray:
    """Predictive efficiency (Var Y − Var(Y | X)) / Var Y within each neighbourhood (quadratic regression).

    Parameters
    ----------
    y, x : array_like (M,)
        Target and predictor of the reference objects.
    neighbours : array_like (N, k) int

    Returns
    -------
    ndarray (N,)
        In [0, 1]: the fraction of local variance of Y that X explains.
    """
    nb = np.asarray(neighbours)
    yv = _gather(y, nb, "predictive_efficiency(y)")
    xv = _gather(x, nb, "predictive_efficiency(x)")
    var = yv.var(1)
    res = quadratic_residuals(yv, xv).var(1)
    return np.where(var > 0, (var - res) / np.where(var > 0, var, 1.0), 0.0)


# -- PC cross-check -----------------------------------------------------------------------------------------------

def pc_skeleton(data, names, alpha: float = 0.01, indep_test: str = "fisherz") -> set:
    """Undirected skeleton found by causal-learn's PC algorithm.

    Parameters
    ----------
    data : array_like (N, V)
        Samples of the V variables (standardised internally).
    names : sequence of str (V,)
        Variable names.
    alpha : float
        Significance level of the conditional-independence tests.
    indep_test : str
        causal-learn test (``"fisherz"`` for linear-Gaussian relations; ``"kci"`` is nonparametric and slow).

    Returns
    -------
    set of frozenset
        Edges {a, b} of the estimated skeleton (orientation dropped).
    """
    from causallearn.search.ConstraintBased.PC import pc

    x = np.asarray(data, float)
    if x.ndim != 2 or x.shape[1] != len(names) or not np.all(np.isfinite(x)):
        raise invalid("pc_skeleton(data)", f"has shape {x.shape} for {len(names)} names or non-finite values",
                      "pass finite (N, V) data with one name per column")
    if not 0 < alpha < 1:
        raise invalid("pc_skeleton(alpha=...)", f"is {alpha}", "pass a significance level in (0, 1), e.g. 0.01")
    sd = x.std(0)
    if np.any(sd == 0):
        raise invalid("pc_skeleton(data)", "has constant columns", "drop variables that do not vary")
    g = pc((x - x.mean(0)) / sd, alpha, indep_test, show_progress=False).G.graph
    v = len(names)
    return {frozenset((names[i], names[j])) for i in range(v) for j in range(i + 1, v) if g[i, j] != 0 or g[j, i] != 0}


def skeleton_scores(estimated, true_edges) -> dict:
    """Precision, recall and F1 of an estimated skeleton against a planted DAG (edges undirected).

    Parameters
    ----------
    estimated : iterable of 2-element collections
        Estimated edges (e.g. from :func:`pc_skeleton`).
    true_edges : iterable of (str, str)
        Planted (parent, child) pairs (e.g. :data:`astrolab.sim.stellar_mass.CAUSAL_EDGES`).

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1`` (in [0, 1]), ``missing`` and ``extra`` (sorted lists of pairs).
    """
    est = {frozenset(e) for e in estimated}
    tru = {frozenset(e) for e in true_edges}
    if not tru:
        raise invalid("skeleton_scores(true_edges)", "is empty", "pass the planted (parent, child) edges")
    tp = len(est & tru)
    prec = tp / len(est) if est else 0.0
    rec = tp / len(tru)
    f1 = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0
    return {"precision": prec, "recall": rec, "f1": f1, "missing": sorted(tuple(sorted(e)) for e in tru - est),
            "extra": sorted(tuple(sorted(e)) for e in est - tru)}
