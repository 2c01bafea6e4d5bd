"""Bad input and faults: every loader and public estimator fails loudly, clearly, and cleanly.

Each case feeds one kind of bad input (corrupt or truncated FITS/HDF5, NaN/inf,
missing bands, wrong shapes and units, empty tables, duplicated ids, absurd
values such as negative flux errors or z < 0) to a loader or estimator and
asserts that

1. an :class:`astrolab.errors.AstrolabError` is raised (never a bare numpy,
   h5py, astropy or torch exception);
2. its message names the offending object and says how to fix it ("Fix:");
3. where the call writes a file, no partial output is left behind.

128 cases in all (the parametrised tests plus the named cases inside the
estimator tests): 32 damaged container files x 2 loaders, 4 tampered files,
2 failed saves per container/estimator, 23 constructor cases, 8 catalog
cases, 9 load_dataset cases, 26 PhotometricRedshift cases, 12 GyroFlow
cases, 10 TemplateFitter cases and 3 CLI cases.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.table import Table

from astrolab.data import ImageSet, LightCurveSet, MultimodalSet, SpectrumSet, load_container, validate_catalog
from astrolab.data.catalog import magnitude_columns, require_units
from astrolab.errors import AstrolabError

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable


# ------------------------------------------------------------------------------------- helpers


def expect(fn, *words):
    """``fn()`` raises an AstrolabError whose message contains every word and a fix."""
    with pytest.raises(AstrolabError) as err:
        fn()
    msg = str(err.value)
    assert "Fix" in msg or "fix" in msg, msg
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"
    return msg


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in Path(folder).iterdir())


def _image_set(n=3):
    rng = np.random.default_rng(0)
    return ImageSet(rng.normal(size=(n, 2, 8, 8)), bands=["g", "r"], pixel_scale=0.262, ids=np.arange(n) + 10)


def _spectrum_set(n=3):
    wl = np.linspace(4000, 8000, 50)
    return SpectrumSet(wl, np.ones((n, 50)), ivar=np.ones((n, 50)), redshift=np.full(n, 0.1))


def _lightcurves(n=2):
    return LightCurveSet([np.arange(5.0)] * n, [np.ones(5)] * n, [np.full(5, 0.1)] * n, bands="g")


def _multimodal(n=3):
    cat = Table({"object_id": np.arange(n) + 10, "redshift": np.full(n, 0.5)})
    return MultimodalSet(cat, images=_image_set(n))


SAVERS = {"ImageSet": _image_set, "SpectrumSet": _spectrum_set, "LightCurveSet": _lightcurves,
          "MultimodalSet": _multimodal}
CLASSES = {"ImageSet": ImageSet, "SpectrumSet": SpectrumSet, "LightCurveSet": LightCurveSet,
           "MultimodalSet": MultimodalSet}


# ------------------------------------------------------------------------ containers: HDF5 files


@pytest.mark.parametrize("kind", list(SAVERS))
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty-file", "foreign-hdf5", "folder", "missing",
                                    "future-version", "wrong-kind"])
def test_container_load_damaged_files(tmp_path, kind, damage):
    path = tmp_path / f"{kind}.h5"
    SAVERS[kind]().save(path)
    if damage == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        words = ["truncated or corrupt"]
    elif damage == "garbage":
        path.write_bytes(os.urandom(4096))
        words = ["truncated or corrupt"]
    elif damage == "empty-file":
        path.write_bytes(b"")
        words = ["truncated or corrupt"]
    elif damage == "foreign-hdf5":
        path.unlink()
        with h5py.File(path, "w") as f:
            f["x"] = np.arange(3)
        words = ["not an astrolab container"]
    elif damage == "folder":
        path.unlink()
        path.mkdir()
        words = ["folder"]
    elif damage == "missing":
        path.unlink()
        words = ["not found"]
    elif damage == "future-version":
        with h5py.File(path, "a") as f:
            f.attrs["astrolab_format_version"] = 99
        words = ["format version 99"]
    else:
        other = "SpectrumSet" if kind != "SpectrumSet" else "ImageSet"
        SAVERS[other]().save(path)
        words = [f"holds a {other}"]
    expect(lambda: CLASSES[kind].load(path), str(path), *words)
    if damage not in ("wrong-kind",):
        expect(lambda: load_container(path), str(path))


@pytest.mark.parametrize("tamper", ["nan-pixels", "wrong-shape", "duplicate-ids", "negative-ivar"])
def test_container_load_tampered_content(tmp_path, tamper):
    path = tmp_path / "imgs.h5"
    _image_set().save(path)
    with h5py.File(path, "a") as f:
        names = []
        f.visit(names.append)
        key = {"nan-pixels": "images", "wrong-shape": "images", "duplicate-ids": "ids", "negative-ivar": "images"}[tamper]
        dset = next(n for n in names if n.split("/")[-1] == key)
        data = f[dset][()]
        del f[dset]
        if tamper == "nan-pixels":
            data[0, 0, 0, 0] = np.nan
        elif tamper == "wrong-shape":
            data = data[:, :, :, 0]
        elif tamper == "duplicate-ids":
            data[1] = data[0]
        else:
            f.create_dataset(dset.rsplit("/", 1)[0] + "/ivar" if "/" in dset else "ivar", data=-np.ones_like(data))
        f.create_dataset(dset, data=data)
    expect(lambda: ImageSet.load(path), str(path), "failed validation" if tamper != "wrong-shape" else str(path))


def test_failed_save_leaves_no_file_and_keeps_old(tmp_path, monkeypatch):
    imgs = _image_set()
    path = tmp_path / "out.h5"

    def broken_write(self, group):
        group.create_dataset("images", data=self.images)   # half the content is written ...
        raise OSError("disk full")                          # ... then the write fails

    monkeypatch.setattr(ImageSet, "_write", broken_write)
    with pytest.raises(OSError):
        imgs.save(path)
    assert leftovers(tmp_path) == []
    monkeypatch.undo()
    imgs.save(path)
    before = path.read_bytes()
    monkeypatch.setattr(ImageSet, "_write", broken_write)
    with pytest.raises(OSError):
        imgs[:1].save(path)
    assert leftovers(tmp_path) == ["out.h5"] and path.read_bytes() == before
    assert len(ImageSet.load(path)) == 3


# -------------------------------------------------------------------------- containers: constructors

CONSTRUCTOR_CASES = {
    "image-nan-unmasked": (lambda: ImageSet(np.full((2, 1, 4, 4), np.nan), ["g"], 0.2), ["ImageSet.images", "non-finite"]),
    "image-inf-unmasked": (lambda: ImageSet(np.full((2, 1, 4, 4), np.inf), ["g"], 0.2), ["ImageSet.images"]),
    "image-wrong-ndim": (lambda: ImageSet(np.zeros((2, 4, 4)), ["g"], 0.2), ["ImageSet.images"]),
    "image-band-count": (lambda: ImageSet(np.zeros((2, 2, 4, 4)), ["g"], 0.2), ["ImageSet"]),
    "image-duplicate-bands": (lambda: ImageSet(np.zeros((2, 2, 4, 4)), ["g", "g"], 0.2), ["ImageSet.bands"]),
    "image-pixel-scale-unit": (lambda: ImageSet(np.zeros((2, 1, 4, 4)), ["g"], 3 * u.kg), ["ImageSet.pixel_scale"]),
    "image-negative-pixel-scale": (lambda: ImageSet(np.zeros((2, 1, 4, 4)), ["g"], -0.2), ["ImageSet.pixel_scale"]),
    "image-negative-ivar": (lambda: ImageSet(np.zeros((2, 1, 4, 4)), ["g"], 0.2, ivar=-np.ones((2, 1, 4, 4))), ["ImageSet.ivar"]),
    "image-duplicate-ids": (lambda: ImageSet(np.zeros((2, 1, 4, 4)), ["g"], 0.2, ids=[5, 5]), ["duplicate id"]),
    "image-mask-shape": (lambda: ImageSet(np.zeros((2, 1, 4, 4)), ["g"], 0.2, mask=np.zeros((2, 4, 4), bool)), ["ImageSet.mask"]),
    "spectrum-wavelength-unit": (lambda: SpectrumSet(np.linspace(1, 2, 5) * u.s, np.ones((1, 5))), ["SpectrumSet.wavelength"]),
    "spectrum-flux-unit": (lambda: SpectrumSet(np.linspace(4000, 5000, 5), np.ones((1, 5)) * u.kg), ["SpectrumSet.flux"]),
    "spectrum-decreasing-wavelength": (lambda: SpectrumSet(np.linspace(5000, 4000, 5), np.ones((1, 5))), ["SpectrumSet.wavelength"]),
    "spectrum-negative-redshift": (lambda: SpectrumSet(np.linspace(4000, 5000, 5), np.ones((2, 5)), redshift=[0.1, -0.2]), ["SpectrumSet.redshift"]),
    "spectrum-nan-redshift": (lambda: SpectrumSet(np.linspace(4000, 5000, 5), np.ones((1, 5)), redshift=[np.nan]), ["SpectrumSet.redshift"]),
    "spectrum-nan-flux": (lambda: SpectrumSet(np.linspace(4000, 5000, 3), np.array([[1.0, np.nan, 1.0]])), ["SpectrumSet.flux"]),
    "spectrum-shape-mismatch": (lambda: SpectrumSet(np.linspace(4000, 5000, 4), np.ones((1, 5))), ["SpectrumSet.wavelength"]),
    "lightcurve-negative-errors": (lambda: LightCurveSet([np.arange(3.0)], [np.ones(3)], [np.array([0.1, -0.1, 0.1])]), ["LightCurveSet.errors"]),
    "lightcurve-nan-time": (lambda: LightCurveSet([np.array([0.0, np.nan])], [np.ones(2)], [np.ones(2)]), ["LightCurveSet.times"]),
    "lightcurve-length-mismatch": (lambda: LightCurveSet([np.arange(3.0)], [np.ones(4)], [np.ones(3)]), ["LightCurveSet"]),
    "multimodal-duplicate-ids": (lambda: MultimodalSet(Table({"object_id": [1, 1]})), ["duplicate id"]),
    "multimodal-empty-catalog": (lambda: MultimodalSet(Table({"object_id": np.zeros(0, int)})), ["MultimodalSet.catalog", "no rows"]),
    "multimodal-unknown-image-ids": (lambda: MultimodalSet(Table({"object_id": [1, 2, 3]}), images=_image_set()), ["MultimodalSet.images"]),
}


@pytest.mark.parametrize("case", list(CONSTRUCTOR_CASES))
def test_container_constructors(case):
    fn, words = CONSTRUCTOR_CASES[case]
    expect(fn, *words)


# ----------------------------------------------------------------------------------- catalogs

CATALOG_CASES = {
    "empty-table": (lambda: validate_catalog(Table({"object_id": np.zeros(0, int), "g": np.zeros(0)}), required=["g"]), ["no rows"]),
    "missing-band": (lambda: validate_catalog(Table({"object_id": [1], "g": [20.0]}), required=["g", "r"]), ["'r'"]),
    "duplicate-ids": (lambda: validate_catalog(Table({"object_id": [1, 2, 1], "g": [1.0, 2, 3]})), ["duplicate id"]),
    "nan-ids": (lambda: validate_catalog(Table({"object_id": [1.0, np.nan]})), ["NaN"]),
    "not-a-table": (lambda: validate_catalog(np.zeros((3, 2))), ["Table"]),
    "flux-unit-as-magnitude": (lambda: magnitude_columns(Table({"g": [1.0] * u.Jy}), ["g"]), ["'g'", "not a magnitude"]),
    "no-magnitude-column": (lambda: magnitude_columns(Table({"g": [20.0]}), ["g", "Ks"]), ["Ks"]),
    "incompatible-unit": (lambda: require_units(Table({"ra": [1.0] * u.s}), {"ra": "deg"}), ["'ra'", "cannot be converted"]),
}


@pytest.mark.parametrize("case", list(CATALOG_CASES))
def test_catalog_validation(case):
    fn, words = CATALOG_CASES[case]
    expect(fn, *words)


# ------------------------------------------------------------------------------- load_dataset


def _copy_data(tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(REPO / "data", data)
    monkeypatch.setenv("ASTROLAB_DATA", str(data))
    return data


@pytest.mark.parametrize("case", ["unknown-name", "chronoflow-unknown-cluster", "piczl-bad-split",
                                  "missing-file", "truncated-fits", "garbage-fits", "truncated-npz",
                                  "truncated-csv", "galaxies-negative-n"])
def test_load_dataset_bad(tmp_path, monkeypatch, case):
    from astrolab.data.registry import load_dataset

    if case == "unknown-name":
        expect(lambda: load_dataset("sdss_dr99"), "sdss_dr99", "galaxies_sim")
        return
    if case == "chronoflow-unknown-cluster":
        expect(lambda: load_dataset("chronoflow", clusters=["Atlantis"]), "Atlantis", "Pleiades")
        return
    if case == "piczl-bad-split":
        expect(lambda: load_dataset("piczl_demo", split="test"), "split", "'train'")
        return
    if case == "galaxies-negative-n":
        expect(lambda: load_dataset("galaxies_sim", n=-5), "-5")
        return
    data = _copy_data(tmp_path, monkeypatch)
    if case == "missing-file":
        (data / "piczl_demo" / "train_catalog.fits").unlink()
        expect(lambda: load_dataset("piczl_demo"), "train_catalog.fits", "is missing")
    elif case in ("truncated-fits", "garbage-fits"):
        f = data / "piczl_demo" / "train_catalog.fits"
        raw = f.read_bytes()
        f.write_bytes(raw[: len(raw) // 3] if case == "truncated-fits" else os.urandom(5000))
        expect(lambda: load_dataset("piczl_demo"), "train_catalog.fits")
    elif case == "truncated-npz":
        f = data / "piczl_demo" / "train_images.npz"
        raw = f.read_bytes()
        f.write_bytes(raw[: len(raw) // 2])
        expect(lambda: load_dataset("piczl_demo"), "train_images.npz")
    elif case == "truncated-csv":
        f = data / "chronoflow" / "prot_catalogue.csv"
        lines = f.read_text().splitlines()
        f.write_text("\n".join(lines[:100]) + "\n" + lines[100][: len(lines[100]) // 2] + "\n")
        expect(lambda: load_dataset("chronoflow"), "prot_catalogue.csv")


# ------------------------------------------------------------------------- PhotometricRedshift


@pytest.fixture(scope="module")
def sim_tables():
    from astrolab.sim.galaxies import simulate_galaxies

    return simulate_galaxies(400, survey="hsc", seed=1), simulate_galaxies(50, survey="hsc", seed=2)


@pytest.fixture(scope="module")
def fitted_photoz(sim_tables, tmp_path_factory):
    from astrolab import PhotometricRedshift

    os.environ.setdefault("ASTROLAB_CACHE", str(tmp_path_factory.mktemp("pz-cache")))
    model = PhotometricRedshift(bands=list("grizy"), hidden=(16,), n_bins=20, epochs=1, progress=False,
                                device="cpu", patience=None)
    return model.fit(sim_tables[0], run_dir=tmp_path_factory.mktemp("pz-run"))


def _photoz_cases(train, test):
    from astrolab import PhotometricRedshift

    def pz():
        return PhotometricRedshift(bands=list("grizy"), hidden=(8,), n_bins=10, epochs=1, progress=False,
                                   device="cpu")

    def set_col(t, col, idx, val):
        t = t.copy()
        c = np.array(t[col], dtype=float)
        c[idx] = val
        t[col] = c
        return t

    no_r = train.copy()
    no_r.remove_column("r")
    dup = train.copy()
    dup["object_id"][1] = dup["object_id"][0]
    jy = train.copy()
    jy["g"] = np.asarray(jy["g"]) * u.Jy
    return {
        "fit-empty-table": (lambda: pz().fit(train[:0]), ["PhotometricRedshift training table", "no rows"]),
        "fit-missing-band": (lambda: pz().fit(no_r), ["PhotometricRedshift training table", "'r'"]),
        "fit-nan-redshift": (lambda: pz().fit(set_col(train, "redshift", 3, np.nan)), ["redshifts", "NaN"]),
        "fit-inf-redshift": (lambda: pz().fit(set_col(train, "redshift", 3, np.inf)), ["redshifts"]),
        "fit-negative-redshift": (lambda: pz().fit(set_col(train, "redshift", 3, -0.3)), ["redshifts", "negative"]),
        "fit-wrong-z-shape": (lambda: pz().fit(train, z=np.ones(7)), ["z=", "7"]),
        "fit-missing-z-column": (lambda: pz().fit(train, z="zspec"), ["'zspec'"]),
        "fit-negative-mag-errors": (lambda: pz().fit(set_col(train, "g_err", 5, -0.1)), ["g_err", "negative"]),
        "fit-duplicated-ids": (lambda: pz().fit(dup), ["object_id", "duplicate id"]),
        "fit-flux-units-as-mags": (lambda: pz().fit(jy), ["'g'", "not a magnitude"]),
        "fit-band-never-detected": (lambda: pz().fit(set_col(train, "y", slice(None), np.nan)), ["'y'", "no object"]),
        "fit-not-a-table": (lambda: pz().fit(np.zeros((10, 5))), ["PhotometricRedshift training table"]),
        "bad-bands-arg": (lambda: PhotometricRedshift(bands=[]), ["bands="]),
        "bad-loss-arg": (lambda: PhotometricRedshift(bands=["g"], loss="mse"), ["loss="]),
        "predict-before-fit": (lambda: pz().predict(test), ["not fitted"]),
    }


def test_photoz_bad_inputs(sim_tables):
    train, test = sim_tables
    cases = _photoz_cases(train, test)
    for name, (fn, words) in cases.items():
        try:
            expect(fn, *words)
        except AssertionError as exc:  # report which case failed
            raise AssertionError(f"case {name}: {exc}") from None
        except BaseException as exc:
            raise AssertionError(f"case {name}: raised {type(exc).__name__}: {exc}") from None


def test_photoz_predict_bad_inputs(fitted_photoz, sim_tables):
    train, test = sim_tables
    no_z = test.copy()
    no_z.remove_column("z")
    dup = test.copy()
    dup["object_id"][1] = dup["object_id"][0]
    neg = test.copy()
    e = np.array(neg["i_err"], float)
    e[0] = -1.0
    neg["i_err"] = e
    expect(lambda: fitted_photoz.predict(test[:0]), "PhotometricRedshift input table", "no rows")
    expect(lambda: fitted_photoz.predict_pdf(no_z), "PhotometricRedshift input table", "'z'")
    expect(lambda: fitted_photoz.predict(dup), "object_id", "duplicate id")
    expect(lambda: fitted_photoz.predict(neg), "i_err", "negative")
    # NaN/inf magnitudes are non-detections, by design: still one finite PDF per row
    nan = test.copy()
    m = np.array(nan["g"], float)
    m[:5] = np.nan
    m[5:8] = np.inf
    nan["g"] = m
    z = fitted_photoz.predict(nan)
    assert z.shape == (len(test),) and np.all(np.isfinite(z))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "pickle", "foreign", "missing"])
def test_photoz_load_damaged(fitted_photoz, tmp_path, damage):
    import pickle

    import torch

    from astrolab import PhotometricRedshift

    path = tmp_path / "pz.pt"
    fitted_photoz.save(path)
    assert leftovers(tmp_path) == ["pz.pt"]
    if damage == "truncated":
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(3000))
    elif damage == "pickle":  # arbitrary pickled objects are refused by weights_only=True
        path.write_bytes(pickle.dumps({"kind": "PhotometricRedshift", "evil": PhotometricRedshift}))
    elif damage == "foreign":
        torch.save({"kind": "SomethingElse"}, path)
    else:
        path.unlink()
    expect(lambda: PhotometricRedshift.load(path), str(path))


def test_photoz_failed_save_leaves_nothing(fitted_photoz, tmp_path, monkeypatch):
    import torch

    def broken_save(obj, f, *a, **k):
        Path(f).write_bytes(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        fitted_photoz.save(tmp_path / "pz.pt")
    assert leftovers(tmp_path) == []
    from astrolab import GyroFlow

    flow = GyroFlow(hidden=(8,), transforms=1)
    flow.module_ = flow._new_module()
    with pytest.raises(OSError):
        flow.save(tmp_path / "flow.pt")
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------------- GyroFlow


@pytest.fixture(scope="module")
def stars():
    from astrolab.data.registry import load_dataset

    t = load_dataset("chronoflow", training_cuts=True)
    t = t[np.isin(t["cluster"], ["Pleiades", "Praesepe"])]
    return t[:300]


def test_gyroflow_bad_inputs(stars, tmp_path):
    from astrolab import GyroFlow

    def set_col(col, idx, val):
        t = stars.copy()
        c = np.array(t[col], dtype=float)
        c[idx] = val
        t[col] = c
        return t

    no_prot = stars.copy()
    no_prot.remove_column("Prot")
    flow = lambda: GyroFlow(epochs=1, hidden=(8,), transforms=1, device="cpu")  # noqa: E731
    cases = {
        "fit-empty": (lambda: flow().fit(stars[:0]), ["GyroFlow training table", "0 rows"]),
        "fit-missing-prot": (lambda: flow().fit(no_prot), ["'Prot'", "missing"]),
        "fit-nan-prot": (lambda: flow().fit(set_col("Prot", 2, np.nan)), ["'Prot'", "NaN"]),
        "fit-inf-colour": (lambda: flow().fit(set_col("BPRP_0", 2, np.inf)), ["'BPRP_0'"]),
        "fit-negative-period": (lambda: flow().fit(set_col("Prot", 2, -3.0)), ["'Prot'", "<= 0"]),
        "fit-negative-colour-error": (lambda: flow().fit(set_col("e_BPRP_0", 2, -0.01)), ["'e_BPRP_0'", "negative"]),
        "fit-zero-age": (lambda: flow().fit(set_col("fiducial_age_Myr", 2, 0.0)), ["'fiducial_age_Myr'"]),
        "fit-not-a-table": (lambda: flow().fit(np.zeros((3, 4))), ["GyroFlow training table"]),
        "unknown-membership-column": (lambda: GyroFlow(membership="p_mem").membership_values(stars), ["'p_mem'"]),
        "star-age-before-fit": (lambda: flow().star_age(stars), ["not fitted"]),
        "load-missing": (lambda: GyroFlow.load(tmp_path / "none.pt"), ["none.pt"]),
    }
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(os.urandom(2000))
    cases["load-garbage"] = (lambda: GyroFlow.load(bad), ["garbage.pt"])
    for name, (fn, words) in cases.items():
        try:
            expect(fn, *words)
        except AssertionError as exc:
            raise AssertionError(f"case {name}: {exc}") from None
        except BaseException as exc:
            raise AssertionError(f"case {name}: raised {type(exc).__name__}: {exc}") from None


# ----------------------------------------------------------------------------- TemplateFitter


def test_template_fitter_bad_inputs(sim_tables):
    from astrolab import TemplateFitter

    test = sim_tables[1][:20]
    fitter = TemplateFitter(survey="hsc", z_grid=np.linspace(0.01, 2, 40))

    def set_col(col, idx, val):
        t = test.copy()
        c = np.array(t[col], dtype=float)
        c[idx] = val
        t[col] = c
        return t

    no_g = test.copy()
    no_g.remove_column("g_flux_err")
    all_nan = test.copy()
    for b in "grizy":
        all_nan[f"{b}_flux"] = np.full(len(test), np.nan)
    dup = test.copy()
    dup["object_id"][1] = dup["object_id"][0]
    cases = {
        "missing-band": (lambda: fitter.predict(no_g), ["TemplateFitter input table", "g_flux_err"]),
        "no-usable-band": (lambda: fitter.predict(all_nan), ["TemplateFitter input rows", "drop those rows"]),
        "negative-flux-errors": (lambda: fitter.predict(set_col("r_flux_err", 4, -5.0)), ["r_flux_err", "negative"]),
        "empty-table": (lambda: fitter.predict(test[:0]), ["TemplateFitter input table", "no rows"]),
        "duplicated-ids": (lambda: fitter.predict(dup), ["object_id", "duplicate id"]),
        "negative-z-grid": (lambda: TemplateFitter(z_grid=np.linspace(-0.5, 1, 10)), ["z_grid"]),
        "unsorted-z-grid": (lambda: TemplateFitter(z_grid=[0.5, 0.1, 0.9]), ["z_grid"]),
        "unknown-prior": (lambda: TemplateFitter(prior="jeffreys"), ["prior="]),
        "wrong-flux-unit": (lambda: fitter.predict(_mag_as_flux(test)), ["g_flux", "nJy"]),
    }
    for name, (fn, words) in cases.items():
        try:
            expect(fn, *words)
        except AssertionError as exc:
            raise AssertionError(f"case {name}: {exc}") from None
        except BaseException as exc:
            raise AssertionError(f"case {name}: raised {type(exc).__name__}: {exc}") from None
    # NaN/inf fluxes in some bands are dropped from that object's chi2 (documented), not an error
    partial = set_col("g_flux", slice(0, 5), np.nan)
    z = fitter.predict(partial)
    assert np.all(np.isfinite(z)) and z.shape == (20,)


def _mag_as_flux(table):
    t = table.copy()
    t["g_flux"] = np.asarray(t["g_flux"]) * u.mag
    return t


# ------------------------------------------------------------------------------------------- CLI


@pytest.mark.parametrize("argv, words", [
    (["data", "info", "nosuch"], ["dataset 'nosuch'", "Fix:"]),
    (["reproduce", "99_nosuch", "--out", "{tmp}/rep"], ["99_nosuch", "Fix:"]),
])
def test_cli_bad_arguments(tmp_path, argv, words):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    proc = subprocess.run([PY, "-m", "astrolab", *argv], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in proc.stderr
    assert not (tmp_path / "rep").exists() or leftovers(tmp_path / "rep") == []


def test_cli_unknown_option_is_a_usage_error(tmp_path):
    proc = subprocess.run([PY, "-m", "astrolab", "data", "--bogus"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "usage: astrolab" in proc.stderr and "Traceback" not in proc.stderr
