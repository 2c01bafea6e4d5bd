"""AstroM3 workflow: trimodal CLIP pre-training, fine-tuning, probes, retrieval, anomalies.

Reproduces the protocol of Rizhko & Bloom (``/work/shared/papers.md`` section 8) on
:class:`astrolab.data.astrom3.AstroM3Arrays` (simulated with
:func:`astrolab.sim.variables.simulate_variables` or read with
:func:`astrolab.data.astrom3.load_astrom3_processed`):

- :func:`pretrain_clip` -- :class:`~astrolab.models.clip.TrimodalCLIP` on :func:`astrolab.train.fit`;
- :func:`fine_tune` -- a classifier per modality (or "all") initialised from CLIP or from scratch,
  on a class-stratified label fraction; :func:`finetune_grid` runs the grid;
- :func:`embed`, :func:`predict`, :func:`probe` (linear / MLP probe on frozen embeddings);
- :func:`retrieval_accuracy`, :func:`similarity_search`, :func:`anomaly_scores`;
- :func:`subclass_separation` -- KMeans within a parent class vs the hidden subclasses (NMI/ARI).
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from astrolab.data.astrom3 import AstroM3Arrays, label_subset
from astrolab.errors import invalid

__all__ = ["pretrain_clip", "fine_tune", "finetune_grid", "embed", "predict", "probe", "probe_grid", "random_clip",
           "retrieval_accuracy",
           "similarity_search", "anomaly_scores", "subclass_separation"]


def _check(arrays, name):
    if not isinstance(arrays, AstroM3Arrays):
        raise invalid(name, f"got {type(arrays).__name__}", "pass astrolab.data.astrom3.AstroM3Arrays "
                      "(arrays_from_multimodal or load_astrom3_processed)")


def _new_clip(train: AstroM3Arrays, seed: int, **model_kw):
    import torch

    from astrolab.models.clip import TrimodalCLIP

    torch.manual_seed(seed)
    return TrimodalCLIP(n_aux=train.n_aux, n_meta=train.n_meta, spec_channels=train.spectra.shape[1], **model_kw)


def pretrain_clip(train: AstroM3Arrays, val: AstroM3Arrays | None = None, *, epochs: int = 20, batch_size: int = 64,
                  lr: float = 2e-3, weight_decay: float = 1e-4, seed: int = 0, device: str = "auto",
                  progress: bool = False, run_dir=None, restore_best: bool = False, **model_kw):
    """Pre-train a :class:`~astrolab.models.clip.TrimodalCLIP` without labels.

    Parameters
    ----------
    train, val : AstroM3Arrays
        Training and optional validation objects (labels are not used).
    epochs, batch_size, lr, weight_decay : training settings (AdamW, cosine schedule).
    seed : int
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    progress : bool
        Show the engine's progress bar.
    run_dir : path-like, optional
        Engine run folder (checkpoints); default a fresh cache folder.
    restore_best : bool
        Return the weights of the epoch with the lowest validation CLIP loss instead of the
        last epoch's (needs ``val``). A CLIP that keeps training after its validation loss has
        turned up memorises its training pairs, and its encoders then fine-tune worse.
    **model_kw
        Passed to ``TrimodalCLIP`` (``d_model``, ``n_latents``, ``n_blocks``, ``embed_dim``, ...).

    Returns
    -------
    (TrimodalCLIP, FitResult)
        The model (in eval mode, on CPU) and the engine result (``history.frame`` has
        ``train_loss``, ``val_loss`` [nats] and ``val_retrieval_top1``).
    """
    from astrolab.train import fit

    _check(train, "pretrain_clip(train=...)")
    if restore_best and val is None:
        raise ValueError("pretrain_clip(restore_best=True) needs validation objects: pass val=...")
    model = _new_clip(train, seed, **model_kw)
    res = fit(model, train.dataset(), val.dataset() if val is not None else None, max_epochs=epochs,
              batch_size=batch_size, lr=lr, weight_decay=weight_decay, scheduler="cosine", seed=seed, device=device,
              progress=progress, run_dir=run_dir, resume=False, config={"model": "TrimodalCLIP", **model.config})
    if restore_best:
        from astrolab.train import load_checkpoint

        load_checkpoint(res.best_checkpoint, res.model)
    return res.model.cpu().eval(), res


def fine_tune(clip, train: AstroM3Arrays, val: AstroM3Arrays | None = None, *, modality: str = "photometry",
              label_fraction: float = 1.0, epochs: int = 20, batch_size: int = 64, lr: float = 1e-3,
              head: str = "linear", freeze: bool = False, encoder_lr_scale: float = 1.0, probe_epochs: int = 0,
              feature_norm: bool = True, seed: int = 0, device: str = "auto", progress: bool = False, **model_kw):
    """Train a classifier on one modality from CLIP weights (``clip``) or from scratch (``clip=None``).

    Parameters
    ----------
    clip : TrimodalCLIP or None
        Pre-trained model whose encoders initialise the classifier; ``None`` = random init
        (same architecture, ``model_kw`` as for :func:`pretrain_clip`).
    train, val : AstroM3Arrays
        Labelled training objects (a stratified ``label_fraction`` of them is used) and
        optional validation objects.
    modality : {"photometry", "spectra", "metadata", "all"}
    label_fraction : float in (0, 1]
    epochs, batch_size, lr : training settings (AdamW, cosine schedule; the batch size shrinks to
        max(8, n_labelled // 4) for small label sets).
    head : {"linear", "mlp"}
    freeze : bool
        Keep the encoder fixed (probe) instead of fine-tuning.
    encoder_lr_scale : float
        The encoders learn at ``encoder_lr_scale × lr``, the new head at ``lr`` (1 = one rate).
    probe_epochs : int
        Linear-probe-then-fine-tune (LP-FT): first train only the head for this many epochs
        with the encoders frozen, then fine-tune everything for ``epochs`` more. 0 = plain
        fine-tuning. Ignored with ``freeze=True``. The returned ``FitResult`` is the
        fine-tuning stage's.
    feature_norm : bool
        Standardise the embedding features before the head (see
        :class:`~astrolab.models.clip.ModalityClassifier`).
    seed : int
        Seeds the subset, the initialisation and the shuffling.

    Returns
    -------
    (ModalityClassifier, FitResult)
    """
    from astrolab.models.clip import ModalityClassifier
    from astrolab.train import fit

    _check(train, "fine_tune(train=...)")
    src = clip if clip is not None else _new_clip(train, seed + 1000, **model_kw)
    if int(probe_epochs) < 0:
        raise ValueError(f"fine_tune(probe_epochs={probe_epochs!r}): use 0 (plain fine-tuning) or a positive count")
    model = ModalityClassifier(src, modality, len(train.classes), head=head, freeze=freeze,
                               encoder_lr_scale=encoder_lr_scale, feature_norm=feature_norm).train()
    sub = train.subset(label_subset(train.labels, label_fraction, seed=seed))
    # small label sets: smaller batches so that every fraction gets a comparable number of steps
    bs = int(min(batch_size, max(8, len(sub) // 4)))
    stages = [(True, int(probe_epochs)), (False, epochs)] if probe_epochs and not freeze else [(freeze, epochs)]
    for frozen, n_epochs in stages:
        model.set_frozen(frozen)
        res = fit(model, sub.dataset(), val.dataset() if val is not None else None, max_epochs=n_epochs,
                  batch_size=bs, lr=lr, weight_decay=1e-4, scheduler="cosine", seed=seed, device=device,
                  progress=progress, resume=False,
                  config={"model": "ModalityClassifier", "modality": modality, "frozen": frozen})
        model = res.model.train()
    return res.model.cpu().eval(), res


def _batches(arrays: AstroM3Arrays, batch_size: int):
    t = arrays.tensors()
    from astrolab.models.clip import BATCH_KEYS

    n = len(arrays)
    for s in range(0, n, batch_size):
        yield {k: t[k][s:s + batch_size] for k in BATCH_KEYS}


def embed(model, arrays: AstroM3Arrays, modality: str = "photometry", batch_size: int = 256) -> np.ndarray:
    """Unit-norm embeddings (N, E) of ``arrays`` in one modality.

    Parameters
    ----------
    model : TrimodalCLIP or ModalityClassifier
        For a classifier, ``modality`` is ignored (its own modality/modalities are used).
    arrays : AstroM3Arrays
    modality : {"photometry", "spectra", "metadata", "all"}
        "all" = normalised mean of the three CLIP embeddings.
    """
    import torch

    from astrolab.models.clip import ModalityClassifier

    out = []
    model.eval()
    with torch.no_grad():
        for b in _batches(arrays, batch_size):
            if isinstance(model, ModalityClassifier):
                z = model.features(b)
            elif modality == "all":
                z = torch.stack([model.embed(b, m) for m in ("photometry", "spectra", "metadata")]).mean(0)
            else:
                z = model.embed(b, modality)
            out.append(torch.nn.functional.normalize(z, dim=-1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 1), np.float32)


def predict(model, arrays: AstroM3Arrays, batch_size: int = 256):
    """Class predictions of a :class:`~astrolab.models.clip.ModalityClassifier`.

    Returns
    -------
    (numpy.ndarray (N,) int64, numpy.ndarray (N, C) float)
        Predicted labels and class probabilities.
    """
    import torch

    probs = []
    model.eval()
    with torch.no_grad():
        for b in _batches(arrays, batch_size):
            probs.append(torch.softmax(model(b), dim=1).numpy())
    p = np.concatenate(probs)
    return p.argmax(axis=1).astype(np.int64), p


def probe(train_emb, train_labels, test_emb, test_labels, kind: str = "linear", seed: int = 0) -> dict:
    """Linear (logistic regression), MLP (one hidden layer of 64) or tree probe on frozen features.

    ``kind="trees"`` (scikit-learn's histogram gradient-boosted trees) is the tabular baseline: run on
    raw per-object features (e.g. ``AstroM3Arrays.aux``, the light-curve summary features), it shows how
    much of a task needs no representation learning at all.

    Parameters
    ----------
    train_emb, test_emb : array_like (N, E)
    train_labels, test_labels : array_like (N,) int
    kind : {"linear", "mlp", "trees"}
    seed : int

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy``, ``macro_f1`` and ``confusion_matrix`` (see
        :func:`astrolab.metrics.classification.classification_summary`) plus ``pred`` (N,).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    from astrolab.metrics.classification import classification_summary

    if kind not in ("linear", "mlp", "trees"):
        raise invalid("probe(kind=...)", f"got {kind!r}", "use 'linear', 'mlp' or 'trees'")
    sc = StandardScaler().fit(train_emb)
    clf = {"linear": lambda: LogisticRegression(max_iter=2000, C=1.0),
           "mlp": lambda: MLPClassifier((64,), max_iter=500, random_state=seed, alpha=1e-3),
           "trees": lambda: HistGradientBoostingClassifier(random_state=seed)}[kind]()
    clf.fit(sc.transform(train_emb), train_labels)
    pred = clf.predict(sc.transform(test_emb))
    out = classification_summary(test_labels, pred)
    out["pred"] = pred
    return out


def retrieval_accuracy(query_emb, target_emb, k: int = 1) -> float:
    """Cross-modal retrieval top-k accuracy: is object i's own target among the k most similar?

    Parameters
    ----------
    query_emb, target_emb : array_like (N, E)
        Row i of both belongs to the same object (e.g. photometry and spectrum embeddings).
    k : int

    Returns
    -------
    float
        Fraction of queries whose match is in the top k (chance = k / N).
    """
    q = np.asarray(query_emb, float)
    t = np.asarray(target_emb, float)
    if q.shape != t.shape or q.ndim != 2:
        raise invalid("retrieval_accuracy", f"shapes {q.shape} and {t.shape}", "pass two (N, E) arrays of paired rows")
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    t = t / np.linalg.norm(t, axis=1, keepdims=True)
    sim = q @ t.T
    own = np.diag(sim)
    rank = (sim > own[:, None]).sum(axis=1)
    return float(np.mean(rank < k))


def similarity_search(emb, query: int, k: int = 5, target_emb=None) -> np.ndarray:
    """Indices of the ``k`` objects most cosine-similar to object ``query`` (itself excluded).

    Parameters
    ----------
    emb : array_like (N, E)
        Embeddings of the query modality.
    query : int
        Row of the query object.
    k : int
    target_emb : array_like (N, E), optional
        Search in another modality's embeddings (cross-modal search); default ``emb``.

    Returns
    -------
    numpy.ndarray (k,) int64, most similar first.
    """
    e = np.asarray(emb, float)
    t = e if target_emb is None else np.asarray(target_emb, float)
    q = e[query] / np.linalg.norm(e[query])
    sim = (t / np.linalg.norm(t, axis=1, keepdims=True)) @ q
    sim[query] = -np.inf
    return np.argsort(-sim)[:k].astype(np.int64)


def anomaly_scores(emb, labels=None, n_neighbors: int = 10) -> np.ndarray:
    """Anomaly score per object from embedding distances.

    Parameters
    ----------
    emb : array_like (N, E)
    labels : array_like (N,), optional
        With labels: cosine distance to the centroid of the object's own class (a mislabelled or
        odd object sits far from its class). Without: mean cosine distance to the
        ``n_neighbors`` nearest neighbours.

    Returns
    -------
    numpy.ndarray (N,)
        Larger = more anomalous (cosine distance, in [0, 2]).
    """
    e = np.asarray(emb, float)
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    if labels is not None:
        y = np.asarray(labels)
        out = np.empty(len(e))
        for c in np.unique(y):
            m = y == c
            cen = e[m].mean(0)
            cen /= np.linalg.norm(cen) + 1e-12
            out[m] = 1.0 - e[m] @ cen
        return out
    sim = e @ e.T
    np.fill_diagonal(sim, -np.inf)
    k = min(n_neighbors, len(e) - 1)
    top = -np.sort(-sim, axis=1)[:, :k]
    return 1.0 - top.mean(axis=1)


def subclass_separation(emb, parent_mask, subclasses, method: str = "umap", seed: int = 0) -> dict:
    """Do unsupervised clusters within one parent class recover its hidden subclasses?

    Parameters
    ----------
    emb : array_like (N, E)
        Embeddings of all objects.
    parent_mask : array_like (N,) bool
        Objects of the parent class (e.g. label == "M").
    subclasses : array_like (N,) str
        Hidden subclass of each object (only the parent's rows are used).
    method : {"umap", "pca", "none"}
        2-D map computed on the parent's rows before KMeans (``"none"``: KMeans on ``emb``).
    seed : int

    Returns
    -------
    dict
        ``nmi``, ``ari`` (KMeans with as many clusters as subclasses, vs the subclasses) and ``n``.
    """
    from astrolab.metrics.clustering import kmeans_scores

    m = np.asarray(parent_mask, bool)
    x = np.asarray(emb, float)[m]
    y = np.asarray(subclasses)[m]
    if method != "none":
        if method == "umap" and len(x) > 10:
            import umap

            x = umap.UMAP(n_components=2, n_neighbors=min(15, len(x) - 1), random_state=seed).fit_transform(x)
        elif method == "pca" and len(x) > 2:
            from sklearn.decomposition import PCA

            x = PCA(n_components=2, random_state=seed).fit_transform(x)
    out = kmeans_scores(x, y, seed=seed)
    out["n"] = int(m.sum())
    return out


def finetune_grid(clip, train: AstroM3Arrays, test: AstroM3Arrays, *, modalities=("photometry", "spectra", "metadata", "all"),
                  fractions=(1.0, 0.5, 0.25, 0.1), epochs: int = 20, seed: int = 0, device: str = "auto",
                  return_models: bool = False, clip_finetune: dict | None = None, **model_kw):
    """Test accuracy of classifiers from CLIP weights and from scratch over modalities and label fractions.

    Parameters
    ----------
    clip : TrimodalCLIP
        Pre-trained model.
    train, test : AstroM3Arrays
    modalities, fractions : sequences
    epochs, seed, device : training settings of every classifier.
    return_models : bool
        Also return the trained classifiers, keyed by (modality, fraction, init).
    clip_finetune : dict, optional
        Extra :func:`fine_tune` options for the CLIP-initialised runs only, e.g.
        ``{"probe_epochs": 10, "encoder_lr_scale": 0.3}`` (LP-FT); scratch runs fine-tune plainly.
    **model_kw
        Architecture of the from-scratch models (must match ``clip``).

    Returns
    -------
    astropy.table.Table
        Columns ``modality``, ``fraction``, ``init`` ("clip"/"scratch"), ``accuracy``,
        ``balanced_accuracy``, ``macro_f1``, ``n_train`` (and the dict of models when ``return_models``).
    """
    from astrolab.metrics.classification import classification_summary

    rows, models = [], {}
    for mod in modalities:
        for frac in fractions:
            for init in ("clip", "scratch"):
                extra = dict(clip_finetune or {}) if init == "clip" else {}
                clf, _ = fine_tune(clip if init == "clip" else None, train, modality=mod, label_fraction=frac,
                                   epochs=epochs, seed=seed, device=device, **extra, **model_kw)
                models[(mod, float(frac), init)] = clf
                pred, _ = predict(clf, test)
                s = classification_summary(test.labels, pred, labels=np.arange(len(test.classes)))
                rows.append((mod, float(frac), init, s["accuracy"], s["balanced_accuracy"], s["macro_f1"],
                             len(label_subset(train.labels, frac, seed=seed))))
    table = Table(rows=rows, names=("modality", "fraction", "init", "accuracy", "balanced_accuracy", "macro_f1", "n_train"))
    return (table, models) if return_models else table


def random_clip(train: AstroM3Arrays, seed: int = 0, **model_kw):
    """An untrained :class:`~astrolab.models.clip.TrimodalCLIP` sized for ``train`` (the "without CLIP" baseline)."""
    return _new_clip(train, seed, **model_kw).eval()


def probe_grid(models: dict, train: AstroM3Arrays, test: AstroM3Arrays, *, modalities=("photometry", "spectra", "metadata", "all"),
               fractions=(1.0, 0.1), kind: str = "linear", seed: int = 0) -> Table:
    """Probe accuracy on frozen embeddings of several models, per modality and label fraction.

    Parameters
    ----------
    models : dict of str -> TrimodalCLIP
        E.g. ``{"clip": pretrained, "random init": random_clip(train)}``.
    train, test : AstroM3Arrays
    modalities, fractions : sequences
    kind : {"linear", "mlp"}
    seed : int
        Seed of the stratified label subsets.

    Returns
    -------
    astropy.table.Table
        Columns ``modality``, ``fraction``, ``init`` (the model's name), ``accuracy``,
        ``balanced_accuracy``, ``macro_f1``, ``n_train``.
    """
    rows = []
    for name, model in models.items():
        for mod in modalities:
            etr, ete = embed(model, train, mod), embed(model, test, mod)
            for frac in fractions:
                idx = label_subset(train.labels, frac, seed=seed)
                r = probe(etr[idx], train.labels[idx], ete, test.labels, kind=kind, seed=seed)
                rows.append((mod, float(frac), name, r["accuracy"], r["balanced_accuracy"], r["macro_f1"], len(idx)))
    return Table(rows=rows, names=("modality", "fraction", "init", "accuracy", "balanced_accuracy", "macro_f1", "n_train"))
