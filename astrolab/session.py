"""Sessions as reproducible artefacts: one JSON file with selections, views, config, seeds and provenance.

:func:`save_session` writes ``<name>.json`` (plus ``<name>.checkpoints/<sha256>.pt``
for referenced checkpoints, stored by content checksum) holding

- named selections (ids, with a checksum each: :meth:`astrolab.selection.Selection.to_dict`);
- view states (for an astrolab panel: its class, the name of its selection, the
  ranges of its plots and any brushed range);
- model configuration, seeds, metrics;
- package versions, the project's git revision and hashes of the data (:func:`data_hash`);
- a ``session_hash`` (SHA-256 of the canonical JSON without the timestamp).

:func:`load_session` reads it back into a :class:`Session`. It refuses, with a
:class:`SessionError` naming what differs and the fix, when

- the data passed in (``data={name: object}``) hash differently from the saved data, or
- a package that changes numerical results (:data:`RESULT_PACKAGES`) has another
  ``major.minor`` version (or astrolab another version),

unless ``strict=False`` (then it warns and records the differences in
:attr:`Session.mismatches`). Older session files are migrated
(:data:`FORMAT_VERSION`); newer ones are refused with a clear message.
Checkpoints are ``state_dict`` + config + version dicts loaded with
``torch.load(weights_only=True)``; a bare ``state_dict`` (layout 0) is migrated,
a newer layout is refused (sbi#1254 is the failure this avoids).

Examples
--------
>>> import astrolab
>>> from astrolab.selection import Selection
>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "s.json")
>>> _ = astrolab.save_session(path, selections=[Selection([3, 1], name="tails")], seed=7)
>>> astrolab.load_session(path).selections["tails"].array.tolist()
[1, 3]
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from astrolab.errors import AstrolabError, CheckpointError, invalid
from astrolab.selection import Selection
from astrolab.utils import atomic_path

__all__ = ["FORMAT_VERSION", "RESULT_PACKAGES", "Session", "SessionError", "save_session", "load_session",
           "data_hash", "package_versions", "git_revision", "view_state", "session_hash"]

#: Layout version of the session JSON written by this module.
FORMAT_VERSION = 1
_FORMAT = "astrolab.session"

#: Packages whose ``major.minor`` version must match for a session to load strictly
#: (astrolab itself must match exactly).
RESULT_PACKAGES = ("numpy", "scipy", "astropy", "torch")

_VERSION_PACKAGES = ("astrolab", "python", "numpy", "scipy", "astropy", "pandas", "torch", "lightning", "bokeh",
                     "holoviews", "jupyter_bokeh", "ipywidgets", "matplotlib")


class SessionError(AstrolabError, ValueError):
    """A session file cannot be restored as saved (data or versions differ, corrupt or newer file)."""


def _session_error(path, problem: str, fix: str) -> SessionError:
    return SessionError(f"session {str(path)!r}: {problem}. Fix: {fix}.")


# ------------------------------------------------------------------------------------ provenance
def package_versions() -> dict:
    """Installed versions of the packages that matter for results and display.

    Returns
    -------
    dict of str -> str
        Package name -> version (``"missing"`` when not installed); read from package
        metadata, so nothing heavy is imported.
    """
    import platform
    from importlib import metadata

    import astrolab

    out = {}
    for name in _VERSION_PACKAGES:
        if name == "astrolab":
            out[name] = astrolab.__version__
        elif name == "python":
            out[name] = platform.python_version()
        else:
            try:
                out[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                out[name] = "missing"
    return out


def git_revision() -> dict:
    """Git revision of the project holding the ``astrolab`` package.

    Returns
    -------
    dict
        ``{"commit": sha or None, "dirty": bool or None}`` (``None`` outside a git checkout).
    """
    from astrolab.config import package_dir

    root = package_dir().parent
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=20).stdout.strip() != ""
        return {"commit": sha or None, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def _update_array(h, arr) -> None:
    a = np.asarray(arr)
    if a.dtype == object:
        a = a.astype(str)
    h.update(f"{a.dtype.str}{a.shape}".encode())
    if a.dtype.kind in "US":
        h.update("\x1f".join(map(str, a.ravel().tolist())).encode("utf-8"))
    else:
        h.update(np.ascontiguousarray(a).tobytes())


def _update(h, obj, depth: int = 0) -> None:
    if depth > 6:
        return
    if obj is None or isinstance(obj, (bool, int, float, str)):
        h.update(repr(obj).encode())
        return
    if hasattr(obj, "detach") and hasattr(obj, "cpu"):  # torch tensor
        _update_array(h, obj.detach().cpu().numpy())
        return
    if hasattr(obj, "colnames"):  # astropy Table
        h.update(b"table")
        for c in obj.colnames:
            col = obj[c]
            h.update(f"{c}|{getattr(col, 'unit', None)}".encode())
            _update_array(h, np.ma.getdata(col))
            if hasattr(col, "mask"):
                _update_array(h, np.ma.getmaskarray(col))
        return
    if hasattr(obj, "columns") and hasattr(obj, "index") and hasattr(obj, "iloc"):  # pandas
        h.update(b"frame")
        for c in obj.columns:
            h.update(str(c).encode())
            _update_array(h, obj[c].to_numpy())
        return
    if isinstance(obj, np.ndarray) or np.isscalar(obj):
        _update_array(h, obj)
        return
    if isinstance(obj, Mapping):
        for k in sorted(obj, key=str):
            h.update(str(k).encode())
            _update(h, obj[k], depth + 1)
        return
    if isinstance(obj, (list, tuple)):
        h.update(f"seq{len(obj)}".encode())
        for v in obj:
            _update(h, v, depth + 1)
        return
    if hasattr(obj, "z_grid") and hasattr(obj, "pdf"):  # RedshiftPDF
        h.update(b"RedshiftPDF")
        for v in (obj.z_grid, obj.pdf, obj.ids):
            _update_array(h, v)
        return
    attrs = getattr(obj, "__dict__", None)
    if attrs:  # containers: every array-like / table attribute, by name
        h.update(type(obj).__name__.encode())
        for k in sorted(attrs):
            v = attrs[k]
            if isinstance(v, (np.ndarray, Mapping, list, tuple)) or hasattr(v, "colnames") or \
                    hasattr(v, "__dict__") and hasattr(v, "ids"):
                h.update(k.encode())
                _update(h, v, depth + 1)
        return
    raise invalid("data_hash", f"cannot hash a {type(obj).__name__}",
                  "pass arrays, astropy Tables, DataFrames, RedshiftPDFs or astrolab containers")


def data_hash(obj: Any) -> str:
    """SHA-256 (hex) of a data object's content: equal data give equal hashes, any changed value another.

    Parameters
    ----------
    obj : numpy.ndarray, torch.Tensor, astropy.table.Table, pandas.DataFrame, RedshiftPDF,
          astrolab container, or dict/list of those
        The data. Tables hash column names, units, values and masks; containers
        hash their array and table attributes.

    Returns
    -------
    str
        64 hex characters.
    """
    h = hashlib.sha256()
    _update(h, obj)
    return h.hexdigest()


def _canonical(doc: dict) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=True).encode("utf-8")


def session_hash(doc: Mapping) -> str:
    """SHA-256 of a session document without its ``session_hash`` and ``created`` fields."""
    body = {k: v for k, v in doc.items() if k not in ("session_hash", "created")}
    return hashlib.sha256(_canonical(body)).hexdigest()


def _file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------------- view states
def _json_value(v):
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def view_state(view: Any, selection_names: Mapping[int, str] | None = None) -> dict:
    """JSON-able state of a panel (or a plain dict, returned as is).

    Parameters
    ----------
    view : astrolab panel or dict
        A panel of :mod:`astrolab.widgets` (its class, title, selection name, the x/y
        ranges of every bokeh figure it holds and brushed ranges).
    selection_names : dict of id(Selection) -> str, optional
        Names under which the session stores the selections.

    Returns
    -------
    dict
    """
    if isinstance(view, Mapping):
        json.dumps(view)  # must be JSON-able
        return dict(view)
    state: dict = {"class": f"{type(view).__module__}.{type(view).__qualname__}"}
    model = getattr(view, "selection_model", None)
    if model is not None:
        state["selection"] = (selection_names or {}).get(id(model), model.name)
        state["selection_sha256"] = model.fingerprint()
    figs = dict(getattr(view, "figures", {}) or {})
    if not figs:
        for name, w in (getattr(view, "widgets", {}) or {}).items():
            fig = getattr(w, "_model", None)
            if fig is not None and hasattr(fig, "x_range"):
                figs[name] = fig
    ranges = {}
    for name, fig in figs.items():
        r = {}
        for ax in ("x_range", "y_range"):
            rng = getattr(fig, ax, None)
            start, end = getattr(rng, "start", None), getattr(rng, "end", None)
            if isinstance(start, (int, float)) and isinstance(end, (int, float)):
                r[ax] = [float(start), float(end)]
        if r:
            ranges[name] = r
    state["ranges"] = ranges
    brushes = {}
    for name, v in (getattr(view, "_brush_views", {}) or {}).items():
        if getattr(v, "brushed", None) is not None:
            brushes[name] = [float(x) for x in v.brushed]
    if brushes:
        state["brushed"] = brushes
    return state


# ---------------------------------------------------------------------------------------- save
def _as_selection_dict(selections) -> dict[str, Selection]:
    if selections is None:
        return {}
    if isinstance(selections, Selection):
        selections = [selections]
    if isinstance(selections, Mapping):
        out = {}
        for k, v in selections.items():
            out[str(k)] = v if isinstance(v, Selection) else Selection(v, name=str(k))
        return out
    out = {}
    for s in selections:
        if not isinstance(s, Selection):
            raise invalid("save_session(selections=...)", f"got {type(s).__name__} in the list",
                          "pass Selections, or a dict {name: ids}")
        if s.name in out:
            raise invalid("save_session(selections=...)", f"two selections are named {s.name!r}",
                          "rename one (Selection.rename) or pass a dict {name: selection}")
        out[s.name] = s
    return out


def save_session(path, *, selections: Any = None, views: Mapping[str, Any] | None = None,
                 model_config: Mapping | None = None, seed: int | None = None, seeds: Mapping | None = None,
                 data: Mapping[str, Any] | None = None, metrics: Mapping[str, float] | None = None,
                 checkpoints: Mapping[str, Any] | None = None, queries: Mapping[str, Mapping] | None = None,
                 notes: str = "") -> Path:
    """Write a session (one JSON file, plus checkpoints by checksum) that :func:`load_session` restores.

    Parameters
    ----------
    path : path-like
        Destination ``.json`` file. Checkpoints go to ``<stem>.checkpoints/<sha256>.pt`` next to it.
    selections : Selection, list of Selection or dict of str -> Selection or ids
        Named selections (a list uses each selection's name).
    views : dict of str -> panel or dict, optional
        View states (see :func:`view_state`); a panel's selection is saved too when
        ``selections`` does not name it already.
    model_config : dict, optional
        JSON-able model/training configuration.
    seed : int, optional
        Global seed of the session; ``seeds`` adds named seeds (e.g. ``{"split": 3}``).
    data : dict of str -> data object, optional
        Data the selections refer to; only their hashes (:func:`data_hash`), sizes and
        types are stored.
    metrics : dict of str -> float, optional
        Metrics to reproduce after loading.
    checkpoints : dict of str -> path-like, optional
        Checkpoint files (astrolab layout) copied next to the session by checksum.
    queries : dict of str -> dict, optional
        Archive queries the data came from, each ``{"archive": ..., "kind": ..., "query": {...}}``
        as :mod:`astrolab.data.remote` issues them; stored with their hash (the cache key,
        :func:`astrolab.data.remote._cache.query_key`) so a later load can check it asks the same.
    notes : str
        Free text.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    sels = _as_selection_dict(selections)
    names = {id(s): n for n, s in sels.items()}
    view_docs = {}
    for vname, view in (views or {}).items():
        model = getattr(view, "selection_model", None)
        if model is not None and id(model) not in names:
            key = model.name if model.name not in sels else f"{vname}.selection"
            sels[key] = model
            names[id(model)] = key
        view_docs[str(vname)] = view_state(view, names)
    data_doc = {}
    for dname, obj in (data or {}).items():
        entry = {"sha256": data_hash(obj), "type": type(obj).__name__}
        try:
            entry["n"] = int(len(obj))
        except TypeError:
            pass
        data_doc[str(dname)] = entry
    query_doc = {}
    for qname, q in (queries or {}).items():
        query_doc[str(qname)] = _query_entry(qname, q)
    ckpt_doc = {}
    if checkpoints:
        folder = path.with_name(path.stem + ".checkpoints")
        for cname, cpath in checkpoints.items():
            cpath = Path(cpath)
            if not cpath.is_file():
                raise invalid(f"save_session(checkpoints={{{cname!r}: ...}})", f"{str(cpath)!r} is not a file",
                              "pass the path of a checkpoint written by astrolab.train")
            digest = _file_sha256(cpath)
            dest = folder / f"{digest}.pt"
            if not dest.exists():
                with atomic_path(dest) as tmp:
                    shutil.copyfile(cpath, tmp)
            meta = _checkpoint_meta(cpath)
            ckpt_doc[str(cname)] = {"sha256": digest, "file": f"{folder.name}/{dest.name}", **meta}
    from astrolab.train.checkpoint import json_config

    doc = {
        "format": _FORMAT,
        "format_version": FORMAT_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "git": git_revision(),
        "seed": None if seed is None else int(seed),
        "seeds": {str(k): int(v) for k, v in (seeds or {}).items()},
        "model_config": json_config(dict(model_config), "save_session(model_config=...)") if model_config else {},
        "data": data_doc,
        "selections": {n: s.to_dict() for n, s in sels.items()},
        "views": view_docs,
        "metrics": {str(k): _json_value(v) for k, v in (metrics or {}).items()},
        "checkpoints": ckpt_doc,
        "queries": query_doc,
        "notes": str(notes),
    }
    doc["session_hash"] = session_hash(doc)
    text = json.dumps(doc, indent=1, sort_keys=True, allow_nan=True)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _checkpoint_meta(path) -> dict:
    try:
        import torch

        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"checkpoint {str(path)!r}: cannot be read with weights_only=True ({exc}). "
                              f"Fix: save state_dict + config dicts (astrolab.train.save_checkpoint), "
                              f"never pickled objects.") from exc
    if not isinstance(payload, dict):
        raise CheckpointError(f"checkpoint {str(path)!r}: is a {type(payload).__name__}, not a dict. Fix: save "
                              f"it with astrolab.train.save_checkpoint.")
    if "state_dict" not in payload:
        return {"format_version": 0, "astrolab_version": None, "model_class": None}
    return {"format_version": int(payload.get("format_version", 0)),
            "astrolab_version": payload.get("astrolab_version"), "model_class": payload.get("model_class")}


# ---------------------------------------------------------------------------------------- load
def _migrate_0_to_1(doc: dict) -> dict:
    """Session layout 0 (prototype): ``selections`` was ``{name: [ids]}``, no ``views``/``checkpoints``."""
    sels = {}
    for name, ids in (doc.get("selections") or {}).items():
        sels[name] = ids if isinstance(ids, dict) else Selection(ids, name=name).to_dict()
    doc = dict(doc, selections=sels, format_version=1)
    doc.setdefault("views", {})
    doc.setdefault("checkpoints", {})
    doc.setdefault("seeds", {})
    doc.setdefault("metrics", {})
    return doc


_MIGRATIONS = {0: _migrate_0_to_1}


def migrate_checkpoint(payload: Any, path="checkpoint") -> dict:
    """Bring a checkpoint dict to the current layout (:data:`astrolab.train.checkpoint.FORMAT_VERSION`).

    Layout 0 is a bare ``state_dict`` (``torch.save(model.state_dict())``): it is wrapped as
    ``{"state_dict": ..., "format_version": 1, "epoch": 0}``. A newer layout raises.

    Raises
    ------
    astrolab.errors.CheckpointError
        Newer layout, or not a dict.
    """
    from astrolab.train.checkpoint import FORMAT_VERSION as CKPT_VERSION

    if not isinstance(payload, dict):
        raise CheckpointError(f"checkpoint {str(path)!r}: is a {type(payload).__name__}, not a dict. Fix: save "
                              f"state_dict + config with astrolab.train.save_checkpoint.")
    if "state_dict" not in payload:
        if payload and all(hasattr(v, "shape") for v in payload.values()):
            return {"state_dict": payload, "format_version": CKPT_VERSION, "epoch": 0, "migrated_from": 0}
        raise CheckpointError(f"checkpoint {str(path)!r}: neither an astrolab checkpoint nor a state_dict. "
                              f"Fix: pass a file written by astrolab.train.save_checkpoint.")
    version = int(payload.get("format_version", 0))
    if version > CKPT_VERSION:
        raise CheckpointError(f"checkpoint {str(path)!r}: format_version {version} is newer than this astrolab "
                              f"reads ({CKPT_VERSION}). Fix: upgrade astrolab.")
    out = dict(payload)
    out.setdefault("epoch", 0)
    out["format_version"] = CKPT_VERSION
    return out


def _major_minor(v: str) -> str:
    return ".".join(str(v).split("+")[0].split(".")[:2])


@dataclass
class Session:
    """A loaded session (see :func:`load_session`).

    Attributes
    ----------
    path : pathlib.Path
    selections : dict of str -> Selection
        Restored selections (ids identical to the saved ones, checksums verified).
    views : dict of str -> dict
        View states (see :func:`view_state`).
    model_config, seeds, metrics, versions, git, data, checkpoints : dict
        As saved.
    seed : int or None
    session_hash : str
    data_verified : list of str
        Data names whose hashes were checked against the objects passed to :func:`load_session`.
    mismatches : list of str
        Differences accepted with ``strict=False`` (empty for a strict load).
    """

    path: Path
    selections: dict
    views: dict
    model_config: dict
    seed: int | None
    seeds: dict
    metrics: dict
    versions: dict
    git: dict
    data: dict
    checkpoints: dict
    session_hash: str
    notes: str = ""
    data_verified: list = field(default_factory=list)
    mismatches: list = field(default_factory=list)

    def selection(self, name: str) -> Selection:
        """The selection saved under ``name``."""
        if name not in self.selections:
            raise invalid(f"Session.selection({name!r})", "no such selection",
                          f"use one of {sorted(self.selections)}")
        return self.selections[name]

    def checkpoint(self, name: str, model: Any = None, map_location: str = "cpu") -> dict:
        """Load a referenced checkpoint (checksum verified, ``weights_only=True``, migrated if older).

        Parameters
        ----------
        name : str
            Name given in ``save_session(checkpoints={name: path})``.
        model : torch.nn.Module, optional
            Receives the weights (``load_state_dict``).
        map_location : str

        Returns
        -------
        dict
            The checkpoint in the current layout.

        Raises
        ------
        astrolab.errors.CheckpointError
            Missing or altered file, newer layout, weights that do not fit ``model``.
        """
        import torch

        if name not in self.checkpoints:
            raise invalid(f"Session.checkpoint({name!r})", "no such checkpoint",
                          f"use one of {sorted(self.checkpoints)}")
        entry = self.checkpoints[name]
        file = self.path.parent / entry["file"]
        if not file.is_file():
            raise CheckpointError(f"checkpoint {str(file)!r} of session {str(self.path)!r}: file not found. Fix: "
                                  f"copy the folder {Path(entry['file']).parent} next to the session file.")
        if _file_sha256(file) != entry["sha256"]:
            raise CheckpointError(f"checkpoint {str(file)!r}: its SHA-256 differs from the one the session "
                                  f"recorded (file altered). Fix: restore the original file or re-save the session.")
        payload = migrate_checkpoint(torch.load(file, map_location=map_location, weights_only=True), file)
        if model is not None:
            target = getattr(model, "net", model)
            try:
                target.load_state_dict(payload["state_dict"])
            except (RuntimeError, KeyError, ValueError) as exc:
                raise CheckpointError(f"checkpoint {str(file)!r}: its weights do not fit "
                                      f"{type(target).__name__} ({str(exc).splitlines()[0][:200]}). Fix: build the "
                                      f"model from the session's model_config.") from exc
        return payload

    def apply(self, view: Any, name: str | None = None) -> Any:
        """Restore a saved view state on a freshly built panel (its selection, plot ranges, brushes).

        Parameters
        ----------
        view : astrolab panel
            Built on the same data as when saved.
        name : str, optional
            Key in :attr:`views` (default: the only view, or the one whose class matches).

        Returns
        -------
        the panel
        """
        if name is None:
            cls = f"{type(view).__module__}.{type(view).__qualname__}"
            cands = [k for k, v in self.views.items() if v.get("class") == cls] or list(self.views)
            if len(cands) != 1:
                raise invalid("Session.apply", f"{len(cands)} saved views could match {type(view).__name__}",
                              f"pass name= one of {sorted(self.views)}")
            name = cands[0]
        state = self.views[name]
        sel = state.get("selection")
        if sel is not None and hasattr(view, "selection_model"):
            view.selection_model.set(self.selection(sel).array)
        figs = dict(getattr(view, "figures", {}) or {})
        for fname, w in (getattr(view, "widgets", {}) or {}).items():
            fig = getattr(w, "_model", None)
            if fig is not None:
                figs.setdefault(fname, fig)
        for fname, r in state.get("ranges", {}).items():
            fig = figs.get(fname)
            if fig is None:
                continue
            for ax, (a, b) in r.items():
                rng = getattr(fig, ax, None)
                if rng is not None and hasattr(rng, "start"):
                    rng.start, rng.end = a, b
        for bname, (lo, hi) in state.get("brushed", {}).items():
            bv = getattr(view, "_brush_views", {}).get(bname)
            if bv is not None:
                bv.show_brush(lo, hi)
        return view


def _query_entry(name, q) -> dict:
    """``{"archive", "kind", "query", "sha256"}`` of one archive query (see :func:`save_session`)."""
    from astrolab.data.remote._cache import query_key

    if not isinstance(q, Mapping) or not {"archive", "kind", "query"} <= set(q):
        raise invalid(f"session query {name!r}", "must be a dict with 'archive', 'kind' and 'query'",
                      "pass e.g. {'archive': 'sdss', 'kind': 'photometry', 'query': {'ra': 150.1, ...}}")
    query = json.loads(json.dumps(dict(q["query"]), default=str))
    return {"archive": str(q["archive"]), "kind": str(q["kind"]), "query": query,
            "sha256": query_key(str(q["archive"]), str(q["kind"]), query)}


def load_session(path, data: Mapping[str, Any] | None = None, *, strict: bool = True,
                 queries: Mapping[str, Mapping] | None = None) -> Session:
    """Read a session written by :func:`save_session` and restore its selections.

    Parameters
    ----------
    path : path-like
        The session ``.json`` file.
    data : dict of str -> data object, optional
        The data to restore onto, by the names used when saving; each is hashed and
        must match the saved hash.
    strict : bool
        Refuse (default) or only warn when data or result-relevant versions differ.
    queries : dict of str -> dict, optional
        The archive queries this session's data now come from (as for :func:`save_session`);
        each must hash like the saved one.

    Returns
    -------
    Session

    Raises
    ------
    SessionError
        Missing/corrupt/newer file, edited content (session hash), data that differ,
        or versions that change results (astrolab, or major.minor of :data:`RESULT_PACKAGES`).
    """
    path = Path(path)
    if not path.is_file():
        raise _session_error(path, "file not found", "check the path given to save_session")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _session_error(path, f"is not valid JSON ({exc})", "re-save the session") from exc
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        raise _session_error(path, "is not an astrolab session file", "pass a file written by astrolab.save_session")
    version = int(doc.get("format_version", 0))
    if version > FORMAT_VERSION:
        raise _session_error(path, f"format_version {version} is newer than this astrolab reads ({FORMAT_VERSION})",
                             "upgrade astrolab")
    stored_hash = doc.get("session_hash")
    if version == FORMAT_VERSION and stored_hash and session_hash(doc) != stored_hash:
        raise _session_error(path, "its content does not match its session_hash (edited by hand or corrupt)",
                             "re-save the session from Python instead of editing the file")
    while version < FORMAT_VERSION:
        doc = _MIGRATIONS[version](doc)
        version = int(doc["format_version"])

    problems: list[str] = []
    saved_v = doc.get("versions", {})
    here_v = package_versions()
    if saved_v.get("astrolab") and saved_v["astrolab"] != here_v["astrolab"]:
        problems.append(f"astrolab {saved_v['astrolab']} saved, {here_v['astrolab']} installed")
    for pkg in RESULT_PACKAGES:
        a, b = saved_v.get(pkg), here_v.get(pkg)
        if a and b and _major_minor(a) != _major_minor(b):
            problems.append(f"{pkg} {a} saved, {b} installed")
    verified = []
    saved_data = doc.get("data", {})
    for dname, obj in (data or {}).items():
        if dname not in saved_data:
            raise _session_error(path, f"has no data named {dname!r}",
                                 f"pass data under the saved names {sorted(saved_data)}")
        got = data_hash(obj)
        if got != saved_data[dname]["sha256"]:
            n_saved = saved_data[dname].get("n")
            try:
                n_here = len(obj)
            except TypeError:
                n_here = None
            problems.append(f"data {dname!r} differ from the saved data (hash {got[:12]} vs "
                            f"{saved_data[dname]['sha256'][:12]}; {n_here} vs {n_saved} rows)")
        else:
            verified.append(dname)
    saved_queries = doc.get("queries", {})
    for qname, q in (queries or {}).items():
        if qname not in saved_queries:
            raise _session_error(path, f"has no archive query named {qname!r}",
                                 f"pass queries under the saved names {sorted(saved_queries)}")
        entry = _query_entry(qname, q)
        if entry["sha256"] != saved_queries[qname]["sha256"]:
            problems.append(f"archive query {qname!r} differs from the saved one ({entry['archive']} "
                            f"{entry['kind']} {entry['query']} vs {saved_queries[qname]['query']})")
    if problems:
        msg = "; ".join(problems)
        if strict:
            raise _session_error(path, f"cannot be restored identically: {msg}",
                                 "load the same data and install the saved versions (see the file's 'versions'), "
                                 "or pass strict=False to restore anyway and accept different results")
        warnings.warn(f"session {str(path)!r}: restored although {msg}", stacklevel=2)

    sels = {}
    for name, entry in doc.get("selections", {}).items():
        try:
            sels[name] = Selection.from_dict(entry)
        except AstrolabError as exc:
            raise _session_error(path, f"selection {name!r} is damaged ({exc})", "re-save the session") from exc
    return Session(path=path, selections=sels, views=doc.get("views", {}), model_config=doc.get("model_config", {}),
                   seed=doc.get("seed"), seeds=doc.get("seeds", {}), metrics=doc.get("metrics", {}),
                   versions=saved_v, git=doc.get("git", {}), data=saved_data, checkpoints=doc.get("checkpoints", {}),
                   session_hash=doc.get("session_hash") or session_hash(doc), notes=doc.get("notes", ""),
                   data_verified=verified, mismatches=problems)
