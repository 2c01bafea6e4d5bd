"""Transfer-learning helpers: freeze / unfreeze parameter groups, count trainable weights, fine-tune.

Pre-training and fine-tuning are two calls of :func:`astrolab.train.fit` on the
same module; between them :func:`freeze` keeps the chosen layers fixed (the
engine's optimiser only sees parameters with ``requires_grad``).

Example
-------
>>> task = BinnedRedshiftTask(PhotoZMLP(19, 200), edges)        # doctest: +SKIP
>>> fit(task, noisy_train, noisy_val, lr=1e-3)                   # pre-train   # doctest: +SKIP
>>> freeze(task, "net.body"); fit(task, spec_train, spec_val, lr=1e-4)  # fine-tune the head  # doctest: +SKIP
"""

from __future__ import annotations

from torch import nn

__all__ = ["freeze", "unfreeze", "trainable_parameters", "parameter_groups"]


def _match(name: str, prefixes) -> bool:
    return not prefixes or any(name == p or name.startswith(p + ".") for p in prefixes)


def parameter_groups(module: nn.Module) -> list:
    """Names of the module's top-level children and their sub-layers (useful prefixes for :func:`freeze`)."""
    return sorted({n.rsplit(".", 1)[0] for n, _ in module.named_parameters()})


def freeze(module: nn.Module, *prefixes: str) -> int:
    """Stop gradients of the parameters whose names start with one of ``prefixes`` (all when none given).

    Parameters
    ----------
    module : torch.nn.Module
    *prefixes : str
        Dotted name prefixes, e.g. ``"net.body"``, ``"net.encoder"``.

    Returns
    -------
    int
        Number of scalar weights frozen.

    Raises
    ------
    ValueError
        A prefix matches no parameter (the message lists the available groups).
    """
    return _set(module, prefixes, False)


def unfreeze(module: nn.Module, *prefixes: str) -> int:
    """Re-enable gradients of the parameters matching ``prefixes`` (all when none given); returns the count."""
    return _set(module, prefixes, True)


def _set(module, prefixes, flag):
    names = dict(module.named_parameters())
    for p in prefixes:
        if not any(_match(n, (p,)) for n in names):
            raise ValueError(f"freeze/unfreeze: no parameter of {type(module).__name__} starts with {p!r}. "
                             f"Fix: use one of {parameter_groups(module)}")
    count = 0
    for n, par in names.items():
        if _match(n, prefixes):
            par.requires_grad_(flag)
            count += par.numel()
    return count


def trainable_parameters(module: nn.Module) -> int:
    """Number of scalar weights with ``requires_grad`` (what an optimiser would update)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
