"""``LiveBokehModel``: a ``jupyter_bokeh.BokehModel`` whose views never miss an update.

Root cause it fixes
-------------------
``jupyter_bokeh.BokehModel`` serialises its bokeh document once, into the synced
``render_bundle`` trait, when the widget is created. Every later change of the
document is sent as a custom "patch" comm message, and the front-end applies a
patch only to the BokehJS document of a view that *already exists*
(``BokehView._consume_patch`` drops it otherwise). A new view is built from
``render_bundle``. So a change made after the widget is created but before its
view is on screen -- filling a table right after wrapping it, updating a plot
and only then putting it into a box, drawing a first object in a panel's
``__init__`` -- never reaches the browser: the plot stays blank.

What it does
------------
The widget asks the front-end to count its views (ipywidgets' ``_view_count``:
0 starts the counting; the front-end adds one when a view is displayed and
removes one when a view goes) and keeps ``render_bundle`` equal to the
document whenever a view may be built from it:

- every change is still sent as a patch, so views that exist follow it cheaply
  (streaming a loss curve does not rebuild the plot);
- a change made while no view is known to exist may be lost, so the widget is
  marked for a refresh: at the end of the current kernel handler (one
  ``call_soon`` on the kernel's event loop per handler, whatever the number of
  changes), before the widget or an astrolab panel holding it is displayed,
  and whenever its full state is serialised (``get_state()``: comm open, the
  front-end's ``request_state`` after a page reload), the document is
  re-serialised into ``render_bundle``. A view built meanwhile from the old
  bundle re-renders on the ``render_bundle`` change;
- when the front-end reports a new view and the bundle is older than the
  document (a plot shown again after being taken out of a box), the bundle is
  refreshed.

So any order of "create, update, display" shows the latest data.

Echoes of our own patches are dropped
-------------------------------------
BokehJS reports every change of its document to the kernel -- including the changes it
makes while *applying a patch from the kernel*. ``jupyter_bokeh`` sends those back as
"jsevent" messages, and they arrive late: a training panel adds line 1, line 2 and line 3
in one redraw, then the echo of the first patch (``renderers = [line 1]``) arrives and,
applied, detaches lines 2 and 3 from the document, so their later data never reach the
browser (only the first loss curve was drawn). Every patch sent is fingerprinted per
(model, attribute); an incoming event whose value matches a pending fingerprint is the
echo of that patch and is dropped. Events that reference models no longer in the document
(stale by construction) are dropped too. Genuine browser events (ranges, selections, sizes)
are applied as before.

One lock for every bokeh document
---------------------------------
ipykernel 7 handles comm messages (the browser's bokeh events: ranges, selections, the
``renderers`` list echoed back) on a *subshell thread*, while cells and the callbacks a
training thread queues run on the main thread. Bokeh documents are not thread-safe: a line
added on one thread while the other applied a browser event raised "Set changed size during
iteration" inside bokeh. :data:`DOCUMENT_LOCK` (re-entrant) serialises them: incoming events
(:meth:`LiveBokehModel._sync_model`) and every astrolab write (panels' selection handlers and
UI callbacks, the training panel's redraws) hold it.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import logging
import threading
import weakref
from numbers import Number
from typing import Any, Iterator

import numpy as np

from jupyter_bokeh import BokehModel

__all__ = ["LiveBokehModel", "flush_pending", "refresh_stale", "DOCUMENT_LOCK", "value_fingerprint"]

#: Held while any thread reads or writes a bokeh document shown by astrolab (see the module docstring).
DOCUMENT_LOCK = threading.RLock()

_LOCK = threading.Lock()
_PENDING: weakref.WeakSet = weakref.WeakSet()  # widgets with changes that may not have reached a view
_SCHEDULED = False


_LOG = logging.getLogger(__name__)
_ECHO_MEMORY = 64  # patches remembered per (model, attribute) while their echoes are pending


def value_fingerprint(value: Any) -> Any:
    """A hashable summary of a bokeh property value, equal for a value and its round trip through BokehJS.

    Models compare by id, numeric arrays and lists by their float64 bytes (digest),
    mappings by sorted keys; used to recognise the browser's echo of a patch.
    """
    from bokeh.model import Model

    if isinstance(value, Model):
        return ("M", value.id)
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, str):
        return ("V", value)
    if isinstance(value, Number):
        return ("N", float(value))
    if isinstance(value, dict):
        return ("D", tuple(sorted((str(k), value_fingerprint(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple, np.ndarray)):
        arr = None
        try:
            arr = np.asarray(value)
        except Exception:  # ragged
            arr = None
        if arr is not None and arr.dtype.kind in "biuf":
            arr = np.ascontiguousarray(arr, dtype=np.float64)
            return ("A", arr.shape, hashlib.blake2b(arr.tobytes(), digest_size=16).digest())
        return ("L", tuple(value_fingerprint(v) for v in list(value)))
    return ("R", repr(value))


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def flush_pending() -> int:
    """Re-serialise every widget with changes made while it had no view; returns how many."""
    global _SCHEDULED
    with _LOCK:
        _SCHEDULED = False
        todo = list(_PENDING)
        _PENDING.clear()
    n = 0
    for w in todo:
        if w._maybe_lost and w.comm is not None:
            w.refresh_bundle()
            n += 1
    return n


def _schedule(widget: "LiveBokehModel") -> None:
    """Mark ``widget`` for a refresh at the end of the current kernel handler."""
    global _SCHEDULED
    with _LOCK:
        _PENDING.add(widget)
        if _SCHEDULED:
            return
        here = _running_loop()
        loop = here or widget._loop
        if loop is None or loop.is_closed():
            return  # no kernel loop: refreshed on display / get_state()
        _SCHEDULED = True
    try:
        if loop is here:
            loop.call_soon(flush_pending)
        else:  # a worker thread (e.g. TrainingPanel's): hand over to the kernel's loop
            loop.call_soon_threadsafe(flush_pending)
    except RuntimeError:  # loop closed meanwhile
        with _LOCK:
            _SCHEDULED = False


def _iter_widgets(widget: Any, _seen: set | None = None) -> Iterator[Any]:
    seen = _seen if _seen is not None else set()
    if id(widget) in seen:
        return
    seen.add(id(widget))
    yield widget
    for child in getattr(widget, "children", ()) or ():
        yield from _iter_widgets(child, seen)


def refresh_stale(widget: Any) -> int:
    """Refresh the bundle of every :class:`LiveBokehModel` in ``widget``'s tree that is behind.

    Called before a panel is displayed, so the views it creates start from the
    current data. Returns how many were refreshed.
    """
    n = 0
    for w in _iter_widgets(widget):
        if isinstance(w, LiveBokehModel) and w._bundle_stale and w.comm is not None:
            w.refresh_bundle()
            n += 1
    return n


class LiveBokehModel(BokehModel):
    """``jupyter_bokeh.BokehModel`` whose views show changes made before they existed.

    Parameters
    ----------
    model : bokeh.models.LayoutDOM
        Figure, layout or table to show (put in a new ``bokeh.document.Document``
        when it has none).
    **kwargs
        Passed to ``ipywidgets.DOMWidget``.

    Attributes
    ----------
    render_bundle : dict
        What a front-end view is built from: ``docs_json`` (the serialised
        document), ``render_items`` and ``div``.
    has_views : bool
        The front-end reported at least one displayed view.
    bundle_is_current : bool
        ``render_bundle`` holds every change of the document.
    n_bundle_refreshes : int
        How many times the document was re-serialised after creation.
    """

    def __init__(self, model: Any, **kwargs: Any) -> None:
        self._bundle_stale = False  # render_bundle older than the document
        self._maybe_lost = False  # changed while no view was known: patches may have been dropped
        self.n_bundle_refreshes = 0
        self._sent: dict = {}  # (model id, attribute) -> fingerprints of values sent, awaiting their echo
        self._loop = _running_loop()
        kwargs.setdefault("_view_count", 0)  # ask the front-end to report its views
        super().__init__(model, **kwargs)
        self.observe(self._on_view_count, names="_view_count")

    @property
    def has_views(self) -> bool:
        """True when the front-end reported at least one displayed view."""
        n = self._view_count
        return isinstance(n, int) and n > 0

    @property
    def bundle_is_current(self) -> bool:
        """True when ``render_bundle`` holds every change of the document."""
        return not self._bundle_stale

    def refresh_bundle(self) -> None:
        """Re-serialise the bokeh document into ``render_bundle`` (existing views re-render)."""
        with DOCUMENT_LOCK:
            bundle = self._model_to_traits(self._model)
        self._bundle_stale = False
        self._maybe_lost = False
        self.n_bundle_refreshes += 1
        self.render_bundle = bundle

    def close(self) -> None:
        """Close the widget and stop listening to the document (safe to call twice)."""
        if getattr(self, "_bokeh_closed", False):
            return
        self._bokeh_closed = True
        with _LOCK:
            _PENDING.discard(self)
        doc = self._document if hasattr(self, "_model") else None
        super(BokehModel, self).close()  # jupyter_bokeh's close() raises KeyError when called twice
        if doc is not None:
            try:
                doc.remove_on_change(self)
            except KeyError:
                pass

    # ---------------------------------------------------------------- hooks
    def _document_patched(self, event: Any) -> None:
        self._bundle_stale = True
        if event.setter is self:  # came from a view: nothing to send
            return
        if self.comm is None:  # closed
            return
        if not self.has_views:
            self._maybe_lost = True
            _schedule(self)
        self._remember_sent(event)
        super()._document_patched(event)  # views that exist follow the patch

    # ---------------------------------------------------------------- echoes
    def _remember_sent(self, event: Any) -> None:
        """Fingerprint the value a patch sets, so that the browser's echo of it can be recognised."""
        from bokeh.document.events import ColumnDataChangedEvent, ModelChangedEvent

        if isinstance(event, ColumnDataChangedEvent):
            key, value = (event.model.id, "data"), event.model.data
        elif isinstance(event, ModelChangedEvent):
            key, value = (event.model.id, event.attr), event.new
        else:
            return
        try:
            fp = value_fingerprint(value)
        except Exception:  # never break sending for the bookkeeping
            return
        self._sent.setdefault(key, collections.deque(maxlen=_ECHO_MEMORY)).append(fp)

    def _is_echo(self, model: Any, attr: str, new: Any) -> bool:
        """True (and forgotten) when ``new`` is a value this widget sent for ``model.attr``."""
        pending = self._sent.get((model.id, attr))
        if not pending:
            return False
        try:
            fp = value_fingerprint(new)
        except Exception:
            return False
        if fp not in pending:
            return False
        while pending and pending.popleft() != fp:  # echoes arrive in order: older ones were superseded
            pass
        return True

    def _sync_model(self, _model: Any, content: dict, buffers: list) -> None:
        """Apply a browser event to the document while holding :data:`DOCUMENT_LOCK`.

        Echoes of this widget's own patches and events that reference models no
        longer in the document are dropped (see the module docstring).
        """
        with DOCUMENT_LOCK:
            if content.get("event", "") != "jsevent":
                return
            if content.get("kind") == "ModelChanged":
                from bokeh.core.serialization import Deserializer, DeserializationError, Serialized

                doc = self._document
                if doc is None:
                    return
                body = {k: v for k, v in content.items() if k != "event"}
                try:
                    event = Deserializer(list(doc.models), setter=self).deserialize(
                        Serialized(content=body, buffers=[]))
                except (DeserializationError, KeyError, ValueError) as exc:
                    _LOG.debug("dropped a browser event for models no longer in the document: %s", exc)
                    return
                model, attr, new = event["model"], event["attr"], event["new"]
                if self._is_echo(model, attr, new):
                    return
                descriptor = model.lookup(attr)
                new = descriptor.property.prepare_value(model, descriptor.name, new)
                old = descriptor._get(model)
                descriptor._set(model, old, new, setter=self)
                for cb in model._callbacks.get(attr, []):
                    cb(attr, old, new)
                return
            super()._sync_model(_model, content, buffers)

    def _on_view_count(self, change: dict) -> None:
        old, new = change["old"] or 0, change["new"] or 0
        if new > old and self._bundle_stale:
            # a view was (re)built from a bundle older than the document
            self.refresh_bundle()

    def get_state(self, key=None, drop_defaults=False):
        """Widget state (see ``ipywidgets.Widget.get_state``), with a current ``render_bundle``."""
        if key is None and self._bundle_stale and getattr(self, "comm", None) is not None:
            self.refresh_bundle()
        return super().get_state(key=key, drop_defaults=drop_defaults)

    def _repr_mimebundle_(self, **kwargs):
        if self._bundle_stale:
            self.refresh_bundle()
        return super()._repr_mimebundle_(**kwargs)
