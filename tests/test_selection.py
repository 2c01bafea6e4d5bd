"""Tests of astrolab.selection (pure Python selection model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from astrolab.errors import DataValidationError
from astrolab.selection import IdIndex, Selection, link


def test_set_observe_and_echo_source():
    sel = Selection(name="a")
    events = []
    sel.observe(events.append)
    sel.set([5, 3, 3, 1], source="view1")
    assert sel.ids == frozenset({1, 3, 5})
    assert sel.array.tolist() == [1, 3, 5]
    assert len(events) == 1 and events[0].source == "view1" and events[0].old.size == 0
    sel.set({1, 3, 5})  # no change -> no event
    assert len(events) == 1
    sel.clear()
    assert len(sel) == 0 and not sel and len(events) == 2
    sel.unobserve(events.append)
    sel.set([1])
    assert len(events) == 2


def test_algebra_returns_new_selections():
    a = Selection([1, 2, 3, 4], name="a")
    b = Selection([3, 4, 5], name="b")
    assert (a | b).ids == {1, 2, 3, 4, 5}
    assert (a & b).ids == {3, 4}
    assert (a - b).ids == {1, 2}
    assert (a ^ b).ids == {1, 2, 5}
    assert (a & {4, 9}).ids == {4}
    assert a.ids == {1, 2, 3, 4}  # unchanged
    assert 3 in a and 7 not in a
    assert a == {1, 2, 3, 4}


def test_string_ids_and_bad_ids():
    s = Selection(["b", "a", "b"])
    assert s.array.tolist() == ["a", "b"]
    with pytest.raises(DataValidationError, match="Fix"):
        Selection([1.5, 2.0])
    with pytest.raises(DataValidationError):
        Selection(np.array([True, False]))


def test_broken_observer_does_not_stop_others():
    sel = Selection()
    seen = []

    def broken(ev):
        raise RuntimeError("boom")

    sel.observe(broken)
    sel.observe(lambda ev: seen.append(ev.ids.size))
    sel.set([1, 2])
    assert seen == [2]
    assert isinstance(sel.errors[-1], RuntimeError)


def test_from_predicate_and_to_table():
    cat = Table({"object_id": [10, 11, 12, 13], "mag": [20.0, 21.5, 19.0, 23.0]})
    s = Selection.from_predicate(cat, lambda t: t["mag"] < 21)
    assert s.ids == {10, 12}
    rows = s.to_table(cat)
    assert list(rows["object_id"]) == [10, 12] and np.allclose(rows["mag"], [20.0, 19.0])
    s2 = Selection.from_predicate(cat, np.array([False, True, False, True]))
    assert s2.ids == {11, 13}
    df = cat.to_pandas()
    assert list(s2.to_table(df)["object_id"]) == [11, 13]
    with pytest.raises(DataValidationError):
        Selection.from_predicate(cat, np.array([True, False]))


def test_to_subset():
    import torch
    from torch.utils.data import TensorDataset

    ds = TensorDataset(torch.arange(5).float())
    sub = Selection([101, 104]).to_subset(ds, ids_of_dataset=[100, 101, 102, 103, 104])
    assert len(sub) == 2 and float(sub[1][0]) == 4.0
    with pytest.raises(DataValidationError):
        Selection([1]).to_subset(ds)  # no ids


def test_id_index_fast_and_hashed():
    contiguous = IdIndex(np.arange(100, 200))
    assert contiguous.positions([150, 99, 199]).tolist() == [50, 99]
    hashed = IdIndex(np.array([7, 3, 9, 1]))
    assert hashed.positions([9, 1, 5]).tolist() == [2, 3]
    assert IdIndex(np.array(["x", "y"])).position("y") == 1


def test_link_shares_model():
    class FakePanel:
        def __init__(self):
            self.selection_model = Selection()

    a, b = FakePanel(), FakePanel()
    a.selection_model.set([1])
    shared = link(a, b)
    assert b.selection_model is shared is a.selection_model
    with pytest.raises(DataValidationError):
        link(object())
