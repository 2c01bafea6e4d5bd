"""Torch modules (no data loading, no training loop, no plotting).

Import the submodules directly, e.g. ``from astrolab.models.photoz import PhotoZMLP``.
"""

__all__ = ["photoz", "set_embedding", "sequence", "perceiver", "clip", "diffusion"]
