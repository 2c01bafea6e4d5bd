"""Checkpoints as plain dicts, written atomically, loaded with ``weights_only=True``.

A checkpoint written by :func:`astrolab.train.fit` (``run_dir/checkpoints/``
``epoch=NNNN.pt``, ``last.pt``, ``best.pt``) is a :class:`dict` of tensors,
numbers, strings, lists and dicts only, so ``torch.load(path,
weights_only=True)`` reads it without running pickled code. Keys
(``format_version`` 1):

=====================  ==================================================================
``state_dict``         model weights (for a plain ``nn.Module`` trained through
                       :class:`astrolab.train.TaskModule`: the plain module's own)
``optimizer_states``   list of ``optimizer.state_dict()``
``scheduler_states``   list of ``lr_scheduler.state_dict()`` (empty without scheduler)
``precision_state``    mixed-precision plugin state (gradient scaler for ``16-mixed``)
``epoch``              number of *completed* epochs (1-based: ``epoch=0003.pt`` holds
                       the weights after the 3rd epoch); a resume starts the next one
``global_step``        optimizer steps taken so far
``config``             the JSON-able run ``config`` given to ``fit``
``fit_settings``       JSON-able settings of ``fit`` (lr, batch_size, seed, ...)
``history``            list of per-epoch metric rows (see ``MetricsHistory``)
``rng``                random-generator states (:func:`rng_state`) at the start of the
                       next epoch, for an exact resume
``monitor``, ``mode``  metric and direction of ``best.pt`` / early stopping
``best_value``,        best ``monitor`` value so far and its epoch
``best_epoch``
``stopped_early``      early stopping triggered
``elapsed_s``          training time so far [s], summed over resumed calls
``model_class``        ``module.QualName`` of the saved model
``astrolab_version``,  versions that wrote the file
``torch_version``,
``lightning_version``
``format_version``     layout version (this module reads <= :data:`FORMAT_VERSION`)
=====================  ==================================================================
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from astrolab.errors import CheckpointError, invalid
from astrolab.utils import atomic_path

__all__ = [
    "FORMAT_VERSION",
    "save_checkpoint",
    "load_checkpoint",
    "rng_state",
    "restore_rng_state",
    "json_config",
    "epoch_checkpoint_path",
    "list_epoch_checkpoints",
    "prune_epoch_checkpoints",
    "copy_checkpoint",
]

#: Version of the checkpoint layout written by this module.
FORMAT_VERSION = 1

_EPOCH_RE = re.compile(r"^epoch=(\d+)\.pt$")


def _ckpt_error(path, problem: str, fix: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {str(path)!r}: {problem}. Fix: {fix}.")


def _weights_target(model):
    """The module whose ``state_dict`` a checkpoint stores: a TaskModule's wrapped net, else ``model``."""
    from astrolab.train.engine import TaskModule  # local: engine imports this module

    return model.net if isinstance(model, TaskModule) else model


# ------------------------------------------------------------------------------------------ RNG


def rng_state() -> dict:
    """Snapshot of the global random generators in a ``weights_only``-safe form.

    Returns
    -------
    dict
        ``"python"``: ``[version, int64 tensor (625,), gauss]``;
        ``"numpy"``: ``[kind, int64 tensor (624,), pos, has_gauss, cached_gaussian]``;
        ``"torch"``: CPU generator state (uint8 tensor);
        ``"cuda"``: list of per-GPU states (only when CUDA is initialised).
    """
    import torch

    py = random.getstate()
    np_state = np.random.get_state()
    state = {
        "python": [py[0], torch.tensor(py[1], dtype=torch.int64), py[2]],
        "numpy": [np_state[0], torch.as_tensor(np_state[1].astype(np.int64)), int(np_state[2]), int(np_state[3]),
                  float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    return state


def restore_rng_state(state: Mapping) -> None:
    """Restore the generators saved by :func:`rng_state` (missing parts are left alone).

    Parameters
    ----------
    state : dict
        Output of :func:`rng_state`. CUDA states are restored only when as many
        GPUs are visible as were saved.
    """
    import torch

    if "python" in state:
        py = state["python"]
        internal = py[1].tolist() if hasattr(py[1], "tolist") else py[1]
        random.setstate((int(py[0]), tuple(int(v) for v in internal), py[2]))
    if "numpy" in state:
        npst = state["numpy"]
        keys = np.asarray(npst[1].cpu().numpy() if hasattr(npst[1], "cpu") else npst[1], dtype=np.uint32)
        np.random.set_state((npst[0], keys, int(npst[2]), int(npst[3]), float(npst[4])))
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])


# ------------------------------------------------------------------------------------- config


def json_config(config: Any, name: str = "fit(config=...)") -> dict:
    """Return ``config`` as a JSON round-tripped ``dict`` (``{}`` for None).

    Parameters
    ----------
    config : dict or None
        Run configuration: str/int/float/bool/None and lists/dicts of them.
    name : str
        Name used in the error message.

    Raises
    ------
    astrolab.errors.DataValidationError
        ``config`` is not a dict or not JSON-serialisable.
    """
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise invalid(name, f"must be a dict, got {type(config).__name__}", "pass a JSON-able dict (or None)")
    try:
        return json.loads(json.dumps(dict(config)))
    except (TypeError, ValueError) as exc:
        raise invalid(name, f"is not JSON-serialisable ({exc})",
                      "keep only str/int/float/bool/None values and lists/dicts of them") from None


# --------------------------------------------------------------------------------- save / load


def save_checkpoint(path, payload) -> Path:
    """Write a checkpoint atomically (temporary file, then rename).

    Parameters
    ----------
    path : path-like
        Destination ``.pt`` file; its folder is created if missing.
    payload : dict or torch.nn.Module
        The checkpoint dict (tensors and plain Python values only, so that it
        loads with ``weights_only=True``; see the module docstring for the
        keys :func:`astrolab.train.fit` writes). A module is saved as
        ``{"state_dict": module.state_dict(), "epoch": 0}``.
        ``format_version``, ``astrolab_version`` and ``epoch`` are added when
        missing.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import torch

    import astrolab

    if isinstance(payload, torch.nn.Module):
        target = _weights_target(payload)
        payload = {"state_dict": target.state_dict(), "model_class": _qualname(target)}
    if not isinstance(payload, Mapping):
        raise invalid("save_checkpoint(payload=...)", f"got {type(payload).__name__}",
                      "pass a dict (with a 'state_dict') or a torch.nn.Module")
    payload = dict(payload)
    payload.setdefault("format_version", FORMAT_VERSION)
    payload.setdefault("astrolab_version", astrolab.__version__)
    payload.setdefault("epoch", 0)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(path, model=None, map_location="cpu") -> dict:
    """Load a checkpoint with ``torch.load(weights_only=True)``.

    Parameters
    ----------
    path : path-like
        A file written by the engine or :func:`save_checkpoint`, or a run
        folder (then its ``checkpoints/last.pt``).
    model : torch.nn.Module, optional
        If given, its weights are replaced by the checkpoint's ``state_dict``
        (a :class:`~astrolab.train.TaskModule` loads into its wrapped module).
    map_location : str or torch.device
        Where tensors are placed (default ``"cpu"``).

    Returns
    -------
    dict
        The checkpoint (``state_dict``, ``epoch``, ``config``, ``history`` ...).

    Raises
    ------
    astrolab.errors.CheckpointError
        Missing, truncated, corrupt, non-astrolab or newer-format file, or
        weights that do not fit ``model``; the message names the path and the fix.
    """
    import torch

    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / "last.pt" if (path / "checkpoints").is_dir() else path / "last.pt"
    if not path.is_file():
        raise _ckpt_error(path, "file not found",
                          "check the path (checkpoints live in <run_dir>/checkpoints/), or train first with "
                          "astrolab.train.fit(..., run_dir=...)")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated zip, garbage bytes, disallowed globals, ...
        detail = (str(exc).strip().splitlines() or [""])[0][:200]
        raise _ckpt_error(path, f"cannot be read: the file is truncated, corrupt or holds objects that "
                                f"weights_only=True refuses ({type(exc).__name__}: {detail})",
                          "delete it and resume from an earlier epoch=NNNN.pt of the same run (copy it to "
                          "last.pt), or retrain with resume=False") from exc
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise _ckpt_error(path, "is not an astrolab checkpoint (a dict with a 'state_dict')",
                          "pass a file written by astrolab.train.fit or astrolab.train.save_checkpoint")
    if int(payload.get("format_version", 0)) > FORMAT_VERSION:
        raise _ckpt_error(path, f"format_version {payload['format_version']} is newer than this astrolab reads "
                                f"({FORMAT_VERSION})", "upgrade astrolab")
    if model is not None:
        target = _weights_target(model)
        try:
            target.load_state_dict(payload["state_dict"])
        except (RuntimeError, KeyError, ValueError) as exc:
            detail = (str(exc).strip().splitlines() or [""])[0][:300]
            raise _ckpt_error(path, f"its weights do not fit {type(target).__name__} ({detail})",
                              "build the model with the configuration stored in the checkpoint's 'config', or "
                              "start a fresh run (resume=False or another run_dir)") from exc
    return payload


# ------------------------------------------------------------------------------ files of a run


def _qualname(obj) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def epoch_checkpoint_path(folder, epoch: int) -> Path:
    """``folder / "epoch=NNNN.pt"`` for 1-based completed-epoch count ``epoch``."""
    return Path(folder) / f"epoch={int(epoch):04d}.pt"


def list_epoch_checkpoints(folder) -> list[tuple[int, Path]]:
    """``(epoch, path)`` of every ``epoch=NNNN.pt`` in ``folder``, sorted by epoch (numerically)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _EPOCH_RE.match(p.name))]
    return sorted(found)


def prune_epoch_checkpoints(folder, keep: int) -> list[Path]:
    """Delete all but the ``keep`` highest-epoch ``epoch=NNNN.pt`` files; return what was deleted."""
    files = list_epoch_checkpoints(folder)
    doomed = [p for _, p in files[: max(0, len(files) - max(0, int(keep)))]]
    for p in doomed:
        p.unlink(missing_ok=True)
    return doomed


def copy_checkpoint(src, dst) -> Path:
    """Make ``dst`` a copy of checkpoint ``src``, atomically (for ``last.pt`` / ``best.pt``).

    A hard link is used where the file system allows it (no bytes copied;
    files are never modified in place, so the names stay independent), else
    a byte copy.
    """
    with atomic_path(dst) as tmp:
        try:
            tmp.unlink()
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
    return Path(dst)
