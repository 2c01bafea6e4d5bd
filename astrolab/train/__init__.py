"""``astrolab.train``: the one training engine (PyTorch Lightning underneath).

- :func:`fit` trains a plain ``nn.Module`` (with ``loss(batch)`` or a ``loss_fn``)
  or a ``LightningModule``: device and precision chosen automatically, an
  atomic checkpoint per epoch, resume, early stopping, a progress bar, a live
  :class:`MetricsHistory` and a stop event;
- :func:`load_checkpoint` / :func:`save_checkpoint`: plain-dict checkpoints read
  with ``torch.load(weights_only=True)``.
"""

from astrolab.train.checkpoint import load_checkpoint, save_checkpoint
from astrolab.train.engine import EpochSeededSampler, FitResult, TaskModule, fit
from astrolab.train.history import MetricsHistory

__all__ = ["fit", "FitResult", "MetricsHistory", "TaskModule", "EpochSeededSampler", "load_checkpoint",
           "save_checkpoint"]
