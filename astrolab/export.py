"""Export views: figures as PNG / SVG / PDF and their data as ECSV / FITS, with provenance in the metadata.

How figures are drawn
---------------------
Every astrolab view is made of bokeh figures (:mod:`astrolab.viz.live`, the panels of
:mod:`astrolab.widgets`, and holoviews elements through ``hv.render``). This module reads
each figure's glyph renderers (lines, multi-lines, quads, scatters, segments, RGBA
images) and their ``ColumnDataSource`` data, and re-draws the *same data* with
matplotlib. We chose matplotlib over bokeh's own export (``bokeh.io.export_png`` /
``export_svg``) because bokeh needs a browser driven through selenium, which is not
part of astrolab's dependencies and is slow to start, while matplotlib writes vector
PDF/SVG and raster PNG at any dpi offline, and lets us put metadata in every format.

Provenance
----------
:func:`provenance` gathers the session hash, data hash(es), astrolab and package
versions, the git revision and the time. It is written as

- PNG: text chunks (``astrolab:provenance`` JSON, ``astrolab:session_hash``, ...);
- SVG: the ``<metadata>`` RDF block (``dc:description`` = JSON, ``dc:identifier`` =
  session hash, ``dc:source`` = data hash);
- PDF: the document information dictionary (``/Subject`` = JSON, ``/Keywords``);
- ECSV: ``table.meta["astrolab_provenance"]``;
- FITS: primary header cards ``ASTROLAB``, ``SESSHASH``, ``DATAHASH``, ``PROVJSON``
  (long-string ``CONTINUE`` cards).

:func:`read_provenance` reads it back from any of those files.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from astrolab.errors import invalid
from astrolab.utils import atomic_path

__all__ = ["FIGURE_FORMATS", "DATA_FORMATS", "provenance", "figure_layers", "render_matplotlib", "export_figure",
           "export_view", "view_figures", "read_provenance", "static_png"]

FIGURE_FORMATS = ("png", "svg", "pdf")
DATA_FORMATS = ("ecsv", "fits")
_KEY = "astrolab:provenance"


# ------------------------------------------------------------------------------------ provenance
def provenance(session: Any = None, data: Any = None, **extra: Any) -> dict:
    """Provenance record written into exported files.

    Parameters
    ----------
    session : astrolab.session.Session, path-like of a session file, str hash or None
        Gives ``session_hash``.
    data : data object, dict of name -> data object, str hash or None
        Hashed with :func:`astrolab.session.data_hash` (a dict gives one hash per name and
        a combined ``data_hash``).
    **extra
        More JSON-able fields.

    Returns
    -------
    dict
        ``session_hash``, ``data_hash``, ``data_hashes``, ``astrolab_version``, ``versions``,
        ``git_commit``, ``created`` (UTC ISO time) and ``extra``'s fields.
    """
    from astrolab.session import data_hash, git_revision, package_versions

    shash = None
    if session is not None:
        if hasattr(session, "session_hash"):
            shash = session.session_hash
        elif isinstance(session, (str, Path)) and Path(session).suffix == ".json" and Path(session).is_file():
            shash = json.loads(Path(session).read_text(encoding="utf-8")).get("session_hash")
        else:
            shash = str(session)
    hashes: dict = {}
    if isinstance(data, str):
        dhash = data
    elif isinstance(data, Mapping):
        hashes = {str(k): data_hash(v) for k, v in data.items()}
        dhash = data_hash(sorted(hashes.items())) if hashes else None
    elif data is not None:
        dhash = data_hash(data)
    else:
        dhash = None
    versions = package_versions()
    rec = {"session_hash": shash, "data_hash": dhash, "data_hashes": hashes,
           "astrolab_version": versions["astrolab"], "versions": versions,
           "git_commit": git_revision().get("commit"),
           "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    rec.update(extra)
    return rec


# -------------------------------------------------------------------------------- bokeh -> data
def _spec(glyph, attr, data, n):
    """Column (n,) or broadcast constant of a glyph property, or None."""
    if not hasattr(glyph, attr):
        return None
    v = getattr(glyph, attr)
    if isinstance(v, str) and v in data:
        return data[v]
    if isinstance(v, dict):  # {"field": ...} / {"value": ...}
        if "field" in v and v["field"] in data:
            return data[v["field"]]
        if "value" in v:
            v = v["value"]
    if isinstance(v, (int, float, np.number)) and not isinstance(v, bool):
        return np.full(n, float(v))
    return None


def _legend_labels(fig) -> dict:
    out = {}
    for legend in getattr(fig, "legend", []) or []:
        for item in legend.items:
            label = item.label
            if isinstance(label, dict):
                label = label.get("value") or label.get("field")
            elif hasattr(label, "value") or hasattr(label, "field"):  # bokeh Value / Field
                label = getattr(label, "value", None) or getattr(label, "field", None)
            for r in item.renderers:
                out[r.id] = str(label)
    return out


def _color(glyph, attr, data):
    v = getattr(glyph, attr, None)
    if isinstance(v, str) and v in data:
        return [str(c) for c in data[v]]
    if isinstance(v, dict):
        v = v.get("value")
    if v is None or not isinstance(v, str):
        return None
    return v


def figure_layers(fig) -> list[dict]:
    """The drawable layers of a bokeh figure (data and style of each visible glyph renderer).

    Parameters
    ----------
    fig : bokeh.plotting.figure

    Returns
    -------
    list of dict
        One per non-empty, visible renderer: ``kind`` (line, multi_line, quad, scatter,
        segment, image_rgba), ``name`` (legend label or ``<kind><i>``), ``columns``
        (dict of 1-D arrays, shape (M,) each; multi-lines flattened with a ``curve``
        index; images as ``image`` (H, W) uint32 RGBA plus x, y, dw, dh), ``color``,
        ``alpha``, ``dash``.
    """
    from bokeh.models import GlyphRenderer

    labels = _legend_labels(fig)
    layers = []
    counts: dict = {}
    for r in fig.renderers:
        if not isinstance(r, GlyphRenderer) or not r.visible:
            continue
        glyph = r.glyph
        kind = type(glyph).__name__
        data = dict(getattr(r.data_source, "data", {}) or {})
        n = len(next(iter(data.values()))) if data else 0
        if n == 0:
            continue
        alpha = getattr(glyph, "line_alpha", None)
        fill_alpha = getattr(glyph, "fill_alpha", None)
        if kind == "Scatter" and (getattr(glyph, "size", 1) == 0 or fill_alpha == 0):
            continue  # invisible select target
        cols: dict = {}
        if kind in ("Line", "Scatter", "Circle"):
            x, y = _spec(glyph, "x", data, n), _spec(glyph, "y", data, n)
            if x is None or y is None:
                continue
            cols = {"x": np.asarray(x, float), "y": np.asarray(y, float)}
            kind = "line" if kind == "Line" else "scatter"
        elif kind == "MultiLine":
            xs, ys = data.get(glyph.xs), data.get(glyph.ys)
            if xs is None or ys is None:
                continue
            cx, cy, ci = [], [], []
            for i, (a, b) in enumerate(zip(xs, ys)):
                cx.append(np.asarray(a, float))
                cy.append(np.asarray(b, float))
                ci.append(np.full(len(a), i))
            if not cx:
                continue
            cols = {"curve": np.concatenate(ci), "x": np.concatenate(cx), "y": np.concatenate(cy)}
            if "label" in data:
                cols["label"] = np.concatenate([np.full(len(a), str(lab)) for a, lab in zip(cx, data["label"])])
            kind = "multi_line"
        elif kind == "Quad":
            vals = {k: _spec(glyph, k, data, n) for k in ("left", "right", "bottom", "top")}
            if any(v is None for v in vals.values()):
                continue
            cols = {k: np.asarray(v, float) for k, v in vals.items()}
            kind = "quad"
        elif kind == "Segment":
            vals = {k: _spec(glyph, k, data, n) for k in ("x0", "y0", "x1", "y1")}
            if any(v is None for v in vals.values()):
                continue
            cols = {k: np.asarray(v, float) for k, v in vals.items()}
            kind = "segment"
        elif kind == "ImageRGBA":
            imgs = data.get(glyph.image) if isinstance(glyph.image, str) else None
            if not imgs:
                continue
            cols = {"image": [np.asarray(im) for im in imgs]}
            for k in ("x", "y", "dw", "dh"):
                cols[k] = np.asarray(_spec(glyph, k, data, len(imgs)), float)
            kind = "image_rgba"
        else:
            continue
        counts[kind] = counts.get(kind, 0) + 1
        name = labels.get(r.id) or f"{kind}{counts[kind]}"
        color = (_color(glyph, "line_color", data) if kind in ("line", "multi_line", "segment")
                 else _color(glyph, "fill_color", data) or _color(glyph, "line_color", data))
        dash = getattr(glyph, "line_dash", "solid")
        layers.append({"kind": kind, "name": name, "columns": cols, "color": color,
                       "alpha": float(alpha) if isinstance(alpha, (int, float)) else 1.0,
                       "fill_alpha": float(fill_alpha) if isinstance(fill_alpha, (int, float)) else 0.5,
                       "dash": "--" if dash not in ("solid", [], None) else "-",
                       "line_width": float(getattr(glyph, "line_width", 1.5) or 1.5)
                       if isinstance(getattr(glyph, "line_width", 1.5), (int, float)) else 1.5})
    return layers


def _layers_table(layers, prov: dict | None, title: str = ""):
    """One astropy Table of all non-image layers (long format, ``layer`` and ``kind`` columns)."""
    from astropy.table import Table, vstack

    tables = []
    for lay in layers:
        if lay["kind"] == "image_rgba":
            continue
        cols = {k: np.asarray(v) for k, v in lay["columns"].items()}
        n = len(next(iter(cols.values())))
        t = Table({"layer": np.full(n, lay["name"]), "kind": np.full(n, lay["kind"]), **cols})
        tables.append(t)
    out = vstack(tables, join_type="outer", metadata_conflicts="silent") if tables else Table()
    out.meta["title"] = title
    if prov is not None:
        out.meta["astrolab_provenance"] = prov
    return out


# ---------------------------------------------------------------------------- matplotlib drawing
def _mpl_color(c, default):
    if c is None:
        return default
    if isinstance(c, list):
        return c
    return c


def render_matplotlib(fig, ax=None, dpi: int = 300):
    """Draw a bokeh figure's data with matplotlib (same glyphs, labels, title and scales).

    Parameters
    ----------
    fig : bokeh.plotting.figure
    ax : matplotlib.axes.Axes, optional
        Draw into it; a new ``Figure`` (size from the bokeh figure, ``dpi``) otherwise.
    dpi : int
        Raster resolution of a new figure [dots per inch].

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    if ax is None:
        w = (getattr(fig, "width", None) or 420) / 100
        h = (getattr(fig, "height", None) or 300) / 100
        mfig = Figure(figsize=(max(w, 3.0), max(h, 2.2)), dpi=dpi)
        ax = mfig.add_subplot(1, 1, 1)
    else:
        mfig = ax.figure
    big = 1e8
    labelled = False
    for i, lay in enumerate(figure_layers(fig)):
        c = lay["columns"]
        color = _mpl_color(lay["color"], f"C{i % 10}")
        label = lay["name"] if not re.fullmatch(r"[a-z_]+\d+", lay["name"]) else None
        labelled |= label is not None
        if lay["kind"] == "line":
            ax.plot(c["x"], c["y"], color=color if isinstance(color, str) else None, ls=lay["dash"],
                    lw=lay["line_width"], alpha=lay["alpha"], label=label)
        elif lay["kind"] == "scatter":
            ax.scatter(c["x"], c["y"], s=6, c=color, alpha=min(lay["fill_alpha"] or 0.6, 1.0), label=label,
                       linewidths=0, rasterized=len(c["x"]) > 5000)
        elif lay["kind"] == "multi_line":
            cols = color if isinstance(color, list) else None
            for k in np.unique(c["curve"]):
                m = c["curve"] == k
                ax.plot(c["x"][m], c["y"][m], lw=1.3, color=cols[int(k)] if cols else None)
        elif lay["kind"] == "segment":
            for j, (x0, y0, x1, y1) in enumerate(zip(c["x0"], c["y0"], c["x1"], c["y1"])):
                ax.plot([x0, x1], [y0, y1], color=color[j] if isinstance(color, list) else color,
                        ls=lay["dash"], lw=1.2)
        elif lay["kind"] == "quad":
            from matplotlib.colors import to_rgba

            col = color if isinstance(color, str) else "C0"
            span = (np.abs(c["bottom"]) >= big) | (np.abs(c["top"]) >= big)
            for l, r in zip(c["left"][span], c["right"][span]):  # a brushed range spanning the whole height
                ax.axvspan(l, r, color=col, alpha=0.12, lw=0)
            keep = ~span
            if keep.any():
                fa = lay["fill_alpha"]
                ax.bar(c["left"][keep], c["top"][keep] - c["bottom"][keep], width=c["right"][keep] - c["left"][keep],
                       bottom=c["bottom"][keep], align="edge", facecolor=to_rgba(col, fa),
                       edgecolor=to_rgba(col, 0.0 if fa > 0.2 and lay["line_width"] < 1 else 1.0),
                       linewidth=0.6 if fa else 1.8, label=label)
        elif lay["kind"] == "image_rgba":
            for img, x, y, dw, dh in zip(c["image"], c["x"], c["y"], c["dw"], c["dh"]):
                rgba = np.asarray(img, dtype=np.uint32)
                arr = np.stack([(rgba >> s) & 255 for s in (0, 8, 16, 24)], axis=-1).astype(np.uint8)
                ax.imshow(arr, extent=(x, x + dw, y, y + dh), origin="lower", interpolation="nearest",
                          aspect="auto")
    for ann in getattr(fig, "center", []) or []:  # brushed ranges (BoxAnnotation)
        if type(ann).__name__ == "BoxAnnotation" and ann.visible and isinstance(ann.left, (int, float)) \
                and isinstance(ann.right, (int, float)) and ann.right > ann.left:
            ax.axvspan(ann.left, ann.right, color=ann.fill_color if isinstance(ann.fill_color, str) else "C1",
                       alpha=0.15, lw=0)
    title = getattr(getattr(fig, "title", None), "text", "") or ""
    ax.set_title(title)
    xl = fig.xaxis[0].axis_label if fig.xaxis else ""
    yl = fig.yaxis[0].axis_label if fig.yaxis else ""
    ax.set_xlabel(xl or "")
    ax.set_ylabel(yl or "")
    if type(getattr(fig, "y_scale", None)).__name__ == "LogScale":
        ax.set_yscale("log")
    if labelled:
        ax.legend(fontsize=7, frameon=False)
    mfig.tight_layout()
    return mfig


def _png_bytes(mfig, prov: dict, dpi: int) -> bytes:
    meta = {"Software": f"astrolab {prov.get('astrolab_version', '')}", _KEY: json.dumps(prov, sort_keys=True),
            "astrolab:session_hash": str(prov.get("session_hash")), "astrolab:data_hash": str(prov.get("data_hash"))}
    buf = io.BytesIO()
    mfig.savefig(buf, format="png", dpi=dpi, metadata=meta)
    return buf.getvalue()


def _write_figure(mfig, path: Path, fmt: str, prov: dict, title: str, dpi: int) -> None:
    blob = json.dumps(prov, sort_keys=True)
    with atomic_path(path) as tmp:
        if fmt == "png":
            tmp.write_bytes(_png_bytes(mfig, prov, dpi))
        elif fmt == "svg":
            mfig.savefig(tmp, format="svg", metadata={
                "Title": title, "Description": blob, "Identifier": str(prov.get("session_hash")),
                "Source": str(prov.get("data_hash")), "Creator": f"astrolab {prov.get('astrolab_version', '')}",
                "Date": prov.get("created")})
        elif fmt == "pdf":
            mfig.savefig(tmp, format="pdf", dpi=dpi, metadata={
                "Title": title, "Subject": blob, "Creator": f"astrolab {prov.get('astrolab_version', '')}",
                "Keywords": f"session_hash={prov.get('session_hash')}; data_hash={prov.get('data_hash')}"})


def _write_data(table, layers, path: Path, fmt: str, prov: dict) -> None:
    with atomic_path(path) as tmp:
        if fmt == "ecsv":
            table.write(tmp, format="ascii.ecsv", overwrite=True)
        elif fmt == "fits":
            from astropy.io import fits
            from astropy.table import Table

            head = fits.Header()
            head["ASTROLAB"] = (str(prov.get("astrolab_version")), "astrolab version")
            head["SESSHASH"] = str(prov.get("session_hash"))
            head["DATAHASH"] = str(prov.get("data_hash"))
            head["GITREV"] = str(prov.get("git_commit"))
            head["COMMENT"] = "SESSHASH, DATAHASH: SHA-256 of the astrolab session and data"
            head["COMMENT"] = "GITREV: git revision of astrolab; PROVJSON: provenance JSON"
            head["PROVJSON"] = json.dumps(prov, sort_keys=True)
            hdus = [fits.PrimaryHDU(header=head)]
            for lay in layers:
                if lay["kind"] == "image_rgba":
                    continue
                t = Table({k: np.asarray(v) for k, v in lay["columns"].items()})
                hdu = fits.table_to_hdu(t)
                hdu.name = re.sub(r"[^A-Za-z0-9_]", "_", lay["name"])[:40].upper()
                hdu.header["KIND"] = lay["kind"]
                hdus.append(hdu)
            fits.HDUList(hdus).writeto(tmp, overwrite=True)


def export_figure(fig, path, formats: Sequence[str] = FIGURE_FORMATS + DATA_FORMATS, *, prov: dict | None = None,
                  session: Any = None, data: Any = None, dpi: int = 300) -> dict:
    """Export one figure (bokeh figure or holoviews element) and its data, with provenance.

    Parameters
    ----------
    fig : bokeh.plotting.figure or holoviews element
        What to export (holoviews objects are rendered with ``hv.render(..., backend="bokeh")``).
    path : path-like
        Base path; the extension of each format is appended (``path.with_suffix``).
    formats : sequence of {"png", "svg", "pdf", "ecsv", "fits"}
        What to write.
    prov : dict, optional
        Provenance record (default :func:`provenance` of ``session`` and ``data``).
    session, data : optional
        See :func:`provenance`.
    dpi : int
        Raster resolution [dots per inch] of the PNG and of rasterised parts of PDF/SVG.

    Returns
    -------
    dict of str -> pathlib.Path
        Written file per format.
    """
    bad = [f for f in formats if f not in FIGURE_FORMATS + DATA_FORMATS]
    if bad:
        raise invalid("export_figure(formats=...)", f"unknown format(s) {bad}",
                      f"use some of {FIGURE_FORMATS + DATA_FORMATS}")
    if not hasattr(fig, "renderers"):
        try:
            import holoviews as hv

            fig = hv.render(fig, backend="bokeh")
        except Exception as exc:  # noqa: BLE001
            raise invalid("export_figure(fig=...)", f"cannot render a {type(fig).__name__} ({exc})",
                          "pass a bokeh figure, a holoviews element or an astrolab view") from exc
    prov = prov if prov is not None else provenance(session, data)
    base = Path(path)
    title = getattr(getattr(fig, "title", None), "text", "") or base.stem
    layers = figure_layers(fig)
    out = {}
    mfig = None
    for fmt in formats:
        dest = base.with_name(base.name + f".{fmt}") if base.suffix.lstrip(".") not in FIGURE_FORMATS + DATA_FORMATS \
            else base.with_suffix(f".{fmt}")
        if fmt in FIGURE_FORMATS:
            if mfig is None:
                mfig = render_matplotlib(fig, dpi=dpi)
            _write_figure(mfig, dest, fmt, prov, title, dpi)
        else:
            _write_data(_layers_table(layers, prov, title), layers, dest, fmt, prov)
        out[fmt] = dest
    return out


def _bokeh_models_in(widget: Any, depth: int = 0) -> list:
    """Bokeh figures wrapped (``jupyter_bokeh.BokehModel._model``) anywhere inside an ipywidgets tree."""
    found = []
    model = getattr(widget, "_model", None)
    if model is not None and hasattr(model, "renderers"):
        found.append(model)
    if depth < 12:
        for child in getattr(widget, "children", ()) or ():
            found.extend(_bokeh_models_in(child, depth + 1))
    return found


def view_figures(view: Any) -> dict:
    """Bokeh figures of a view, by name.

    Parameters
    ----------
    view : astrolab panel, live view (with ``.figure``), bokeh figure or holoviews element

    Returns
    -------
    dict of str -> bokeh figure
    """
    if hasattr(view, "renderers"):
        return {"figure": view}
    figs = dict(getattr(view, "figures", {}) or {})
    # instance attribute only: ipywidgets.Widget has a class-level ``widgets`` registry that asserts on access
    own = getattr(view, "__dict__", {}).get("widgets")
    for name, w in (own if isinstance(own, dict) else {}).items():
        model = getattr(w, "_model", None)
        if model is not None and hasattr(model, "renderers"):
            figs.setdefault(name, model)
    if not figs and hasattr(getattr(view, "figure", None), "renderers"):
        figs["figure"] = view.figure
    if not figs and hasattr(view, "children"):  # any ipywidgets box: the bokeh plots it holds, in order
        for i, model in enumerate(_bokeh_models_in(view)):
            figs.setdefault(getattr(model, "name", None) or f"plot{i}", model)
    if not figs:
        try:
            import holoviews as hv

            if isinstance(view, hv.core.Dimensioned):
                return {"figure": hv.render(view, backend="bokeh")}
        except ImportError:  # pragma: no cover
            pass
        raise invalid("export_view(view=...)", f"{type(view).__name__} holds no bokeh figure",
                      "pass an astrolab panel, a live view, a bokeh figure or a holoviews element")
    return figs


def export_view(view: Any, folder, formats: Sequence[str] = FIGURE_FORMATS + DATA_FORMATS, *, session: Any = None,
                data: Any = None, prefix: str | None = None, dpi: int = 300) -> dict:
    """Export every figure of a view (panel, live view, figure) as ``<folder>/<prefix>_<name>.<fmt>``.

    Parameters
    ----------
    view : astrolab panel (e.g. CalibrationDashboard, PDFExplorer), live view, bokeh figure or holoviews element
    folder : path-like
        Output folder (created).
    formats : sequence of str
        Among ``png``, ``svg``, ``pdf``, ``ecsv``, ``fits``.
    session, data : optional
        Provenance sources (see :func:`provenance`); computed once for all files.
    prefix : str, optional
        File name prefix (default: the view's class name in lower case).
    dpi : int
        PNG resolution [dots per inch].

    Returns
    -------
    dict of str -> dict of str -> pathlib.Path
        ``{figure name: {format: path}}``.
    """
    figs = view_figures(view)
    prov = provenance(session, data, view=type(view).__name__)
    prefix = prefix or type(view).__name__.lower()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return {name: export_figure(fig, folder / f"{prefix}_{name}", formats, prov=prov, dpi=dpi)
            for name, fig in figs.items()}


def static_png(view: Any, dpi: int = 100, prov: dict | None = None) -> bytes:
    """One PNG (bytes) with every figure of a view in a grid: the fallback where no widget manager runs."""
    from matplotlib.figure import Figure

    figs = list(view_figures(view).values())
    ncol = min(3, len(figs))
    nrow = -(-len(figs) // ncol)
    mfig = Figure(figsize=(4.2 * ncol, 3.0 * nrow), dpi=dpi)
    for i, f in enumerate(figs):
        render_matplotlib(f, ax=mfig.add_subplot(nrow, ncol, i + 1))
    mfig.tight_layout()
    return _png_bytes(mfig, prov or {"astrolab_version": __import__("astrolab").__version__}, dpi)


# ------------------------------------------------------------------------------------- read back
def _pdf_string(raw: bytes, key: bytes) -> str | None:
    m = re.search(rb"/" + key + rb"\s*\(", raw)
    if m:
        i, depth, out = m.end(), 1, bytearray()
        while i < len(raw):
            ch = raw[i:i + 1]
            if ch == b"\\":
                nxt = raw[i + 1:i + 2]
                out += {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(nxt, nxt)
                i += 2
                continue
            if ch == b"(":
                depth += 1
            elif ch == b")":
                depth -= 1
                if depth == 0:
                    break
            out += ch
            i += 1
        if out.startswith(b"\xfe\xff"):
            return out[2:].decode("utf-16-be")
        return out.decode("latin-1")
    m = re.search(rb"/" + key + rb"\s*<([0-9A-Fa-f\s]+)>", raw)
    if m:
        b = bytes.fromhex(m.group(1).decode().replace(" ", "").replace("\n", ""))
        return b[2:].decode("utf-16-be") if b.startswith(b"\xfe\xff") else b.decode("latin-1")
    return None


def read_provenance(path) -> dict:
    """Provenance record stored in a file written by :func:`export_figure` (PNG, SVG, PDF, ECSV or FITS).

    Returns
    -------
    dict
        The record (see :func:`provenance`).

    Raises
    ------
    astrolab.errors.DataValidationError
        If the file holds no astrolab provenance.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    blob = None
    if fmt == "png":
        from PIL import Image

        with Image.open(path) as im:
            blob = im.text.get(_KEY)
    elif fmt == "svg":
        import xml.etree.ElementTree as ET

        root = ET.parse(path).getroot()
        for el in root.iter():
            if el.tag.endswith("}description") and el.text:
                blob = el.text
                break
    elif fmt == "pdf":
        blob = _pdf_string(path.read_bytes(), b"Subject")
    elif fmt == "ecsv":
        from astropy.table import Table

        rec = Table.read(path, format="ascii.ecsv").meta.get("astrolab_provenance")
        return dict(rec) if rec is not None else _no_prov(path)
    elif fmt in ("fits", "fit"):
        from astropy.io import fits

        with fits.open(path) as hdul:
            blob = hdul[0].header.get("PROVJSON")
    if not blob:
        return _no_prov(path)
    return json.loads(blob)


def _no_prov(path):
    raise invalid(f"read_provenance({str(path)!r})", "the file holds no astrolab provenance",
                  "pass a file written by astrolab.export")
