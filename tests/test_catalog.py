"""Tests of the catalog helpers (astrolab.data.catalog)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.table import MaskedColumn, QTable, Table

from astrolab.data import magnitude_columns, require_units, validate_catalog
from astrolab.errors import DataValidationError


def _raises(match_obj, fn, *args, **kwargs):
    with pytest.raises(DataValidationError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert match_obj in msg, msg
    assert "Fix:" in msg, msg
    return msg


@pytest.fixture
def cat():
    return Table(
        {
            "object_id": [1, 2, 3],
            "g": [20.0, 21.0, 99.0],
            "g_err": [0.01, 0.02, 0.5],
            "mag_r": MaskedColumn([19.5, 20.5, 18.0], mask=[False, True, False]),
            "magerr_r": [0.03, 0.04, 0.05],
            "i": [19.0, np.nan, 18.0],
            "wave": [500.0, 600.0, 700.0] * u.nm,
        }
    )


def test_validate_catalog_table_and_dataframe(cat):
    assert validate_catalog(cat, required=["g"]) is cat
    df = pd.DataFrame({"object_id": ["a", "b"], "z": [0.1, 0.2]})
    out = validate_catalog(df, required=("z",), name="train")
    assert isinstance(out, Table) and out["object_id"].tolist() == ["a", "b"]
    df_index = pd.DataFrame({"z": [0.1, 0.2]}, index=pd.Index([7, 8], name="object_id"))
    assert validate_catalog(df_index)["object_id"].tolist() == [7, 8]
    assert len(validate_catalog(Table({"x": [1, 1]}), id_col=None)) == 2


def test_validate_catalog_errors(cat):
    msg = _raises("train", validate_catalog, cat, required=["z", "g", "flux"], name="train")
    assert "['z', 'flux']" in msg and "object_id" in msg and "mag_r" in msg  # missing + available
    _raises("catalog", validate_catalog, Table({"object_id": np.array([], dtype=int)}))
    msg = _raises("catalog['object_id']", validate_catalog, Table({"object_id": [5, 6, 5, 7, 7]}))
    assert "2 duplicate" in msg and "5" in msg and "7" in msg
    _raises("catalog", validate_catalog, {"object_id": [1, 2]})
    _raises("catalog", validate_catalog, Table({"id": [1]}))
    masked = Table({"object_id": MaskedColumn([1, 2], mask=[False, True])})
    _raises("catalog['object_id']", validate_catalog, masked)


def test_require_units(cat):
    cat["flux"] = [1.0, 2.0, 3.0]
    out = require_units(cat, {"flux": "uJy", "wave": u.AA})
    assert out is cat
    assert cat["flux"].unit == u.uJy and cat["flux"].tolist() == [1.0, 2.0, 3.0]
    assert cat["wave"].unit == u.AA
    np.testing.assert_allclose(cat["wave"], [5000.0, 6000.0, 7000.0])  # converted from nm
    msg = _raises("table['wave']", require_units, cat, {"wave": u.s})
    assert "Angstrom" in msg
    _raises("require_units", require_units, cat, {"nope": u.s})
    _raises("table['flux']", require_units, cat, {"flux": "not_a_unit"})


def test_require_units_masked_and_qtable():
    t = Table({"w": MaskedColumn([1.0, 2.0], mask=[False, True], unit=u.um)})
    require_units(t, {"w": u.nm})
    assert t["w"].unit == u.nm and t["w"][0] == pytest.approx(1000.0) and bool(t["w"].mask[1])
    q = QTable({"w": [1.0, 2.0] * u.um, "x": [1.0, 2.0]})
    require_units(q, {"w": u.nm, "x": u.deg})
    assert q["w"].unit == u.nm and q["w"][1].value == pytest.approx(2000.0)
    assert q["x"].unit == u.deg


def test_magnitude_columns(cat):
    mags, errs = magnitude_columns(cat, ["g", "r", "i"])
    assert mags.shape == (3, 3) and errs.shape == (3, 3) and mags.dtype == np.float64
    np.testing.assert_allclose(mags[:, 0], [20.0, 21.0, np.nan])  # 99 sentinel -> NaN
    np.testing.assert_allclose(mags[:, 1], [19.5, np.nan, 18.0])  # masked -> NaN
    np.testing.assert_allclose(mags[:, 2], [19.0, np.nan, 18.0])
    np.testing.assert_allclose(errs[:, 0], [0.01, 0.02, np.nan])  # no error where no magnitude
    np.testing.assert_allclose(errs[:, 1], [0.03, np.nan, 0.05])
    assert np.isnan(errs[:, 2]).all()  # band i has no error column
    m2, e2 = magnitude_columns(cat, ["r"], mag_col="mag_{band}", err_col="magerr_{band}")
    np.testing.assert_allclose(e2[:, 0], [0.03, np.nan, 0.05])
    df = cat.to_pandas()[["object_id", "g", "g_err"]]
    m3, _ = magnitude_columns(df, ["g"], missing_values=())
    np.testing.assert_allclose(m3[:, 0], [20.0, 21.0, 99.0])


def test_magnitude_columns_errors(cat):
    msg = _raises("magnitude_columns", magnitude_columns, cat, ["g", "y", "u"])
    assert "['y', 'u']" in msg and "g_err" in msg  # names the bands and lists available columns
    cat["z"] = [1.0, 2.0, 3.0] * u.nJy
    msg = _raises("magnitude_columns['z']", magnitude_columns, cat, ["z"])
    assert "nJy" in msg
    cat["ab"] = [20.0, 21.0, 22.0] * u.ABmag
    np.testing.assert_allclose(magnitude_columns(cat, ["ab"])[0][:, 0], [20.0, 21.0, 22.0])
