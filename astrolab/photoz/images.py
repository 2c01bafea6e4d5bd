"""Image photo-z workflow helpers: preprocessing, training on the engine, GMM ensembles, degeneracy flags.

- :func:`scale_images` -- arcsinh scaling of cutouts in units of the pixel noise
  (masked pixels → 0), as in Mantis Shrimp / PICZL;
- :func:`colour_images` -- pairwise band differences of scaled images (PICZL's colour images);
- :func:`early_fusion_stack` -- resample several surveys to one grid and stack them (Mantis Shrimp early fusion);
- :func:`survey_images`, :func:`fusion_inputs`, :func:`fused_imageset` -- network inputs for early and late
  fusion of a multi-survey :class:`~astrolab.data.MultimodalSet` (Mantis Shrimp's nine bands by default,
  with line-of-sight E(B−V)), and the nine-band stack as an ImageSet for the panels;
- :func:`band_ablation` -- retrain (or re-evaluate) without some surveys and compare binned metrics vs redshift;
  :func:`ablation_result` does the comparison for PDFs made any other way (e.g. the oracle with fewer bands);
- :func:`train_redshift_network` -- one call of :func:`astrolab.train.fit` on arrays;
- :class:`GMMEnsemble` -- equal-weight mixture of several :class:`~astrolab.models.photoz_images.GMMRedshiftTask`;
- :func:`degeneracy_class` -- none/light/medium/strong from secondary PDF peaks (scipy ``find_peaks``).
"""

from __future__ import annotations

import numpy as np

from astrolab.errors import invalid

__all__ = ["scale_images", "colour_images", "early_fusion_stack", "train_redshift_network", "GMMEnsemble",
           "degeneracy_class", "DEGENERACY_LABELS", "flux_normalised_images", "magnitude_features",
           "MANTIS_SURVEYS", "MANTIS_BANDS", "survey_images", "fusion_inputs", "fused_imageset", "band_ablation",
           "ablation_result", "AblationResult"]

DEGENERACY_LABELS = ("none", "light", "medium", "strong")

#: Mantis Shrimp's surveys, blue to red (the order of the fused channels).
MANTIS_SURVEYS = ("galex", "panstarrs", "wise")
#: Mantis Shrimp's nine bands per survey (unWISE: W1 and W2 only).
MANTIS_BANDS = {"galex": ("fuv", "nuv"), "panstarrs": ("g", "r", "i", "z", "y"), "wise": ("w1", "w2")}


def scale_images(images, noise=None, softening: float = 3.0) -> np.ndarray:
    """Arcsinh-scaled images in units of the pixel noise: asinh(image / (softening · σ_pix)).

    Parameters
    ----------
    images : astrolab.data.ImageSet or ndarray (N, B, H, W)
        Cutouts (any linear flux unit).
    noise : array_like (B,), optional
        Per-band pixel σ in the image unit. Default: from the ImageSet's ``ivar``
        (median over unmasked pixels), else 1.4826 × MAD of each band's
        pixels (a robust sky-noise estimate).
    softening : float
        Linear-to-logarithmic transition in units of σ.

    Returns
    -------
    ndarray (N, B, H, W) float32
        Scaled images; masked and non-finite pixels are 0.
    """
    mask = None
    if hasattr(images, "images"):
        mask = images.mask
        if noise is None and images.ivar is not None:
            iv = np.where(mask, np.nan, images.ivar)
            noise = 1.0 / np.sqrt(np.nanmedian(iv, axis=(0, 2, 3)))
        images = images.images
    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 4:
        raise invalid("scale_images(images)", f"shape {x.shape}", "pass an ImageSet or an (N, B, H, W) array")
    bad = ~np.isfinite(x) if mask is None else (mask | ~np.isfinite(x))
    if noise is None:
        xx = np.where(bad, np.nan, x)
        med = np.nanmedian(xx, axis=(0, 2, 3), keepdims=True)
        noise = 1.4826 * np.nanmedian(np.abs(xx - med), axis=(0, 2, 3))
    sig = np.asarray(noise, np.float32).reshape(1, -1, 1, 1)
    out = np.arcsinh(np.where(bad, 0.0, x) / (softening * np.clip(sig, 1e-30, None)))
    return out.astype(np.float32)


def colour_images(scaled) -> np.ndarray:
    """Pairwise differences of scaled bands (PICZL colour images): B(B−1)/2 channels.

    Parameters
    ----------
    scaled : ndarray (N, B, H, W)
        Output of :func:`scale_images`.

    Returns
    -------
    ndarray (N, B(B−1)/2, H, W) float32, pairs (0,1), (0,2), ..., (B−2, B−1).
    """
    x = np.asarray(scaled, np.float32)
    b = x.shape[1]
    pairs = [(i, j) for i in range(b) for j in range(i + 1, b)]
    return np.stack([x[:, i] - x[:, j] for i, j in pairs], axis=1) if pairs else x[:, :0]


def early_fusion_stack(scaled_sets, size: int) -> np.ndarray:
    """Resample several surveys' scaled cutouts to ``size``×``size`` (bilinear) and stack the bands.

    Parameters
    ----------
    scaled_sets : sequence of ndarray (N, B_s, H_s, W_s)
        Per survey, scaled images (same objects, same order). The stamps
        should cover similar angular sizes.
    size : int
        Output side [pixels].

    Returns
    -------
    ndarray (N, ΣB_s, size, size) float32
    """
    import torch

    outs = []
    for x in scaled_sets:
        t = torch.as_tensor(np.asarray(x, np.float32))
        if t.shape[-1] != size or t.shape[-2] != size:
            t = torch.nn.functional.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
        outs.append(t.numpy())
    return np.concatenate(outs, axis=1)


def train_redshift_network(task, train_inputs, z_train, val_inputs=None, z_val=None, **fit_kwargs):
    """Train a redshift task module on arrays with :func:`astrolab.train.fit`.

    Parameters
    ----------
    task : torch.nn.Module
        A module with ``loss(batch)`` (e.g. :class:`~astrolab.models.photoz_images.BinnedRedshiftTask`).
    train_inputs : tuple of array_like
        Network inputs, each (N, ...).
    z_train : array_like (N,)
        Training redshifts (labels).
    val_inputs, z_val : optional
        Validation data (early stopping with ``patience``).
    **fit_kwargs
        Passed to :func:`astrolab.train.fit` (``max_epochs``, ``lr``, ``batch_size``,
        ``patience``, ``device``, ``seed``, ``progress``, ``run_dir`` ...).

    Returns
    -------
    astrolab.train.FitResult
        ``result.model`` is ``task``, moved to the CPU in evaluation mode.
    """
    import torch
    from torch.utils.data import TensorDataset

    from astrolab.train import fit

    def ds(inputs, z):
        if not isinstance(inputs, (tuple, list)):
            inputs = (inputs,)
        tens = [torch.as_tensor(np.asarray(x), dtype=torch.float32) for x in inputs]
        zt = torch.as_tensor(np.asarray(z, float), dtype=torch.float32)
        if any(len(t) != len(zt) for t in tens):
            raise invalid("train_redshift_network inputs", f"lengths {[len(t) for t in tens]} vs {len(zt)} redshifts",
                          "pass one row per labelled object in every input")
        return TensorDataset(*tens, zt)

    val = ds(val_inputs, z_val) if val_inputs is not None else None
    fit_kwargs.setdefault("progress", False)
    result = fit(task, ds(train_inputs, z_train), val, **fit_kwargs)
    result.model.to("cpu").eval()
    return result


class GMMEnsemble:
    """Equal-weight ensemble of Gaussian-mixture redshift models (PICZL).

    The ensemble PDF is the average of the members' mixtures (itself a
    mixture with the members' components, weights divided by the number of
    members).

    Parameters
    ----------
    members : sequence of GMMRedshiftTask
        Trained members (e.g. some with CRPS, some with NLL, different K and seeds).
    weights : array_like (M,), optional
        Member weights (default equal).
    """

    def __init__(self, members, weights=None):
        self.members = list(members)
        if not self.members:
            raise invalid("GMMEnsemble(members=...)", "is empty", "pass trained GMMRedshiftTask modules")
        w = np.ones(len(self.members)) if weights is None else np.asarray(weights, float)
        if w.shape != (len(self.members),) or np.any(w < 0) or w.sum() <= 0:
            raise invalid("GMMEnsemble(weights=...)", f"got {w}", "pass one non-negative weight per member")
        self.weights = w / w.sum()

    def predict_mixture(self, inputs, batch_size: int = 2048):
        """Concatenated mixtures: weights, means, sigmas, each (N, ΣK_m)."""
        ws, ms, ss = [], [], []
        for a, m in zip(self.weights, self.members):
            w, mu, s = m.predict_mixture(inputs, batch_size)
            ws.append(a * w)
            ms.append(mu)
            ss.append(s)
        return np.concatenate(ws, 1), np.concatenate(ms, 1), np.concatenate(ss, 1)

    def predict_pdf(self, inputs, z_grid, batch_size: int = 2048, ids=None):
        """Ensemble PDFs on ``z_grid`` (G,) as an :class:`astrolab.metrics.RedshiftPDF`."""
        from astrolab.metrics.pdf import RedshiftPDF

        w, m, s = self.predict_mixture(inputs, batch_size)
        return RedshiftPDF.from_gaussian_mixture(w, m, s, z_grid, ids=ids)


def degeneracy_class(pdf, prominence: float = 0.15):
    """Classify each PDF's multimodality from its secondary peaks.

    Peaks of the PDF scaled to a maximum of 1 are found with
    ``scipy.signal.find_peaks`` (prominence > ``prominence``). The class follows
    the height of the highest secondary peak relative to the main one:
    ``none`` (no secondary peak), ``light`` (< 1/3), ``medium`` (1/3–2/3),
    ``strong`` (≥ 2/3). (PICZL's exact thresholds were not retrieved; these are ours.)

    Parameters
    ----------
    pdf : astrolab.metrics.RedshiftPDF
    prominence : float
        Minimum peak prominence, in units of the PDF maximum.

    Returns
    -------
    labels : ndarray of str (N,)
        One of :data:`DEGENERACY_LABELS`.
    second_peak : ndarray (N,)
        Height of the highest secondary peak / main peak (0 when none).
    """
    from scipy.signal import find_peaks

    dens = np.asarray(pdf.pdf, float)
    second = np.zeros(len(dens))
    for i, row in enumerate(dens):
        top = row.max()
        if top <= 0:
            continue
        r = np.concatenate([[0.0], row / top, [0.0]])
        peaks, _ = find_peaks(r, prominence=prominence)
        if len(peaks) > 1:
            h = np.sort(r[peaks])[::-1]
            second[i] = h[1]
    labels = np.where(second == 0, "none", np.where(second < 1 / 3, "light", np.where(second < 2 / 3, "medium", "strong")))
    return labels, second


def flux_normalised_images(images, ref_band: int = 1, softening: float = 0.01) -> np.ndarray:
    """Cutouts divided by each object's total flux in ``ref_band``, then arcsinh-scaled.

    The result does not depend on the flux unit (nJy, nanomaggies, or any
    per-survey linear rescaling common to all bands), which lets a network
    trained on simulated cutouts run on real ones.

    Parameters
    ----------
    images : astrolab.data.ImageSet or ndarray (N, B, H, W)
    ref_band : int
        Band index of the normalising flux.
    softening : float
        asinh softening, as a fraction of the object's reference flux per pixel.

    Returns
    -------
    ndarray (N, B, H, W) float32; masked/non-finite pixels are 0.
    """
    mask = None
    if hasattr(images, "images"):
        mask, images = images.mask, images.images
    x = np.asarray(images, np.float64)
    bad = ~np.isfinite(x) if mask is None else (mask | ~np.isfinite(x))
    x = np.where(bad, 0.0, x)
    ref = np.clip(x[:, ref_band].sum(axis=(1, 2)), 1e-30, None)
    return np.arcsinh(x / (softening * ref[:, None, None, None])).astype(np.float32)


def magnitude_features(fluxes, zero_point: float = 31.4, floor: float = 1e-3) -> np.ndarray:
    """AB magnitudes and adjacent colours from fluxes: (N, B) -> (N, 2B − 1).

    Parameters
    ----------
    fluxes : array_like (N, B)
        Band fluxes (nJy with ``zero_point=31.4``; nanomaggies with 22.5). Fluxes
        below ``floor`` × the zero-point unit flux... are clipped at ``floor``.
    zero_point : float
        AB zero point of the flux unit [mag].
    floor : float
        Smallest flux used (same unit), so that non-detections give faint magnitudes.

    Returns
    -------
    ndarray (N, 2B − 1) float32: B magnitudes then B − 1 colours m_b − m_{b+1} [mag].
    """
    f = np.nan_to_num(np.asarray(fluxes, float), nan=floor)
    m = zero_point - 2.5 * np.log10(np.clip(f, floor, None))
    return np.concatenate([m, m[:, :-1] - m[:, 1:]], axis=1).astype(np.float32)


# ------------------------------------------------------------------------------------------------
# multi-survey fusion inputs (Mantis Shrimp)
# ------------------------------------------------------------------------------------------------
def _survey_set(mm, survey):
    name = f"images_{survey}"
    mods = getattr(mm, "modalities", None)
    if mods is None or name not in mods:
        raise invalid(f"multi-survey data (modality {name!r})", f"is missing; modalities are {mods}",
                      f"simulate with astrolab.sim.images.simulate_multisurvey(..., surveys=(..., {survey!r}))")
    ims = mm[name]
    if len(ims) != len(mm) or not np.array_equal(np.asarray(ims.ids), np.asarray(mm.ids)):
        raise invalid(f"MultimodalSet[{name!r}]", "does not hold one stamp per catalog row in catalog order",
                      "store missing objects as masked zero stamps (as simulate_multisurvey does)")
    return ims


def survey_images(mm, survey: str, bands=None, softening: float = 3.0) -> np.ndarray:
    """One survey's arcsinh-scaled stamps (:func:`scale_images`) restricted to some bands.

    Parameters
    ----------
    mm : astrolab.data.MultimodalSet
        With an ``images_<survey>`` modality holding every catalog object (missing
        ones masked, as :func:`astrolab.sim.images.simulate_multisurvey` stores them).
    survey : str
        Survey key (``"panstarrs"``, ``"galex"``, ``"wise"`` ...).
    bands : sequence of str, optional
        Band names to keep, in that order (default: :data:`MANTIS_BANDS` for
        the survey, else all of them).
    softening : float
        asinh softening in units of the pixel noise.

    Returns
    -------
    ndarray (N, B, H, W) float32
        Scaled images in units of the pixel noise; masked (missing) pixels are 0.
    """
    ims = _survey_set(mm, survey)
    bands = list(bands if bands is not None else MANTIS_BANDS.get(survey, ims.bands))
    unknown = [b for b in bands if b not in ims.bands]
    if unknown:
        raise invalid(f"survey_images({survey!r}, bands=...)", f"band(s) {unknown} are not in {ims.bands}",
                      f"pick bands among {ims.bands}")
    idx = [ims.bands.index(b) for b in bands]
    return scale_images(ims, softening=softening)[:, idx]


def _extra(mm, extra_columns):
    cols = list(extra_columns or ())
    missing = [c for c in cols if c not in mm.catalog.colnames]
    if missing:
        raise invalid(f"fusion_inputs(extra_columns={cols})", f"column(s) {missing} are not in the catalog",
                      "simulate with foreground_ebv='high_latitude' (column 'ebv_mw') or name existing columns")
    if not cols:
        return None
    out = np.column_stack([np.asarray(mm.catalog[c], float) for c in cols]).astype(np.float32)
    if not np.all(np.isfinite(out)):
        raise invalid(f"catalog columns {cols}", "hold NaN/inf", "fill or drop those rows before training")
    return out


def fusion_inputs(mm, fusion: str = "early", surveys=MANTIS_SURVEYS, bands=None, size: int | None = None,
                  extra_columns=("ebv_mw",), drop=(), drop_mode: str = "remove", softening: float = 3.0) -> tuple:
    """Network inputs of early or late multi-survey fusion (Mantis Shrimp), in the order the networks take them.

    Parameters
    ----------
    mm : astrolab.data.MultimodalSet
        One ``images_<survey>`` modality per survey (every object; missing ones
        masked zeros) and a catalog with ``extra_columns``.
    fusion : {"early", "late"}
        ``"early"``: every survey resampled to ``size``×``size`` (bilinear) and
        stacked for :class:`~astrolab.models.photoz_images.ImageZCNN`;
        ``"late"``: each survey on its own pixel grid, for
        :class:`~astrolab.models.photoz_images.LateFusionCNN`.
    surveys : sequence of str
        Surveys, in channel order (default blue to red: GALEX, PanSTARRS, unWISE).
    bands : dict of str -> sequence of str, optional
        Bands per survey (default :data:`MANTIS_BANDS`: FUV, NUV, grizy, W1, W2).
    size : int, optional
        Early-fusion side [pixels] (default: the largest stamp, i.e. the PanSTARRS grid).
    extra_columns : sequence of str
        Catalog columns appended to the head (default the Galactic E(B−V) ``ebv_mw`` [mag]).
    drop : sequence of str
        Surveys to leave out (band ablation).
    drop_mode : {"remove", "zero"}
        ``"remove"``: dropped surveys are absent (a network built for fewer
        channels/surveys, i.e. retrained); ``"zero"``: their images are zeros
        of the usual shape (as a missing survey is stored), for re-evaluating a
        network trained on every survey.
    softening : float
        asinh softening of :func:`scale_images`.

    Returns
    -------
    tuple of ndarray, N rows each
        ``"early"``: ``(images (N, ΣB, size, size), features (N, 0), extra (N, E))``
        (the empty feature block fills ImageZCNN's magnitude slot: Mantis
        Shrimp sees no catalogue photometry); ``"late"``: ``(images_1, ...,
        images_S, extra (N, E))``. Without ``extra_columns`` the last array is omitted.
    """
    if fusion not in ("early", "late"):
        raise invalid("fusion_inputs(fusion=...)", f"got {fusion!r}", "use 'early' or 'late'")
    if drop_mode not in ("remove", "zero"):
        raise invalid("fusion_inputs(drop_mode=...)", f"got {drop_mode!r}", "use 'remove' or 'zero'")
    surveys = [surveys] if isinstance(surveys, str) else list(surveys)
    drop = [drop] if isinstance(drop, str) else list(drop)
    unknown = [d for d in drop if d not in surveys]
    if unknown:
        raise invalid(f"fusion_inputs(drop={drop})", f"survey(s) {unknown} are not among {surveys}",
                      "drop surveys that are fused")
    keep = [sv for sv in surveys if not (drop_mode == "remove" and sv in drop)]
    if not keep:
        raise invalid(f"fusion_inputs(drop={drop})", "leaves no survey", "keep at least one survey")
    bands = dict(MANTIS_BANDS, **(bands or {}))
    sets = []
    for sv in keep:
        x = survey_images(mm, sv, bands.get(sv), softening)
        if sv in drop:
            x = np.zeros_like(x)
        sets.append(x)
    extra = _extra(mm, extra_columns)
    if fusion == "late":
        out = tuple(sets)
    else:
        side = int(size or max(x.shape[-1] for x in sets))
        out = (early_fusion_stack(sets, side), np.zeros((len(mm), 0), np.float32))
    return out + ((extra,) if extra is not None else ())


def fused_imageset(mm, surveys=MANTIS_SURVEYS, bands=None, size: int | None = None, softening: float = 3.0):
    """The early-fusion stack of every survey as one :class:`~astrolab.data.ImageSet` (for browsing).

    Parameters
    ----------
    mm : astrolab.data.MultimodalSet
        As for :func:`fusion_inputs`.
    surveys, bands, size, softening
        As for :func:`fusion_inputs`.

    Returns
    -------
    astrolab.data.ImageSet
        (N, ΣB, size, size) arcsinh-scaled stamps (units of each band's pixel
        noise; missing surveys 0 and masked), bands named ``"<survey>_<band>"``
        in the order of ``surveys``, pixel scale = the width [arcsec] of the survey
        with the most pixels (PanSTARRS) / size, ids of ``mm``.
    """
    from astrolab.data import ImageSet

    surveys = list(surveys)
    bands = dict(MANTIS_BANDS, **(bands or {}))
    x = fusion_inputs(mm, "early", surveys, bands, size, extra_columns=(), softening=softening)[0]
    names, masks = [], []
    for sv in surveys:
        ims = _survey_set(mm, sv)
        bl = list(bands.get(sv) or ims.bands)
        names += [f"{sv}_{b}" for b in bl]
        gone = ims.mask.reshape(len(ims), len(ims.bands), -1).all(axis=2)[:, [ims.bands.index(b) for b in bl]]
        masks.append(gone)
    mask = np.broadcast_to(np.concatenate(masks, axis=1)[:, :, None, None], x.shape)
    widest = max((_survey_set(mm, sv) for sv in surveys), key=lambda ims: ims.images.shape[-1])
    scale = widest.pixel_scale * widest.images.shape[-1] / x.shape[-1]
    return ImageSet(x, bands=names, pixel_scale=scale, mask=mask.copy(), ids=np.asarray(mm.ids), survey="+".join(surveys))


# ------------------------------------------------------------------------------------------------
# band ablation
# ------------------------------------------------------------------------------------------------
class AblationResult:
    """Binned photo-z metrics of a reference network and of variants without some surveys.

    Attributes
    ----------
    reference : str
        Name of the variant with every survey.
    variants : dict of str -> tuple of str
        Variant name -> dropped surveys (``()`` for the reference).
    mode : str
        How the variants were obtained: ``"retrain"`` or ``"zero"`` (see :func:`band_ablation`),
        or what :func:`ablation_result` was told (e.g. ``"oracle"``).
    pdfs : dict of str -> astrolab.metrics.RedshiftPDF
        Test-set PDFs of each variant.
    tables : dict of str -> pandas.DataFrame
        :func:`astrolab.metrics.binned_photoz_metrics` of the point estimate per
        variant, plus ``crps`` (mean CRPS / (1 + z) per bin, dimensionless).
    summary : pandas.DataFrame
        One row per variant: :func:`astrolab.metrics.photoz_summary`, ``crps``, ``pit_ks``.
    fit_results : dict of str -> astrolab.train.FitResult
        Training results of the variants trained here.
    tasks : dict of str -> torch.nn.Module
        The network behind each variant (the reference's for every variant in ``"zero"`` mode;
        empty for PDFs made otherwise).
    """

    def __init__(self, reference, variants, mode, pdfs, tables, summary, fit_results, tasks=None):
        self.reference, self.variants, self.mode = reference, variants, mode
        self.pdfs, self.tables, self.summary, self.fit_results = pdfs, tables, summary, fit_results
        self.tasks = dict(tasks or {})

    def degradation(self, metric: str = "nmad", relative: bool = False):
        """How much worse each variant is than the reference, per redshift bin.

        Parameters
        ----------
        metric : {"nmad", "outlier_rate", "bias", "rms", "crps"}
            Binned metric (``bias`` compares |bias|).
        relative : bool
            False: difference metric(variant) − metric(reference); True: ratio − 1.

        Returns
        -------
        pandas.DataFrame
            Columns ``z_lo``, ``z_hi``, ``n`` and one column per variant other than
            the reference (positive: removing those surveys hurts).
        """
        import pandas as pd

        ref = self.tables[self.reference]
        if metric not in ref.columns:
            raise invalid(f"AblationResult.degradation(metric={metric!r})", "is not a binned metric",
                          f"use one of {[c for c in ref.columns if c not in ('z_lo', 'z_hi', 'n')]}")
        f = (lambda v: np.abs(v)) if metric == "bias" else (lambda v: v)
        out = pd.DataFrame({"z_lo": ref["z_lo"], "z_hi": ref["z_hi"], "n": ref["n"]})
        base = f(np.asarray(ref[metric], float))
        for name, tab in self.tables.items():
            if name == self.reference:
                continue
            v = f(np.asarray(tab[metric], float))
            out[name] = v / base - 1.0 if relative else v - base
        return out

    def most_hurt_bin(self, variant: str, metric: str = "nmad", relative: bool = True) -> tuple:
        """``(z_lo, z_hi)`` of the redshift bin where removing ``variant``'s surveys hurts most."""
        d = self.degradation(metric, relative)
        if variant not in d.columns:
            raise invalid(f"AblationResult.most_hurt_bin({variant!r})", "is not a variant",
                          f"use one of {[c for c in d.columns if c not in ('z_lo', 'z_hi', 'n')]}")
        i = int(np.nanargmax(np.asarray(d[variant], float)))
        return float(d["z_lo"].iloc[i]), float(d["z_hi"].iloc[i])

    def __repr__(self):
        return (f"AblationResult(mode={self.mode!r}, reference={self.reference!r}, "
                f"variants={ {k: v for k, v in self.variants.items()} })")


def _check_bins(bins):
    edges = np.asarray(bins, float)
    if edges.ndim != 1 or edges.size < 2 or np.any(~np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
        raise invalid("ablation bins", f"{np.asarray(bins).tolist()} are not strictly increasing finite edges",
                      "pass redshift bin edges such as [0, 0.1, 0.2, 0.35, 0.6, 0.9, 1.6]")
    return edges


def ablation_result(pdfs: dict, z_true, bins, *, reference: str = "all surveys", variants: dict | None = None,
                    mode: str = "given", point: str = "mean", fit_results: dict | None = None,
                    tasks: dict | None = None) -> AblationResult:
    """Binned metrics of PDFs obtained with and without some surveys (any method: networks, the oracle).

    Parameters
    ----------
    pdfs : dict of str -> astrolab.metrics.RedshiftPDF
        Variant name -> PDFs of the same N test objects; must contain ``reference``.
    z_true : array_like (N,)
        True redshifts.
    bins : array_like (B + 1,)
        Redshift bin edges (objects outside are left out of the binned tables).
    reference : str
        The variant with every survey.
    variants : dict of str -> tuple of str, optional
        Dropped surveys of each variant (for the record).
    mode : str
        How the PDFs were made (``"retrain"``, ``"zero"``, ``"oracle"`` ...; for the record).
    point : {"mean", "median", "mode"}
        Point estimate (Mantis Shrimp: the mean, i.e. the PDF expectation).
    fit_results : dict, optional
        Training results to keep with the result.
    tasks : dict, optional
        Networks behind the variants, kept with the result.

    Returns
    -------
    AblationResult
    """
    import pandas as pd

    from astrolab.metrics import binned_photoz_metrics, photoz_summary
    from astrolab.metrics.pdf import RedshiftPDF, pit_ks

    edges = _check_bins(bins)
    if not isinstance(pdfs, dict) or reference not in pdfs or len(pdfs) < 2:
        raise invalid("ablation_result(pdfs=...)", f"needs the reference {reference!r} and at least one variant; got "
                      f"{list(pdfs) if isinstance(pdfs, dict) else type(pdfs).__name__}",
                      "pass {reference: pdf_all, 'no UV': pdf_without_galex, ...}")
    zt = np.asarray(z_true, float)
    for name, pdf in pdfs.items():
        if not isinstance(pdf, RedshiftPDF) or len(pdf) != zt.size:
            raise invalid(f"ablation_result pdfs[{name!r}]", f"is not a RedshiftPDF of {zt.size} objects",
                          "predict every variant on the same test objects as z_true")
    if not np.all(np.isfinite(zt)):
        raise invalid("ablation_result(z_true=...)", "holds NaN/inf", "pass the true redshift of every object")
    variants = dict(variants or {})
    variants.setdefault(reference, ())
    tables, rows = {}, {}
    pos = np.searchsorted(edges, zt, side="right") - 1
    pos[zt == edges[-1]] = edges.size - 2  # last bin closed, as in binned_photoz_metrics
    for name, pdf in pdfs.items():
        zp = np.asarray(pdf.point_estimate(point), float)
        tab = binned_photoz_metrics(zp, zt, bins=edges)
        crps = np.asarray(pdf.crps(zt), float) / (1 + zt)
        tab["crps"] = [float(np.mean(crps[pos == b])) if np.any(pos == b) else np.nan for b in range(len(tab))]
        tables[name] = tab
        row = photoz_summary(zp, zt)
        row.update(crps=float(np.mean(crps)), pit_ks=pit_ks(pdf.pit(zt)).statistic,
                   dropped=", ".join(variants.get(name, ())) or "-")
        rows[name] = row
    return AblationResult(reference, variants, mode, dict(pdfs), tables, pd.DataFrame(rows).T, dict(fit_results or {}),
                          tasks)


def band_ablation(make_task, make_inputs, z, train_idx, val_idx, test_idx, variants: dict, *, bins,
                  reference: str = "all surveys", trained: dict | None = None, mode: str = "retrain",
                  point: str = "mean", fit_kwargs: dict | None = None, seed: int = 0) -> AblationResult:
    """Band (survey) ablation of a network: how much each survey helps, as a function of redshift.

    For ``mode="retrain"`` (the honest measure of the information a survey
    adds to this kind of network) every variant is a *new* network trained
    without its dropped surveys, on the same objects, epochs and seed; for
    ``mode="zero"`` the reference network is re-evaluated with the dropped
    surveys' images set to zero -- a measure of how much that network *uses*
    each survey, meaningful only for a network trained with survey dropout
    (e.g. ``LateFusionCNN(survey_dropout=...)``); otherwise it measures the
    damage done by an input never seen in training. Metrics are binned in true
    redshift by :func:`ablation_result`.

    Parameters
    ----------
    make_task : callable or None
        ``make_task(dropped: tuple of str) -> task``: a fresh, untrained
        :class:`~astrolab.models.photoz_images.BinnedRedshiftTask` (or any task
        with ``loss`` and ``predict_pdf``) for inputs without those surveys.
        Not needed with ``mode="zero"``.
    make_inputs : callable
        ``make_inputs(dropped: tuple of str) -> tuple of arrays`` over all N
        objects (e.g. ``lambda d: fusion_inputs(mm, "early", drop=d)``; with
        ``mode="zero"`` use ``drop_mode="zero"``).
    z : array_like (N,)
        True redshifts.
    train_idx, val_idx, test_idx : array_like of int
        Disjoint row indices of the training, validation (early stopping) and test sets.
    variants : dict of str -> sequence of str
        Variant name -> surveys to drop, e.g. ``{"no UV (GALEX)": ("galex",)}``;
        the reference (nothing dropped) is added under ``reference``.
    bins : array_like (B + 1,)
        Redshift bin edges of the binned metrics.
    reference : str
        Name of the all-survey variant.
    trained : dict of str -> task, optional
        Variants already trained (e.g. ``{reference: early_fusion_task}``): not retrained.
    mode : {"retrain", "zero"}
        See above.
    point : {"mean", "median", "mode"}
        Point estimate of the PDFs (Mantis Shrimp: the mean, i.e. the PDF expectation).
    fit_kwargs : dict, optional
        Passed to :func:`train_redshift_network` (``max_epochs``, ``lr``, ``batch_size``,
        ``patience``, ``device``, ``scheduler`` ...).
    seed : int
        Training seed (the same for every variant).

    Returns
    -------
    AblationResult
        Test-set PDFs, binned tables (with CRPS), summary and
        :meth:`~AblationResult.degradation` per variant; ``fit_results`` of the
        networks trained here.
    """
    from astrolab import config

    if mode not in ("retrain", "zero"):
        raise invalid("band_ablation(mode=...)", f"got {mode!r}", "use 'retrain' or 'zero'")
    if not isinstance(variants, dict) or not variants:
        raise invalid("band_ablation(variants=...)", "is empty or not a dict",
                      "pass {name: surveys to drop}, e.g. {'no UV': ('galex',)}")
    if reference in variants:
        raise invalid(f"band_ablation(variants) key {reference!r}", "is the reference's name",
                      "leave the all-survey variant out (it is added) or rename it")
    _check_bins(bins)
    z = np.asarray(z, float)
    if z.ndim != 1 or not np.all(np.isfinite(z)):
        raise invalid("band_ablation(z=...)", "is not a 1-D array of finite redshifts",
                      "pass the true redshift of every object")
    idx = {}
    for name, ix in (("train_idx", train_idx), ("val_idx", val_idx), ("test_idx", test_idx)):
        a = np.asarray(ix)
        if a.ndim != 1 or a.size == 0 or a.dtype.kind not in "iu" or a.min() < 0 or a.max() >= z.size:
            raise invalid(f"band_ablation({name}=...)", f"is not a non-empty 1-D array of row indices < {z.size}",
                          "pass integer row indices of the objects")
        idx[name] = a
    tr, va, te = idx["train_idx"], idx["val_idx"], idx["test_idx"]
    if np.intersect1d(tr, te).size or np.intersect1d(va, te).size or np.intersect1d(tr, va).size:
        raise invalid("band_ablation(train_idx, val_idx, test_idx)", "overlap", "pass disjoint splits")
    all_variants = {reference: ()}
    all_variants.update({str(k): tuple([v] if isinstance(v, str) else v) for k, v in variants.items()})
    trained = dict(trained or {})
    if mode == "zero" and reference not in trained:
        raise invalid("band_ablation(mode='zero')", "needs the trained reference network",
                      f"pass trained={{{reference!r}: task}} (trained on every survey, with survey dropout)")
    if mode == "retrain" and make_task is None and any(n not in trained for n in all_variants):
        raise invalid("band_ablation(make_task=None)", "cannot retrain the variants", "pass make_task(dropped)")
    fit_kwargs = dict(fit_kwargs or {})
    pdfs, results, tasks = {}, {}, {}
    for name, dropped in all_variants.items():
        inputs = make_inputs(dropped)
        if not isinstance(inputs, (tuple, list)):
            inputs = (inputs,)
        if any(len(x) != z.size for x in inputs):
            raise invalid(f"band_ablation make_inputs({dropped})", f"returned {[len(x) for x in inputs]} rows for "
                          f"{z.size} redshifts", "return arrays over every object, in the order of z")
        if name in trained:
            task = trained[name]
        elif mode == "zero":
            task = trained[reference]
        else:
            config.seed_everything(seed)
            task = make_task(dropped)
            results[name] = train_redshift_network(task, tuple(x[tr] for x in inputs), z[tr],
                                                   tuple(x[va] for x in inputs), z[va], seed=seed, **fit_kwargs)
        pdfs[name] = task.predict_pdf(tuple(x[te] for x in inputs))
        tasks[name] = task
    return ablation_result(pdfs, z[te], bins, reference=reference, variants=all_variants, mode=mode, point=point,
                           fit_results=results, tasks=tasks)
