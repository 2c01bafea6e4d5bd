"""Bring your own model: the small protocols by which a user's torch model plugs into astrolab.

astrolab never asks you to subclass anything. A model plugs in by its *shapes*:

==========================  =====================================================================
where                       what your model must do
==========================  =====================================================================
:func:`astrolab.train.fit`  a ``torch.nn.Module`` with ``loss(batch) -> scalar tensor`` (or pass
                            ``loss_fn=lambda model, batch: ...``); optional ``metrics(batch) ->
                            {name: scalar tensor}`` is logged on validation. A
                            ``lightning.LightningModule`` is used as it is.
``PhotometricRedshift``     ``network=factory`` where ``factory(n_features, n_bins)`` returns a
(``network=``)              module mapping features ``(N, n_features)`` float32 to logits
                            ``(N, n_bins)`` over the redshift bins. The estimator adds the
                            features, the loss, training on the engine, ``predict_pdf`` (a
                            :class:`~astrolab.metrics.pdf.RedshiftPDF`), save/load and the
                            ``TrainingPanel`` controls. Checked by :func:`check_photoz_network`.
``TrainingPanel``           an estimator (``get_params``/``set_params``/``fit(..., history=,
                            stop_event=, run_dir=, resume=, device=)``) or a torch module as for
                            ``fit``.
``EmbeddingExplorer``       latents ``(N, D)``: :func:`embed` runs any encoder (``encode(x)`` or
                            ``forward(x)``) over your data and checks the shape.
``PDFExplorer``, metrics    a :class:`~astrolab.metrics.pdf.RedshiftPDF`; :func:`pdf_from_logits`
                            turns logits over bins into one.
==========================  =====================================================================

Every check raises :class:`astrolab.errors.DataValidationError` naming the model, what is wrong
(e.g. the output shape it returned) and the fix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from astrolab.errors import invalid

__all__ = ["check_photoz_network", "embed", "pdf_from_logits", "model_name"]


def model_name(model: Any) -> str:
    """Human-readable name of a model, factory or class (``module.qualname``)."""
    import inspect

    target = model if (isinstance(model, type) or inspect.isfunction(model) or inspect.ismethod(model)) \
        else type(model)
    mod = getattr(target, "__module__", "") or ""
    qual = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or repr(target)
    return f"{mod}.{qual}" if mod and mod not in ("builtins", "__main__") else str(qual)


def check_photoz_network(net: Any, n_features: int, n_bins: int, name: str | None = None) -> None:
    """Check that ``net`` maps features ``(N, n_features)`` to logits ``(N, n_bins)``.

    Runs one forward pass on a batch of 3 zero feature vectors (float32, CPU) in eval mode.

    Parameters
    ----------
    net : torch.nn.Module
        The network to check.
    n_features : int
        Number of input features F per object.
    n_bins : int
        Number of redshift bins (the logits' last dimension).
    name : str, optional
        Name used in the error messages (default: the class name).

    Raises
    ------
    astrolab.errors.DataValidationError
        Not a module, no parameters, the forward pass fails, or it returns the
        wrong shape or non-finite values.
    """
    import torch
    from torch import nn

    label = name or f"network {type(net).__name__}"
    if not isinstance(net, nn.Module):
        raise invalid(label, f"is a {type(net).__name__}, not a torch.nn.Module",
                      "network= takes a factory(n_features, n_bins) returning an nn.Module")
    if not any(p.requires_grad for p in net.parameters()):
        raise invalid(label, "has no trainable parameters", "build the layers in __init__ (nn.Linear, ...)")
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            out = net(torch.zeros(3, int(n_features)))
    except Exception as exc:
        raise invalid(label, f"failed on a features batch of shape (3, {n_features}): "
                      f"{type(exc).__name__}: {exc}",
                      f"forward(x) must accept float32 features of shape (N, {n_features})") from exc
    finally:
        net.train(was_training)
    if not torch.is_tensor(out):
        raise invalid(label, f"forward returned {type(out).__name__}, not a tensor",
                      f"return the logits tensor of shape (N, {n_bins})")
    if tuple(out.shape) != (3, int(n_bins)):
        raise invalid(label, f"forward returned shape {tuple(out.shape)} for 3 objects; expected (3, {n_bins})",
                      f"end with a layer of {n_bins} outputs (one logit per redshift bin), no softmax")
    if not torch.isfinite(out).all():
        raise invalid(label, "returned NaN/inf logits for zero features", "check the layers' initialisation")


def pdf_from_logits(logits: Any, z_edges: Any, ids: Any = None):
    """Turn logits over redshift bins into a :class:`~astrolab.metrics.pdf.RedshiftPDF`.

    Parameters
    ----------
    logits : array_like or torch.Tensor, shape (N, B)
        Unnormalised log-probabilities of the B bins.
    z_edges : array_like, shape (B + 1,)
        Bin edges (increasing, redshift).
    ids : array_like, shape (N,), optional
        Object ids.

    Returns
    -------
    astrolab.metrics.pdf.RedshiftPDF
        Densities [1/unit redshift] at the bin centres.
    """
    from astrolab.metrics.pdf import RedshiftPDF

    if hasattr(logits, "detach"):
        logits = logits.detach().float().cpu().numpy()
    logits = np.asarray(logits, dtype=np.float64)
    edges = np.asarray(z_edges, dtype=np.float64)
    if logits.ndim != 2 or edges.ndim != 1 or logits.shape[1] != edges.size - 1:
        raise invalid("pdf_from_logits", f"logits shape {logits.shape} does not match {edges.size} bin edges",
                      "pass logits (N, B) and B + 1 edges")
    if np.any(np.diff(edges) <= 0):
        raise invalid("pdf_from_logits(z_edges=...)", "edges are not strictly increasing", "sort the edges")
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    centres = 0.5 * (edges[1:] + edges[:-1])
    return RedshiftPDF(centres, p / np.diff(edges), ids=ids)


def embed(encoder: Any, data: Any, batch_size: int = 1024, device: str | None = None,
          name: str | None = None) -> np.ndarray:
    """Run an encoder over data and return latents ``(N, D)`` for :class:`~astrolab.widgets.EmbeddingExplorer`.

    Parameters
    ----------
    encoder : torch.nn.Module or callable
        Uses ``encoder.encode(x)`` when it exists, else ``encoder(x)``; must
        return a tensor of shape (batch, D) (or (batch, ...) that is flattened
        only if you pass it through your own pooling first -- higher ranks are
        refused).
    data : array_like, torch.Tensor or torch.utils.data.Dataset
        Inputs (N, ...); for a Dataset the first element of each item is the input.
    batch_size : int
        Objects per forward pass.
    device : str, optional
        Where to run (default ``astrolab.config.device()`` when the encoder is a module).
    name : str, optional
        Name used in the error messages.

    Returns
    -------
    numpy.ndarray, shape (N, D), float32
        Latent vectors, one row per input object.
    """
    import torch
    from torch import nn

    label = name or f"encoder {type(encoder).__name__}"
    fn = getattr(encoder, "encode", None) if callable(getattr(encoder, "encode", None)) else encoder
    if not callable(fn):
        raise invalid(label, "is not callable and has no encode(x) method", "pass a torch module or a function")
    if isinstance(data, torch.utils.data.Dataset) and not isinstance(data, torch.utils.data.TensorDataset):
        items = [data[i] for i in range(len(data))]
        x_all = torch.stack([torch.as_tensor(it[0] if isinstance(it, (tuple, list)) else it) for it in items])
    elif isinstance(data, torch.utils.data.TensorDataset):
        x_all = data.tensors[0]
    else:
        x_all = torch.as_tensor(np.asarray(data) if not torch.is_tensor(data) else data)
    if x_all.dtype == torch.float64:
        x_all = x_all.float()
    n = len(x_all)
    dev = torch.device("cpu")
    if isinstance(encoder, nn.Module):
        from astrolab import config

        dev = torch.device(device) if device else torch.device(config.device())
        encoder = encoder.to(dev).eval()
    out = []
    with torch.no_grad():
        for start in range(0, n, int(batch_size)):
            z = fn(x_all[start:start + int(batch_size)].to(dev))
            if isinstance(z, (tuple, list)):
                z = z[0]
            if not torch.is_tensor(z):
                raise invalid(label, f"returned {type(z).__name__}, not a tensor", "return latents (batch, D)")
            if z.dim() != 2 or z.shape[0] != min(int(batch_size), n - start):
                raise invalid(label, f"returned shape {tuple(z.shape)} for a batch of "
                              f"{min(int(batch_size), n - start)} objects; EmbeddingExplorer needs (batch, D)",
                              "pool or flatten inside encode(x) (e.g. .mean(dim=1) over tokens)")
            out.append(z.float().cpu().numpy())
    lat = np.concatenate(out, axis=0) if out else np.zeros((0, 0), np.float32)
    if not np.isfinite(lat).all():
        raise invalid(label, f"produced {int((~np.isfinite(lat)).sum())} NaN/inf latent values",
                      "check the inputs (NaN features) and the encoder")
    return lat
