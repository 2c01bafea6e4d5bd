"""Bundled datasets load with units and the documented options."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u

from astrolab import load_dataset
from astrolab.errors import DataValidationError


def test_chronoflow_real_catalogue():
    table = load_dataset("chronoflow")
    assert len(table) == 7946
    assert table["Prot"].unit == u.day and table["BPRP_0"].unit == u.mag
    assert len(set(table["cluster"])) == 26
    cut = load_dataset("chronoflow", training_cuts=True)
    assert 0 < len(cut) < len(table)
    assert np.all(np.asarray(cut["dr3_ruwe"]) < 1.4)
    assert np.all(np.asarray(cut["cmd_exclude"]) == 0)
    pleiades = load_dataset("chronoflow", clusters="Pleiades")
    assert set(pleiades["cluster"]) == {"Pleiades"}
    with pytest.raises(DataValidationError, match="Fix:"):
        load_dataset("chronoflow", clusters=["NoSuchCluster"])


def test_piczl_demo_real_sample():
    data = load_dataset("piczl_demo", split="train")
    assert len(data.catalog) == 50
    assert data.images.images.shape == (50, 4, 23, 23)
    assert abs(data.images.pixel_scale - 0.262) < 1e-9
    assert np.all(np.asarray(data.catalog["z"]) > 0)


def test_unknown_dataset():
    with pytest.raises(DataValidationError, match="galaxies_sim"):
        load_dataset("sdss_everything")
