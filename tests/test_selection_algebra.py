"""Selections as data: named algebra, predicates, conversions to Table / MultimodalSet / torch Subset."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table

from astrolab.data.containers import ImageSet, MultimodalSet
from astrolab.errors import DataValidationError
from astrolab.selection import Selection


@pytest.fixture
def catalog():
    rng = np.random.default_rng(3)
    n = 40
    return Table({"object_id": np.arange(1000, 1000 + n), "mag_r": rng.uniform(18, 25, n) * u.mag,
                  "z": rng.uniform(0, 2, n)})


@pytest.fixture
def mset(catalog):
    n = len(catalog)
    imgs = np.arange(n * 2 * 8 * 8, dtype=np.float32).reshape(n, 2, 8, 8)
    # images exist for every second object only, stored in reverse order
    have = np.arange(0, n, 2)[::-1]
    images = ImageSet(imgs[have], bands=["g", "r"], pixel_scale=0.2, ids=catalog["object_id"][have])
    return MultimodalSet(catalog, images=images)


def test_named_union_intersection_difference():
    a = Selection([1, 2, 3, 4], name="a")
    b = Selection([3, 4, 5], name="b")
    c = Selection([4, 9], name="c")
    u_ = a.union(b, c, name="any")
    assert u_.name == "any" and u_.array.tolist() == [1, 2, 3, 4, 5, 9]
    i_ = a.intersection(b, c)
    assert i_.array.tolist() == [4] and i_.name == "(a & b & c)"
    d_ = a.difference(b, name="only_a")
    assert d_.array.tolist() == [1, 2] and d_.name == "only_a"
    assert a.symmetric_difference(b, name="x").array.tolist() == [1, 2, 5]
    # old two-argument API and operators unchanged
    assert a.union(b) == (a | b) and (a | b).name == "(a | b)"
    assert a.ids == {1, 2, 3, 4} and b.ids == {3, 4, 5}  # inputs untouched
    assert a.union().array.tolist() == [1, 2, 3, 4] and a.union() is not a


def test_where_callable_mask_and_container(catalog, mset):
    bright = Selection.where(catalog, lambda t: t["mag_r"] < 21 * u.mag, name="bright")
    want = catalog["object_id"][catalog["mag_r"] < 21 * u.mag]
    assert bright.name == "bright" and bright.array.tolist() == sorted(want.tolist())
    hi_z = Selection.where(catalog, np.asarray(catalog["z"] > 1.0), name="high_z")
    assert len(hi_z) == int((catalog["z"] > 1.0).sum()) > 0
    # a MultimodalSet is filtered on its catalog
    assert Selection.where(mset, lambda t: t["z"] > 1.0, name="hz") == hi_z
    with pytest.raises(DataValidationError, match="one boolean per catalog row"):
        Selection.where(catalog, np.ones(3, bool))
    both = bright & hi_z
    assert all(catalog["z"][catalog["object_id"] == i][0] > 1 for i in both)


def test_to_table_keeps_units_and_rows(catalog):
    sel = Selection([1003, 1001, 1030, 5555], name="pick")
    t = sel.to_table(catalog)
    assert t["object_id"].tolist() == [1001, 1003, 1030]  # catalog order, unknown id skipped
    assert t["mag_r"].unit == u.mag
    np.testing.assert_allclose(t["z"], catalog["z"][[1, 3, 30]])


def test_to_multimodal_slices_every_modality(catalog, mset):
    sel = Selection([1000, 1001, 1004, 1010], name="four")
    sub = sel.to_multimodal(mset)
    assert isinstance(sub, MultimodalSet)
    assert sub.ids.tolist() == [1000, 1001, 1004, 1010]
    assert sub.has("images").tolist() == [True, False, True, True]
    # the images of the slice are the right objects' pixels
    full = np.arange(len(catalog) * 2 * 8 * 8, dtype=np.float32).reshape(len(catalog), 2, 8, 8)
    imgs = sub["images"]
    for oid, img in zip(imgs.ids.tolist(), np.asarray(imgs.images)):
        np.testing.assert_array_equal(img, full[oid - 1000])
    with pytest.raises(DataValidationError, match="not in the dataset"):
        Selection([1000, 99]).to_multimodal(mset, missing="raise")


def test_to_subset_for_training():
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    ids = np.array([7, 3, 11, 5, 2])
    x = torch.arange(10, dtype=torch.float32).reshape(5, 2)
    ds = TensorDataset(x, torch.tensor(ids))
    sel = Selection([2, 7, 42], name="train")
    sub = sel.to_subset(ds, ids_of_dataset=ids)
    assert len(sub) == 2
    got = sorted(int(b[1]) for b in sub)
    assert got == [2, 7]
    batch = next(iter(DataLoader(sub, batch_size=8)))
    assert batch[0].shape == (2, 2)


def test_to_dict_roundtrip_and_checksum():
    for ids in ([5, 1, 3], ["gal-b", "gal-a"], []):
        s = Selection(ids, name="n")
        d = s.to_dict()
        import json

        back = Selection.from_dict(json.loads(json.dumps(d)))
        assert back == s and back.name == "n" and back.array.dtype.kind == s.array.dtype.kind or len(s) == 0
        assert back.fingerprint() == s.fingerprint()
    a, b = Selection([1, 2], name="x"), Selection([2, 1], name="y")
    assert a.fingerprint() == b.fingerprint() != Selection([1, 3]).fingerprint()
    d = a.to_dict()
    d["ids"] = [1, 4]
    with pytest.raises(DataValidationError, match="checksum"):
        Selection.from_dict(d)
    assert a.rename("z") is a and a.name == "z"
