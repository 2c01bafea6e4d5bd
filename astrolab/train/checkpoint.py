"""Checkpoints as plain dicts, written atomically, loaded with ``weights_only=True``."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from astrolab.errors import CheckpointError
from astrolab.utils import atomic_path

__all__ = ["save_checkpoint", "load_checkpoint", "rng_state", "restore_rng_state", "FORMAT_VERSION"]

FORMAT_VERSION = 1


def rng_state() -> dict:
    """Python, NumPy and torch RNG states as tensors/lists (weights_only-safe)."""
    import torch

    py = random.getstate()
    np_state = np.random.get_state()
    state = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [np_state[0], torch.as_tensor(np_state[1].astype(np.int64)), int(np_state[2]), int(np_state[3]),
                  float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Restore the states saved by :func:`rng_state`."""
    import torch

    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    npst = state["numpy"]
    np.random.set_state((npst[0], np.asarray(npst[1], dtype=np.uint32), npst[2], npst[3], npst[4]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path, payload: dict) -> Path:
    """Write ``payload`` (tensors and plain Python values only) to ``path`` atomically."""
    import torch

    import astrolab

    payload = dict(payload)
    payload.setdefault("format_version", FORMAT_VERSION)
    payload.setdefault("astrolab_version", astrolab.__version__)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(path, model=None, map_location="cpu") -> dict:
    """Load a checkpoint with ``torch.load(weights_only=True)``.

    Parameters
    ----------
    path : path
        A file written by the engine or :func:`save_checkpoint`.
    model : torch.nn.Module, optional
        If given, its ``state_dict`` is loaded from the checkpoint's ``state_dict``.

    Returns
    -------
    dict
        The checkpoint (``state_dict``, ``epoch``, ``config``, ``history`` ...).

    Raises
    ------
    CheckpointError
        Missing, corrupt, truncated or newer-format file (the message names the path and the fix).
    """
    import torch

    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path}: file not found. Fix: check the run folder or train first.")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"checkpoint {path}: cannot be read ({type(exc).__name__}). Fix: the file is corrupt "
                              "or truncated; delete it and resume from an earlier checkpoint or retrain.") from exc
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise CheckpointError(f"checkpoint {path}: not an astrolab checkpoint. Fix: pass a file the engine wrote.")
    if int(payload.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path}: format {payload['format_version']} is newer than this astrolab "
                              f"reads ({FORMAT_VERSION}). Fix: upgrade astrolab.")
    if model is not None:
        try:
            model.load_state_dict(payload["state_dict"])
        except RuntimeError as exc:
            raise CheckpointError(f"checkpoint {path}: weights do not fit the model ({exc}). Fix: build the model "
                                  "with the configuration stored in the checkpoint's 'config'.") from exc
    return payload
