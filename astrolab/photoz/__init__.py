"""Photometric redshifts: the ``PhotometricRedshift`` estimator and the template-fitting oracle."""

from __future__ import annotations

__all__ = ["PhotometricRedshift", "TemplateFitter"]


def __getattr__(name):
    if name == "PhotometricRedshift":
        from astrolab.photoz.estimator import PhotometricRedshift

        return PhotometricRedshift
    if name == "TemplateFitter":
        from astrolab.photoz.oracle import TemplateFitter

        return TemplateFitter
    raise AttributeError(name)
