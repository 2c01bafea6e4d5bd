"""Live per-epoch metrics that widgets can stream."""

from __future__ import annotations

import threading
from typing import Callable

__all__ = ["MetricsHistory"]


class MetricsHistory:
    """Per-epoch metrics of a training run, observable while it runs.

    Rows are dicts (epoch, train_loss, val_loss, other metrics, elapsed_s);
    :attr:`frame` gives them as a pandas DataFrame. Subscribers are called with
    each new row from the training thread.
    """

    def __init__(self, rows=None):
        self.rows: list[dict] = list(rows or [])
        self._subscribers: list[Callable[[dict], None]] = []
        self._lock = threading.Lock()

    def append(self, row: dict) -> None:
        """Add one epoch's row and notify subscribers (their errors are reported, not raised)."""
        with self._lock:
            self.rows.append(dict(row))
            subs = list(self._subscribers)
        for callback in subs:
            try:
                callback(dict(row))
            except Exception as exc:  # a broken widget must not kill training
                import warnings

                warnings.warn(f"MetricsHistory subscriber {callback!r} failed: {exc}", RuntimeWarning)

    def subscribe(self, callback: Callable[[dict], None]) -> Callable[[dict], None]:
        """Call ``callback(row)`` after every epoch; returns the callback (to unsubscribe)."""
        with self._lock:
            self._subscribers.append(callback)
        return callback

    def unsubscribe(self, callback) -> None:
        """Stop calling ``callback``."""
        with self._lock:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    @property
    def frame(self):
        """pandas DataFrame, one row per epoch."""
        import pandas as pd

        with self._lock:
            return pd.DataFrame(self.rows)

    def best(self, metric: str = "val_loss", mode: str = "min"):
        """Best row (dict) by ``metric`` (``mode`` "min" or "max"), or None when empty."""
        rows = [r for r in self.rows if r.get(metric) is not None]
        if not rows:
            return None
        key = (lambda r: r[metric]) if mode == "min" else (lambda r: -r[metric])
        return dict(min(rows, key=key))

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"MetricsHistory({len(self)} epochs)"
