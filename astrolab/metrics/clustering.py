"""Clustering metrics for learned representations (KMeans on latents -> NMI, ARI)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from astrolab.errors import invalid

__all__ = ["nmi", "ari", "kmeans_scores"]


def _pair(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a), np.asarray(b)
    for name, v in (("labels_true", x), ("labels_pred", y)):
        if v.ndim != 1 or v.size == 0:
            raise invalid(name, f"has shape {v.shape}, expected non-empty 1-D labels (N,)",
                          "pass one cluster/class label per object")
    if x.shape != y.shape:
        raise invalid("labels_true/labels_pred", f"have different lengths ({x.size} and {y.size})",
                      "pass two labelings of the same objects")
    return x, y


def nmi(labels_true: ArrayLike, labels_pred: ArrayLike) -> float:
    """Normalised mutual information between two labelings.

    Parameters
    ----------
    labels_true, labels_pred : array_like, shape (N,)

    Returns
    -------
    float
        In [0, 1]; 1 for identical partitions (label names do not matter).
    """
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(*_pair(labels_true, labels_pred)))


def ari(labels_true: ArrayLike, labels_pred: ArrayLike) -> float:
    """Adjusted Rand index between two labelings.

    Parameters
    ----------
    labels_true, labels_pred : array_like, shape (N,)

    Returns
    -------
    float
        1 for identical partitions, ≈ 0 for random ones (can be negative).
    """
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(*_pair(labels_true, labels_pred)))


def kmeans_scores(latents: ArrayLike, labels: ArrayLike, n_clusters: int | None = None, seed: int = 0) -> dict:
    """Cluster latent vectors with KMeans and compare clusters with labels.

    Parameters
    ----------
    latents : array_like, shape (N, D)
        Embeddings (any units; not rescaled).
    labels : array_like, shape (N,)
        Reference classes.
    n_clusters : int, optional
        Number of clusters (default: number of distinct labels).
    seed : int
        KMeans random state.

    Returns
    -------
    dict
        ``nmi`` and ``ari`` (floats).
    """
    from sklearn.cluster import KMeans

    x = np.asarray(latents, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0:
        raise invalid("latents", f"has shape {x.shape}, expected (N, D)", "pass one latent vector per row")
    if not np.all(np.isfinite(x)):
        raise invalid("latents", "contains NaN/inf", "drop those rows or check the encoder output")
    y = np.asarray(labels)
    if y.shape != (x.shape[0],):
        raise invalid("labels", f"has shape {y.shape}, expected ({x.shape[0]},)", "pass one label per latent row")
    k = int(n_clusters) if n_clusters is not None else int(np.unique(y).size)
    if not 1 <= k <= x.shape[0]:
        raise invalid("n_clusters", f"is {k} for {x.shape[0]} objects", "pass 1 <= n_clusters <= N")
    pred = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)
    return {"nmi": nmi(y, pred), "ari": ari(y, pred)}
