"""Holoviews builders for the optical -> infrared notebook (bokeh backend; pure functions).

- :func:`pred_vs_obs` -- predicted vs observed flux per WISE band, chi^2_N in the titles;
- :func:`residual_histograms` -- (pred - obs)/sigma per band against N(0, 1);
- :func:`colour_colour` -- WISE colour-colour diagram, observed and predicted;
- :func:`attribution_spectrum` -- stacked rest-frame attribution with line markers;
- :func:`spectrum_with_model` -- one spectrum, its reconstruction and planted lines.

Inputs are plain arrays; nothing here fits a model.
"""

from __future__ import annotations

import numpy as np

from astrolab.errors import invalid

__all__ = ["pred_vs_obs", "residual_histograms", "colour_colour", "attribution_spectrum", "spectrum_with_model"]

_BANDS = ("W1", "W2", "W3", "W4")


def _hv():
    import holoviews as hv

    from astrolab.viz import enable_inline

    enable_inline()
    return hv


def _check(pred, obs, sigma=None, what="pred_vs_obs"):
    p = np.asarray(pred, float)
    o = np.asarray(obs, float)
    if p.shape != o.shape or p.ndim != 2:
        raise invalid(what, f"pred {p.shape} and obs {o.shape}", "pass two (N, B) arrays of equal shape")
    if sigma is not None:
        s = np.asarray(sigma, float)
        if s.shape != p.shape:
            raise invalid(what, f"sigma has shape {s.shape}, not {p.shape}", "pass one sigma per flux")
        return p, o, s
    return p, o, None


def pred_vs_obs(pred, obs, sigma, bands=_BANDS, unit: str = "mJy", label: str = "", width: int = 260,
                height: int = 260):
    """Predicted against observed flux, one log-log panel per band, chi^2_N in each title.

    Parameters
    ----------
    pred, obs, sigma : array_like, shape (N, B)
        Predicted and observed fluxes and the observational 1-sigma [``unit``].
    bands : sequence of str (B,)
        Band names.
    unit : str
        Flux unit for the axis labels.
    label : str
        Prefix of the titles (e.g. the model name).
    width, height : int
        Panel size [screen pixels].

    Returns
    -------
    holoviews.Layout
        B overlays (points + 1:1 line).
    """
    hv = _hv()
    p, o, s = _check(pred, obs, sigma)
    chi = np.mean(((p - o) / s) ** 2, axis=0)
    panels = []
    for b, name in enumerate(bands):
        ok = (p[:, b] > 0) & (o[:, b] > 0)
        x, y = np.log10(o[ok, b]), np.log10(p[ok, b])
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        pts = hv.Points((x, y), kdims=[f"log10 observed {name} [{unit}]", f"log10 predicted {name} [{unit}]"])
        one = hv.Curve(([lo, hi], [lo, hi])).opts(color="red", line_dash="dashed")
        panels.append((pts.opts(size=2, alpha=0.4, color="black") * one).opts(
            title=f"{label}{name}: χ²_N = {chi[b]:.2f}", width=width, height=height))
    return hv.Layout(panels).cols(len(panels))


def residual_histograms(pred, obs, sigma, bands=_BANDS, label: str = "", bins: int = 40, clip: float = 6.0,
                        width: int = 260, height: int = 220):
    """Histograms of (pred - obs)/sigma per band against the standard normal density.

    Parameters
    ----------
    pred, obs, sigma : array_like, shape (N, B)
        Predicted and observed fluxes, observational 1-sigma.
    bands : sequence of str (B,)
        Band names.
    label : str
        Prefix of the titles.
    bins : int
        Histogram bins on [-clip, clip].
    clip : float
        Range of the residuals shown [sigma]; values beyond are counted in the end bins.
    width, height : int
        Panel size [screen pixels].

    Returns
    -------
    holoviews.Layout
    """
    hv = _hv()
    p, o, s = _check(pred, obs, sigma, "residual_histograms")
    r = np.clip((p - o) / s, -clip, clip)
    x = np.linspace(-clip, clip, 200)
    gauss = np.exp(-0.5 * x**2) / np.sqrt(2 * np.pi)
    panels = []
    for b, name in enumerate(bands):
        h, e = np.histogram(r[:, b], bins=bins, range=(-clip, clip), density=True)
        hist = hv.Histogram((e, h), kdims=[f"(pred − obs)/σ in {name}"], vdims=["density"]).opts(
            alpha=0.5, color="steelblue")
        curve = hv.Curve((x, gauss), label="N(0,1)").opts(color="red")
        panels.append((hist * curve).opts(title=f"{label}{name}: std = {np.std(r[:, b]):.2f}", width=width,
                                          height=height, show_legend=False))
    return hv.Layout(panels).cols(len(panels))


def colour_colour(obs_flux, pred_flux=None, pred_label: str = "predicted", width: int = 420, height: int = 360):
    """WISE colour-colour diagram W1-W2 against W2-W3 [mag], observed and predicted.

    Parameters
    ----------
    obs_flux : array_like, shape (N, 4)
        Observed W1-W4 fluxes (positive).
    pred_flux : array_like, shape (N, 4), optional
        Predicted fluxes, overlaid in another colour.
    pred_label : str
        Legend label of the prediction.
    width, height : int
        Size [screen pixels].

    Returns
    -------
    holoviews.Overlay
    """
    hv = _hv()

    def colours(f):
        f = np.asarray(f, float)
        if f.ndim != 2 or f.shape[1] != 4:
            raise invalid("colour_colour flux", f"has shape {f.shape}", "pass (N, 4) W1-W4 fluxes")
        with np.errstate(invalid="ignore", divide="ignore"):
            m = -2.5 * np.log10(np.where(f > 0, f, np.nan))
        c = np.stack([m[:, 1] - m[:, 2], m[:, 0] - m[:, 1]], axis=1)
        return c[np.all(np.isfinite(c), axis=1)]

    kd = ["W2 − W3 [mag]", "W1 − W2 [mag]"]
    el = [hv.Points(colours(obs_flux), kdims=kd, label="observed").opts(color="black", size=3, alpha=0.4)]
    if pred_flux is not None:
        el.append(hv.Points(colours(pred_flux), kdims=kd, label=pred_label).opts(color="orange", size=3, alpha=0.4))
    return hv.Overlay(el).opts(width=width, height=height, legend_position="top_left",
                               title="WISE colour–colour diagram")


def attribution_spectrum(rest_grid, stacked, lines: dict, decoys: dict | None = None, *,
                         ylabel: str = "mean |IG attribution|", title: str = "", width: int = 820,
                         height: int = 320):
    """Stacked rest-frame attribution with vertical markers at planted lines.

    Parameters
    ----------
    rest_grid, stacked : array_like, shape (R,)
        Rest wavelength [A] and stacked attribution (see
        :func:`astrolab.interpret.rest_frame_stack`).
    lines : dict
        Informative line name -> rest wavelength [A] (grey dashed markers).
    decoys : dict, optional
        Decoy line name -> rest wavelength [A] (red markers).
    ylabel, title : str
        Labels.
    width, height : int
        Size [screen pixels].

    Returns
    -------
    holoviews.Overlay
    """
    hv = _hv()
    g = np.asarray(rest_grid, float)
    v = np.asarray(stacked, float)
    if g.shape != v.shape:
        raise invalid("attribution_spectrum", f"rest_grid {g.shape} vs stacked {v.shape}", "pass equal-length arrays")
    ok = np.isfinite(v)
    el = [hv.Curve((g[ok], v[ok]), kdims=["rest wavelength [Å]"], vdims=[ylabel]).opts(color="black")]
    top = float(np.nanmax(v)) if ok.any() else 1.0
    for name, w in lines.items():
        el.append(hv.VLine(w).opts(color="grey", line_dash="dashed", line_width=1, alpha=0.6))
    for name, w in (decoys or {}).items():
        el.append(hv.VLine(w).opts(color="red", line_width=2))
        el.append(hv.Text(w, top * 0.95, name).opts(text_color="red", text_font_size="9pt"))
    return hv.Overlay(el).opts(width=width, height=height, title=title)


def spectrum_with_model(wavelength, flux, model=None, mask=None, z: float = 0.0, lines: dict | None = None, *,
                        flux_unit: str = "1e-17 erg/s/cm²/Å", title: str = "", width: int = 820, height: int = 300):
    """One observed-frame spectrum, optionally its reconstruction and redshifted line markers.

    Parameters
    ----------
    wavelength, flux : array_like, shape (L,)
        Observed wavelength [A] and flux [``flux_unit``].
    model : array_like (L,), optional
        Reconstructed spectrum (same unit).
    mask : array_like of bool (L,), optional
        Masked pixels (not drawn).
    z : float
        Redshift for the line markers.
    lines : dict, optional
        Name -> rest wavelength [A].
    flux_unit : str
        Axis label unit.
    title : str
        Title.
    width, height : int
        Size [screen pixels].

    Returns
    -------
    holoviews.Overlay
    """
    hv = _hv()
    wl = np.asarray(wavelength, float)
    f = np.asarray(flux, float)
    m = np.zeros(wl.shape, bool) if mask is None else np.asarray(mask, bool)
    kd, vd = ["observed wavelength [Å]"], [f"flux [{flux_unit}]"]
    el = [hv.Curve((wl, np.where(m, np.nan, f)), kdims=kd, vdims=vd, label="observed").opts(color="grey")]
    if model is not None:
        el.append(hv.Curve((wl, np.asarray(model, float)), kdims=kd, vdims=vd, label="reconstruction").opts(
            color="orange"))
    for name, w in (lines or {}).items():
        wo = w * (1 + z)
        if wl[0] <= wo <= wl[-1]:
            el.append(hv.VLine(wo).opts(color="steelblue", line_dash="dotted", line_width=1))
    return hv.Overlay(el).opts(width=width, height=height, title=title, legend_position="top_right")
