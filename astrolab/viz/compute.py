"""Pure NumPy/astropy computations behind the interactive views.

Nothing here imports a widget or a plotting library (datashader is imported
inside :func:`rasterize_points` only). Each function is small, documented and
tested in ``tests/test_viz.py``; the panels in :mod:`astrolab.widgets` call them
instead of re-implementing science.

Contents
--------
- image stretches and RGB composites (:func:`stretch_image`, :func:`rgb_image`) via
  :mod:`astropy.visualization`;
- spectrum smoothing (:func:`smooth_spectrum`);
- time-series helpers (:func:`phase_fold`, :func:`lomb_scargle`) via :mod:`astropy.timeseries`;
- 2-D embeddings (:func:`embed`): PCA (scikit-learn) or UMAP (umap-learn), cached by a
  hash of the input;
- geometry of selections (:func:`points_in_box`, :func:`points_in_polygon`, :func:`nearest_point`);
- server-side rasterisation (:func:`rasterize_points`) with datashader.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

import numpy as np

from astrolab.errors import invalid

__all__ = [
    "STRETCHES",
    "stretch_image",
    "rgb_image",
    "smooth_spectrum",
    "phase_fold",
    "lomb_scargle",
    "embed",
    "clear_embedding_cache",
    "array_hash",
    "points_in_box",
    "points_in_polygon",
    "nearest_point",
    "rasterize_points",
    "finite_xy",
]

STRETCHES = ("linear", "asinh", "zscale")


# --------------------------------------------------------------------------- images
def stretch_image(image: Any, stretch: str = "asinh", percentile: float = 99.5,
                  asinh_a: float = 0.1) -> np.ndarray:
    """Map an image to [0, 1] with an astropy stretch.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Pixel values (any unit, e.g. nanomaggies). NaNs are kept as NaN.
    stretch : {"linear", "asinh", "zscale"}
        ``linear``: percentile interval, linear; ``asinh``: percentile interval then
        :class:`astropy.visualization.AsinhStretch`; ``zscale``: IRAF zscale interval, linear.
    percentile : float
        Percentile of pixels kept by the interval (``linear`` and ``asinh``).
    asinh_a : float
        Softening parameter of the asinh stretch.

    Returns
    -------
    numpy.ndarray, shape (H, W), float64 in [0, 1]
    """
    from astropy.visualization import (AsinhStretch, ImageNormalize, LinearStretch,
                                       PercentileInterval, ZScaleInterval)

    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise invalid("stretch_image.image", f"shape {img.shape} is not (H, W)", "pass one band at a time")
    if stretch not in STRETCHES:
        raise invalid("stretch_image.stretch", f"unknown stretch {stretch!r}", f"use one of {STRETCHES}")
    finite = np.isfinite(img)
    if not finite.any():
        return np.full(img.shape, np.nan)
    data = np.where(finite, img, np.nanmedian(img[finite]))
    if stretch == "zscale":
        interval, st = ZScaleInterval(), LinearStretch()
    elif stretch == "asinh":
        interval, st = PercentileInterval(percentile), AsinhStretch(a=asinh_a)
    else:
        interval, st = PercentileInterval(percentile), LinearStretch()
    vmin, vmax = interval.get_limits(data)
    if not vmax > vmin:
        vmax = vmin + 1.0
    norm = ImageNormalize(vmin=vmin, vmax=vmax, stretch=st, clip=True)
    out = np.asarray(norm(data), dtype=np.float64)
    out[~finite] = np.nan
    return out


def rgb_image(images: Any, stretch: str = "asinh", percentile: float = 99.5) -> np.ndarray:
    """RGB composite of three bands (reddest first) with a common stretch.

    Parameters
    ----------
    images : array_like, shape (3, H, W)
        Red, green and blue band images (e.g. i, r, g), same unit.
    stretch : {"linear", "asinh", "zscale"}
        Stretch applied with one set of limits for all three bands (so colours are
        preserved).
    percentile : float
        Percentile interval (``linear``/``asinh``).

    Returns
    -------
    numpy.ndarray, shape (H, W, 3), uint8
    """
    from astropy.visualization import (AsinhStretch, ImageNormalize, LinearStretch,
                                       PercentileInterval, ZScaleInterval)

    cube = np.asarray(images, dtype=np.float64)
    if cube.ndim != 3 or cube.shape[0] != 3:
        raise invalid("rgb_image.images", f"shape {cube.shape} is not (3, H, W)", "pass three bands, reddest first")
    if stretch not in STRETCHES:
        raise invalid("rgb_image.stretch", f"unknown stretch {stretch!r}", f"use one of {STRETCHES}")
    finite = np.isfinite(cube)
    if not finite.any():
        return np.zeros(cube.shape[1:] + (3,), dtype=np.uint8)
    data = np.where(finite, cube, 0.0)
    if stretch == "zscale":
        interval, st = ZScaleInterval(), LinearStretch()
    elif stretch == "asinh":
        interval, st = PercentileInterval(percentile), AsinhStretch(a=0.1)
    else:
        interval, st = PercentileInterval(percentile), LinearStretch()
    vmin, vmax = interval.get_limits(data.ravel())
    if not vmax > vmin:
        vmax = vmin + 1.0
    norm = ImageNormalize(vmin=vmin, vmax=vmax, stretch=st, clip=True)
    scaled = np.asarray(norm(data))
    return np.clip(np.round(np.moveaxis(scaled, 0, -1) * 255), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------ spectra
def smooth_spectrum(flux: Any, ivar: Any = None, width: float = 0.0) -> np.ndarray:
    """Inverse-variance weighted Gaussian smoothing of a spectrum.

    Parameters
    ----------
    flux : array_like, shape (L,)
        Flux density (any unit, e.g. 1e-17 erg/s/cm^2/Å).
    ivar : array_like, shape (L,), optional
        Inverse variance of ``flux`` (unit^-2); pixels with ``ivar == 0`` or non-finite
        flux get no weight. Uniform weights when omitted.
    width : float
        Gaussian sigma in pixels; ``0`` returns the (masked) input.

    Returns
    -------
    numpy.ndarray, shape (L,)
        Smoothed flux; NaN where no pixel contributes.
    """
    f = np.asarray(flux, dtype=np.float64)
    w = np.ones_like(f) if ivar is None else np.asarray(ivar, dtype=np.float64).copy()
    if w.shape != f.shape:
        raise invalid("smooth_spectrum.ivar", f"shape {w.shape} differs from flux {f.shape}", "pass one ivar per pixel")
    good = np.isfinite(f) & np.isfinite(w) & (w > 0)
    w = np.where(good, w, 0.0)
    fz = np.where(good, f, 0.0)
    if width <= 0:
        return np.where(good, f, np.nan)
    half = max(1, int(np.ceil(4 * width)))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / width) ** 2)
    num = np.convolve(fz * w, k, mode="same")
    den = np.convolve(w, k, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[den <= 0] = np.nan
    return out


# -------------------------------------------------------------------- time series
def phase_fold(t: Any, period: float, t0: float | None = None) -> np.ndarray:
    """Phase of each epoch for a trial period.

    Parameters
    ----------
    t : array_like, shape (M,)
        Times (days, e.g. MJD).
    period : float
        Period (days), > 0.
    t0 : float, optional
        Reference epoch (days) of phase 0; default the first (smallest) time.

    Returns
    -------
    numpy.ndarray, shape (M,)
        Phase in [0, 1).
    """
    t = np.asarray(t, dtype=np.float64)
    if not np.isfinite(period) or period <= 0:
        raise invalid("phase_fold.period", f"period {period!r} is not positive", "pass a period in days > 0")
    if t.size == 0:
        return t.copy()
    ref = np.nanmin(t) if t0 is None else float(t0)
    return np.mod(t - ref, period) / period


def lomb_scargle(t: Any, y: Any, dy: Any = None, bands: Any = None, min_period: float | None = None,
                 max_period: float | None = None, n_freq: int = 2000):
    """Lomb-Scargle periodogram (single- or multi-band) with astropy.

    Parameters
    ----------
    t : array_like, shape (M,)
        Times (days).
    y : array_like, shape (M,)
        Fluxes or magnitudes.
    dy : array_like, shape (M,), optional
        1-sigma errors of ``y``.
    bands : array_like of str, shape (M,), optional
        Band of each point; with several bands,
        :class:`astropy.timeseries.LombScargleMultiband` is used.
    min_period, max_period : float, optional
        Period range (days); defaults: 2x the median sampling interval (at least
        0.05 d) and half the time span.
    n_freq : int
        Number of frequencies (uniform in frequency).

    Returns
    -------
    frequency : numpy.ndarray, shape (n_freq,)
        Frequencies (1/day).
    power : numpy.ndarray, shape (n_freq,)
        Normalised periodogram power.
    best_period : float
        Period (days) of the highest peak.
    """
    from astropy.timeseries import LombScargle

    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    good = np.isfinite(t) & np.isfinite(y)
    if dy is not None:
        dy = np.asarray(dy, dtype=np.float64)
        good &= np.isfinite(dy) & (dy > 0)
    if good.sum() < 5:
        raise invalid("lomb_scargle", f"only {int(good.sum())} finite points", "pass a light curve with >= 5 points")
    t, y = t[good], y[good]
    dy = dy[good] if dy is not None else None
    span = t.max() - t.min()
    if span <= 0:
        raise invalid("lomb_scargle.t", "all points have the same time", "pass a light curve spanning some time")
    dt = np.median(np.diff(np.sort(t))) if t.size > 1 else span
    pmin = float(min_period) if min_period else max(2 * dt, 0.05)
    pmax = float(max_period) if max_period else max(span / 2, 2 * pmin)
    freq = np.linspace(1.0 / pmax, 1.0 / pmin, int(n_freq))
    if bands is not None:
        b = np.asarray(bands).astype(str)[good]
        if np.unique(b).size > 1:
            from astropy.timeseries import LombScargleMultiband

            power = LombScargleMultiband(t, y, b, dy).power(freq)
            power = np.asarray(power, dtype=np.float64)
            return freq, power, float(1.0 / freq[int(np.nanargmax(power))])
    power = np.asarray(LombScargle(t, y, dy).power(freq), dtype=np.float64)
    return freq, power, float(1.0 / freq[int(np.nanargmax(power))])


# ---------------------------------------------------------------------- embeddings
_EMBED_CACHE: "OrderedDict[str, np.ndarray]" = OrderedDict()
_EMBED_CACHE_SIZE = 8


def array_hash(a: Any, *extra: Any) -> str:
    """Hex digest (blake2b, 16 bytes) of an array's dtype, shape and bytes plus ``extra`` values."""
    arr = np.ascontiguousarray(np.asarray(a))
    h = hashlib.blake2b(digest_size=16)
    h.update(str(arr.dtype).encode())
    h.update(str(arr.shape).encode())
    h.update(memoryview(arr).cast("B"))
    for e in extra:
        h.update(repr(e).encode())
    return h.hexdigest()


def clear_embedding_cache() -> None:
    """Forget every cached embedding (in memory)."""
    _EMBED_CACHE.clear()


def embed(latents: Any, method: str = "pca", n_components: int = 2, random_state: int = 0,
          cache: bool = True, **kwargs) -> np.ndarray:
    """2-D (or n-D) embedding of latent vectors, cached by a hash of the input.

    Parameters
    ----------
    latents : array_like, shape (N, D)
        Latent vectors (dimensionless). Rows with non-finite values are embedded
        as NaN.
    method : {"pca", "umap"}
        ``pca``: :class:`sklearn.decomposition.PCA`; ``umap``: :class:`umap.UMAP`
        (fit on at most ``max_fit`` rows, default 50 000, then ``transform``).
    n_components : int
        Output dimension.
    random_state : int
        Seed.
    cache : bool
        Reuse the result of an identical call (same bytes, method and arguments).
    **kwargs
        Passed to the estimator (e.g. ``n_neighbors`` for UMAP); ``max_fit``.

    Returns
    -------
    numpy.ndarray, shape (N, n_components), float32
    """
    x = np.asarray(latents, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise invalid("embed.latents", f"shape {x.shape} is not (N, D) with N > 0", "pass one latent vector per row")
    method = str(method).lower()
    if method not in ("pca", "umap"):
        raise invalid("embed.method", f"unknown method {method!r}", "use 'pca' or 'umap'")
    key = array_hash(x, method, n_components, random_state, sorted(kwargs.items()))
    if cache and key in _EMBED_CACHE:
        _EMBED_CACHE.move_to_end(key)
        return _EMBED_CACHE[key]
    good = np.all(np.isfinite(x), axis=1)
    out = np.full((x.shape[0], n_components), np.nan, dtype=np.float32)
    xg = x[good]
    if xg.shape[0] == 0:
        raise invalid("embed.latents", "no row is finite", "remove NaN/inf latents")
    if x.shape[1] <= n_components:
        out[good, : x.shape[1]] = xg
        out[good, x.shape[1]:] = 0.0
    elif method == "pca":
        from sklearn.decomposition import PCA

        out[good] = PCA(n_components=n_components, random_state=random_state).fit_transform(xg)
    else:
        import umap

        max_fit = int(kwargs.pop("max_fit", 50_000))
        reducer = umap.UMAP(n_components=n_components, random_state=random_state, **kwargs)
        if xg.shape[0] > max_fit:
            rng = np.random.default_rng(random_state)
            idx = rng.choice(xg.shape[0], max_fit, replace=False)
            reducer.fit(xg[idx])
            out[good] = reducer.transform(xg)
        else:
            out[good] = reducer.fit_transform(xg)
    out.flags.writeable = False
    if cache:
        _EMBED_CACHE[key] = out
        while len(_EMBED_CACHE) > _EMBED_CACHE_SIZE:
            _EMBED_CACHE.popitem(last=False)
    return out


# ------------------------------------------------------------------- selections
def finite_xy(x: Any, y: Any) -> np.ndarray:
    """Boolean mask, shape (N,), of points whose two coordinates are finite."""
    return np.isfinite(np.asarray(x, dtype=np.float64)) & np.isfinite(np.asarray(y, dtype=np.float64))


def points_in_box(x: Any, y: Any, x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    """Indices (int64, sorted) of points inside an axis-aligned box (edges included).

    Parameters
    ----------
    x, y : array_like, shape (N,)
        Point coordinates (data units). NaN points are never inside.
    x0, x1, y0, y1 : float
        Box edges in data units (order of each pair does not matter).

    Returns
    -------
    numpy.ndarray, shape (K,)
    """
    x = np.asarray(x)
    y = np.asarray(y)
    xa, xb = sorted((float(x0), float(x1)))
    ya, yb = sorted((float(y0), float(y1)))
    m = (x >= xa) & (x <= xb) & (y >= ya) & (y <= yb)
    return np.flatnonzero(m)


def points_in_polygon(x: Any, y: Any, xs: Any, ys: Any) -> np.ndarray:
    """Indices (int64, sorted) of points inside a polygon (lasso), shape (K,).

    Parameters
    ----------
    x, y : array_like, shape (N,)
        Point coordinates (data units).
    xs, ys : array_like, shape (V,)
        Polygon vertices (data units), V >= 3; closed automatically.
    """
    from matplotlib.path import Path

    xs = np.asarray(xs, dtype=np.float64)
    ys = np.asarray(ys, dtype=np.float64)
    if xs.size < 3:
        return np.empty(0, dtype=np.int64)
    cand = points_in_box(x, y, xs.min(), xs.max(), ys.min(), ys.max())
    if cand.size == 0:
        return cand
    pts = np.column_stack([np.asarray(x)[cand], np.asarray(y)[cand]])
    inside = Path(np.column_stack([xs, ys])).contains_points(pts)
    return cand[inside]


def nearest_point(x: Any, y: Any, px: float, py: float, x_scale: float = 1.0, y_scale: float = 1.0,
                  max_distance: float = np.inf) -> int | None:
    """Index of the point nearest to ``(px, py)``, or ``None``.

    Parameters
    ----------
    x, y : array_like, shape (N,)
        Point coordinates (data units).
    px, py : float
        Query position (data units).
    x_scale, y_scale : float
        Data units per unit distance along each axis (e.g. data units per screen
        pixel), so that distance is isotropic on screen.
    max_distance : float
        Largest accepted distance in scaled units.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size == 0:
        return None
    d2 = ((x - px) / x_scale) ** 2 + ((y - py) / y_scale) ** 2
    d2 = np.where(np.isfinite(d2), d2, np.inf)
    i = int(np.argmin(d2))
    if not np.isfinite(d2[i]) or d2[i] > max_distance ** 2:
        return None
    return i


# -------------------------------------------------------------------- rasterising
def rasterize_points(data: Any, x: str = "x", y: str = "y", x_range=None, y_range=None,
                     width: int = 600, height: int = 450, color_by: str | None = None,
                     cmap=None, how: str = "eq_hist", spread: int = 0, color: str | None = None):
    """Rasterise points to an RGBA image with datashader.

    Parameters
    ----------
    data : pandas.DataFrame or dask.dataframe.DataFrame
        Points with columns ``x`` and ``y`` (and ``color_by``); dask frames are
        aggregated out of core.
    x, y : str
        Column names of the coordinates.
    x_range, y_range : (float, float), optional
        Data-space extent of the image; default the data's finite extent.
    width, height : int
        Image size in pixels.
    color_by : str, optional
        Numeric column (mean per pixel, coloured by ``cmap``) or categorical
        column (``count_cat``); plain density when ``None``.
    cmap : list of str, optional
        Colours (hex) for the colour map.
    how : str
        Datashader shading (``"eq_hist"``, ``"log"``, ``"linear"``).
    spread : int
        Pixels to spread each point by (to make sparse overlays visible).
    color : str, optional
        Single colour for plain density (overrides ``cmap``).

    Returns
    -------
    rgba : numpy.ndarray, shape (height, width), uint32
        Packed RGBA pixels, row 0 at the *bottom* (``y_range[0]``), as bokeh's
        ``image_rgba`` expects.
    x_range, y_range : tuple of float
        The extent actually used.
    """
    import datashader as dsh
    import datashader.transfer_functions as tf

    if x_range is None or y_range is None:
        xr, yr = _data_extent(data, x, y)
        x_range = x_range or xr
        y_range = y_range or yr
    x_range = tuple(float(v) for v in x_range)
    y_range = tuple(float(v) for v in y_range)
    cvs = dsh.Canvas(plot_width=int(width), plot_height=int(height), x_range=x_range, y_range=y_range)
    if color_by is None:
        agg = cvs.points(data, x, y)
        img = tf.shade(agg, cmap=[color] if color else (cmap or ["#c6dbef", "#08306b"]), how=how)
    else:
        dtype = data[color_by].dtype
        if str(dtype) == "category" or dtype == object or dtype.kind in "OUSb":
            agg = cvs.points(data, x, y, agg=dsh.count_cat(color_by))
            img = tf.shade(agg, color_key=_category_colors(agg, cmap), how=how)
        else:
            agg = cvs.points(data, x, y, agg=dsh.mean(color_by))
            img = tf.shade(agg, cmap=cmap or _VIRIDIS, how="linear")
    if spread:
        img = tf.spread(img, px=int(spread))
    rgba = np.ascontiguousarray(np.asarray(img.data, dtype=np.uint32))
    return rgba, x_range, y_range


_WARM_UP: dict = {"thread": None}


def warm_up_rasterizer(block: bool = False):
    """Import datashader and compile (numba JIT) the rasterisers the live scatter views use.

    The first datashader aggregation in a process compiles its kernels (a few
    seconds on a laptop core); doing it on 100 dummy points in a daemon thread
    while the user is still loading data makes the first 10^6-point explorer
    render at warm speed. Idempotent; ``ASTROLAB_WARMUP=0`` disables it.

    Parameters
    ----------
    block : bool
        Wait for the warm-up to finish.

    Returns
    -------
    threading.Thread or None
        The warm-up thread (None when disabled).
    """
    import os
    import threading

    if os.environ.get("ASTROLAB_WARMUP", "1") == "0":
        return None
    if _WARM_UP["thread"] is None:
        def run():
            try:
                import pandas as pd

                rng = np.random.default_rng(0)
                frame = pd.DataFrame({"x": rng.random(100), "y": rng.random(100), "_c": rng.random(100),
                                      "_k": pd.Categorical(rng.choice(["a", "b"], 100))})
                rasterize_points(frame, "x", "y", (0, 1), (0, 1), 40, 30)
                rasterize_points(frame, "x", "y", (0, 1), (0, 1), 40, 30, color_by="_c")
                rasterize_points(frame, "x", "y", (0, 1), (0, 1), 40, 30, color_by="_k")
                rasterize_points(frame, "x", "y", (0, 1), (0, 1), 40, 30, color="#ff0000", how="linear")
            except Exception:  # pragma: no cover - a warm-up never breaks anything
                pass

        _WARM_UP["thread"] = threading.Thread(target=run, name="astrolab-datashader-warmup", daemon=True)
        _WARM_UP["thread"].start()
    if block:
        _WARM_UP["thread"].join()
    return _WARM_UP["thread"]


_VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]
_CATEGORY10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf"]


def _category_colors(agg, cmap):
    cats = list(agg.coords[agg.dims[-1]].values)
    pal = cmap or _CATEGORY10
    return {c: pal[i % len(pal)] for i, c in enumerate(cats)}


def _data_extent(data, x, y):
    xs, ys = data[x], data[y]
    if hasattr(xs, "compute"):
        import dask

        x0, x1, y0, y1 = dask.compute(xs.min(), xs.max(), ys.min(), ys.max())
    else:
        x0, x1, y0, y1 = np.nanmin(xs), np.nanmax(xs), np.nanmin(ys), np.nanmax(ys)
    x0, x1, y0, y1 = (float(v) for v in (x0, x1, y0, y1))
    if not all(np.isfinite(v) for v in (x0, x1, y0, y1)):
        x0, x1, y0, y1 = 0.0, 1.0, 0.0, 1.0
    padx = (x1 - x0) * 0.02 or 0.5
    pady = (y1 - y0) * 0.02 or 0.5
    return (x0 - padx, x1 + padx), (y0 - pady, y1 + pady)
