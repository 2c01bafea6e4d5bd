"""Shared machinery of the astrolab panels (ipywidgets boxes with linked selection)."""

from __future__ import annotations

import functools
import html
import traceback
from typing import Any

import ipywidgets as W
import numpy as np

from astrolab.errors import AstrolabError, invalid
from astrolab.selection import Selection, SelectionEvent

__all__ = ["Panel", "bokeh_widget", "guarded"]

_LEVEL_COLORS = {"info": "#31708f", "warning": "#8a6d3b", "error": "#a94442", "ok": "#3c763d"}


def bokeh_widget(fig, name: str = "plot"):
    """Wrap a bokeh model in a :class:`~astrolab.widgets._bokeh.LiveBokehModel` (synced over the Jupyter comm).

    A ``jupyter_bokeh.BokehModel`` that also shows changes made before its view
    is on screen, so a panel may fill a plot before or after displaying it.
    The widget gets the CSS classes ``astrolab-plot`` and ``astrolab-plot-<name>``.
    """
    from astrolab.widgets._bokeh import LiveBokehModel

    w = LiveBokehModel(fig)
    w.add_class("astrolab-plot")
    w.add_class(f"astrolab-plot-{name}")
    return w


def guarded(method):
    """Decorator for UI callbacks: exceptions become a status message instead of a traceback.

    The callback runs holding :data:`astrolab.widgets._bokeh.DOCUMENT_LOCK` (widget events arrive on
    ipykernel's subshell thread, while cells run on the main thread).
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        from astrolab.widgets._bokeh import DOCUMENT_LOCK

        try:
            with DOCUMENT_LOCK:
                return method(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - shown to the user, kept for debugging
            self._last_exception = exc
            self._last_traceback = traceback.format_exc()
            self.show_message(_explain(exc), "error")
            return None

    return wrapper


def _explain(exc: BaseException) -> str:
    if isinstance(exc, AstrolabError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class Panel(W.VBox):
    """Base class of every astrolab panel: an ``ipywidgets.VBox`` with a shared selection.

    Parameters
    ----------
    selection : astrolab.selection.Selection, optional
        Selection model to share with other panels; a new one by default.
    title : str
        Title shown at the top.

    Attributes
    ----------
    selection_model : Selection
        The shared selection (assigning another one re-links the panel).
    selection : frozenset
        Currently selected object ids; assigning selects programmatically and
        updates every panel linked to the same model.
    status : ipywidgets.HTML
        One-line status/message area (CSS class ``astrolab-status``).
    message : str
        Plain text of the current status message.
    """

    _css_name = "astrolab-panel"

    def __init__(self, *, selection: Selection | None = None, title: str = "", **kwargs):
        from astrolab.viz import enable_inline

        enable_inline()
        super().__init__(**kwargs)
        if selection is not None and not isinstance(selection, Selection):
            raise invalid(f"{type(self).__name__}(selection=...)", f"got {type(selection).__name__}",
                          "pass an astrolab.selection.Selection (e.g. other_panel.selection_model) or None")
        self.add_class("astrolab-panel")
        self.add_class(self._css_name)
        self.title = W.HTML(f"<b>{html.escape(title)}</b>")
        self.title.add_class("astrolab-title")
        self.status = W.HTML("")
        self.status.add_class("astrolab-status")
        self.message = ""
        self.message_level = "info"
        self._last_exception: BaseException | None = None
        self._last_traceback = ""
        self._ready = False
        self._selection_model: Selection | None = None
        self.selection_model = selection if selection is not None else Selection()

    # -------------------------------------------------------------- selection
    @property
    def selection_model(self) -> Selection:
        """The :class:`~astrolab.selection.Selection` shared by linked views."""
        return self._selection_model

    @selection_model.setter
    def selection_model(self, model: Selection) -> None:
        if not isinstance(model, Selection):
            raise invalid(f"{type(self).__name__}.selection_model", f"got {type(model).__name__}",
                          "assign an astrolab.selection.Selection")
        if self._selection_model is not None:
            self._selection_model.unobserve(self._handle_event)
        self._selection_model = model
        model.observe(self._handle_event)
        if self._ready:
            self._handle_event(SelectionEvent(model, model.array, model.array, None))

    @property
    def selection(self) -> frozenset:
        """Selected object ids (frozenset); assign an iterable of ids to select."""
        return self._selection_model.ids

    @selection.setter
    def selection(self, ids: Any) -> None:
        self._selection_model.set(ids, source=None)

    def _publish(self, ids: Any) -> None:
        """Set the shared selection from a user action in this panel."""
        self._selection_model.set(ids, source=self)

    def _handle_event(self, event: SelectionEvent) -> None:
        from astrolab.widgets._bokeh import DOCUMENT_LOCK

        if not self._ready:
            return
        try:
            with DOCUMENT_LOCK:  # selections come from cells (main thread) and from browser events (subshell)
                self._on_selection(event.ids, event.source)
        except Exception as exc:  # noqa: BLE001
            self._last_exception = exc
            self._last_traceback = traceback.format_exc()
            self.show_message(f"Could not show the selection: {_explain(exc)}", "error")

    def _on_selection(self, ids: np.ndarray, source: Any) -> None:  # pragma: no cover - overridden
        """Redraw for new selected ids (sorted array); ``source`` is who changed it."""

    # --------------------------------------------------------------- display
    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        """Widget view, plus a static ``image/png`` of the panel's plots when asked for.

        The PNG (:func:`astrolab.export.static_png`, provenance in its text chunks) is
        added when ``include`` names ``image/png`` or ``ASTROLAB_STATIC_FALLBACK=1`` (set
        by ``astrolab reproduce``): exported HTML, GitHub's notebook preview and the
        reproduce report show it where no widget manager runs.
        """
        import os

        # Plots filled before display: make the views about to be built start from the current data.
        from astrolab.widgets._bokeh import refresh_stale

        refresh_stale(self)
        bundle = super()._repr_mimebundle_(include=include, exclude=exclude, **kwargs)
        want = (include is not None and "image/png" in include) or os.environ.get("ASTROLAB_STATIC_FALLBACK") == "1"
        if want and not (exclude and "image/png" in exclude):
            data = bundle[0] if isinstance(bundle, tuple) else bundle
            if isinstance(data, dict):
                try:
                    import base64

                    from astrolab.export import static_png

                    data["image/png"] = base64.b64encode(static_png(self, dpi=80)).decode("ascii")
                except Exception:  # noqa: BLE001 - a fallback image never breaks the live widget
                    pass
        return bundle

    # ---------------------------------------------------------------- status
    def show_message(self, text: str, level: str = "info") -> None:
        """Show ``text`` in the status line (level: info, ok, warning, error)."""
        self.message = str(text)
        self.message_level = level
        color = _LEVEL_COLORS.get(level, "#333")
        self.status.value = (f'<div class="astrolab-msg astrolab-msg-{level}" style="color:{color}">'
                             f"{html.escape(self.message)}</div>") if text else ""

    def clear_message(self) -> None:
        """Empty the status line."""
        self.show_message("")

    def close(self) -> None:
        """Unlink from the selection and close the widgets."""
        if self._selection_model is not None:
            self._selection_model.unobserve(self._handle_event)
        for child in list(self.children):
            try:
                child.close()
            except Exception:  # pragma: no cover
                pass
        super().close()


def placeholder(text: str, name: str) -> W.HTML:
    """An HTML box with a message (used where a plot cannot be drawn)."""
    w = W.HTML(f'<div class="astrolab-empty">{html.escape(text)}</div>')
    w.add_class("astrolab-placeholder")
    w.add_class(f"astrolab-placeholder-{name}")
    return w
