"""Run-time configuration: folders, device, seeds and FAST mode.

Environment variables
---------------------
``ASTROLAB_DATA``
    Folder of bundled data (default: the repository's ``data/`` folder).
``ASTROLAB_CACHE``
    Cache folder for downloads and computed artefacts (default: the user's
    cache folder, e.g. ``~/.cache/astrolab``).
``ASTROLAB_FAST``
    ``1`` selects FAST mode: small sizes and few epochs so that every notebook
    runs in minutes on 2 CPU cores. Notebooks and the CLI honour it.
``ASTROLAB_DEVICE``
    Force a torch device (``cpu``, ``cuda``, ``cuda:1``).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

__all__ = [
    "package_dir",
    "data_dir",
    "cache_dir",
    "notebooks_dir",
    "device",
    "seed_everything",
    "is_fast",
    "fast_or_full",
]

_PACKAGE_DIR = Path(__file__).resolve().parent


def package_dir() -> Path:
    """Folder of the installed ``astrolab`` package."""
    return _PACKAGE_DIR


def _repo_dir() -> Path:
    return _PACKAGE_DIR.parent


def data_dir() -> Path:
    """Folder of bundled data files (``ASTROLAB_DATA`` or the repository's ``data/``)."""
    env = os.environ.get("ASTROLAB_DATA")
    return Path(env).expanduser() if env else _repo_dir() / "data"


def notebooks_dir() -> Path:
    """Folder of the paper notebooks (``ASTROLAB_NOTEBOOKS`` or the repository's ``notebooks/``)."""
    env = os.environ.get("ASTROLAB_NOTEBOOKS")
    return Path(env).expanduser() if env else _repo_dir() / "notebooks"


def cache_dir() -> Path:
    """Cache folder, created on first use.

    ``ASTROLAB_CACHE`` wins; otherwise ``$XDG_CACHE_HOME/astrolab`` or
    ``~/.cache/astrolab``.
    """
    env = os.environ.get("ASTROLAB_CACHE")
    if env:
        path = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = Path(base) / "astrolab"
    path.mkdir(parents=True, exist_ok=True)
    return path


def device(prefer: str | None = None):
    """Return the torch device to use: CUDA when present, else CPU.

    Parameters
    ----------
    prefer : str, optional
        ``"auto"`` / ``None`` (default) picks CUDA when available; any other
        string (``"cpu"``, ``"cuda:0"``) is used as given. ``ASTROLAB_DEVICE``
        overrides the automatic choice.

    Returns
    -------
    torch.device
    """
    import torch

    choice = prefer if prefer not in (None, "auto") else os.environ.get("ASTROLAB_DEVICE")
    if choice:
        return torch.device(choice)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int = 0) -> int:
    """Seed Python's, NumPy's and torch's random generators (all devices).

    Parameters
    ----------
    seed : int
        The seed.

    Returns
    -------
    int
        The seed, for logging.
    """
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % (2**32))
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return seed
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return seed


def is_fast() -> bool:
    """True when FAST mode is on (``ASTROLAB_FAST`` set to 1/true/yes)."""
    return os.environ.get("ASTROLAB_FAST", "").strip().lower() in {"1", "true", "yes", "on"}


def fast_or_full(fast, full):
    """Return ``fast`` in FAST mode, else ``full`` (for sizes and epochs in notebooks)."""
    return fast if is_fast() else full
