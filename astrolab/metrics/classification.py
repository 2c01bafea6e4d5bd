"""Classification metrics (scikit-learn wrappers with astrolab validation)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from astrolab.errors import invalid

__all__ = ["accuracy", "balanced_accuracy", "macro_f1", "confusion_matrix", "classification_summary"]


def _labels_pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    yt = np.asarray(y_true)
    yp = np.asarray(y_pred)
    for name, y in (("y_true", yt), ("y_pred", yp)):
        if y.ndim != 1:
            raise invalid(name, f"has shape {y.shape}, expected 1-D labels (N,)",
                          "pass one class label per object (use argmax for probabilities)")
        if y.size == 0:
            raise invalid(name, "is empty", "pass at least one object")
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise invalid(name, "contains NaN/inf labels", "drop objects without a label")
    if yt.shape != yp.shape:
        raise invalid("y_true/y_pred", f"have different lengths ({yt.size} and {yp.size})",
                      "pass one true and one predicted label per object, in the same order")
    return yt, yp


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of correct labels.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (N,)
        Class labels (int or str).

    Returns
    -------
    float
        In [0, 1].
    """
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(*_labels_pair(y_true, y_pred)))


def balanced_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean per-class recall (robust to class imbalance).

    Parameters
    ----------
    y_true, y_pred : array_like, shape (N,)

    Returns
    -------
    float
        In [0, 1].
    """
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return float(balanced_accuracy_score(*_labels_pair(y_true, y_pred)))


def macro_f1(y_true: ArrayLike, y_pred: ArrayLike, labels: ArrayLike | None = None) -> float:
    """Unweighted mean of per-class F1 scores.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (N,)
    labels : array_like, optional
        Classes to average over (default: all classes present in either).

    Returns
    -------
    float
        In [0, 1]; a class never predicted and never true is skipped, one with
        no predictions counts as F1 = 0.
    """
    from sklearn.metrics import f1_score

    yt, yp = _labels_pair(y_true, y_pred)
    return float(f1_score(yt, yp, labels=labels, average="macro", zero_division=0))


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, labels: ArrayLike | None = None,
                     normalize: str | None = None) -> np.ndarray:
    """Confusion matrix ``C[i, j]`` = objects of true class i predicted as class j.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (N,)
    labels : array_like, shape (C,), optional
        Class order of rows/columns (default: sorted union of labels).
    normalize : {None, "true", "pred", "all"}
        None gives counts; "true" normalises rows, "pred" columns, "all" the total.

    Returns
    -------
    numpy.ndarray, shape (C, C)
        Counts (int) or fractions (float).
    """
    from sklearn.metrics import confusion_matrix as _cm

    if normalize not in (None, "true", "pred", "all"):
        raise invalid("confusion_matrix normalize", f"is {normalize!r}", 'use None, "true", "pred" or "all"')
    yt, yp = _labels_pair(y_true, y_pred)
    return _cm(yt, yp, labels=labels, normalize=normalize)


def classification_summary(y_true: ArrayLike, y_pred: ArrayLike, labels: ArrayLike | None = None) -> dict:
    """All classification metrics at once.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (N,)
    labels : array_like, shape (C,), optional
        Class order (default: sorted union of labels).

    Returns
    -------
    dict
        ``n`` (int), ``accuracy``, ``balanced_accuracy``, ``macro_f1`` (floats),
        ``labels`` (C,) and ``confusion_matrix`` (C, C) counts.
    """
    yt, yp = _labels_pair(y_true, y_pred)
    labs = np.unique(np.concatenate([yt, yp])) if labels is None else np.asarray(labels)
    return {
        "n": int(yt.size),
        "accuracy": accuracy(yt, yp),
        "balanced_accuracy": balanced_accuracy(yt, yp),
        "macro_f1": macro_f1(yt, yp, labels=labs),
        "labels": labs,
        "confusion_matrix": confusion_matrix(yt, yp, labels=labs),
    }
