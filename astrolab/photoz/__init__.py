"""Photometric redshifts: the ``PhotometricRedshift`` estimator and the template-fitting oracle."""

from __future__ import annotations

__all__ = ["PhotometricRedshift", "TemplateFitter", "PITRecalibrator", "GMMEnsemble", "degeneracy_class"]


def __getattr__(name):
    if name == "PhotometricRedshift":
        from astrolab.photoz.estimator import PhotometricRedshift

        return PhotometricRedshift
    if name == "TemplateFitter":
        from astrolab.photoz.oracle import TemplateFitter

        return TemplateFitter
    if name == "PITRecalibrator":
        from astrolab.photoz.recalibration import PITRecalibrator

        return PITRecalibrator
    if name in ("GMMEnsemble", "degeneracy_class"):
        from astrolab.photoz import images

        return getattr(images, name)
    raise AttributeError(name)
