"""Named datasets: bundled real data and astrolab's simulators.

``load_dataset(name, **options)`` is the one entry point notebooks use;
``list_datasets()`` and ``dataset_info(name)`` describe what exists (also
``astrolab data list`` / ``astrolab data info NAME``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from astrolab import config
from astrolab.errors import invalid

__all__ = ["load_dataset", "list_datasets", "dataset_info", "DatasetSpec"]


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: a loader function and its description."""

    name: str
    summary: str
    origin: str
    licence: str
    loader: Callable
    options: str = ""


#: SHA-256 of the bundled real data files, verified on load (truncated or altered files fail loudly).
_SHA256 = {
    "chronoflow/prot_catalogue.csv": "4a2065117178a39b300066905425ea98a61c486ac43ebd91d08a2a49d57354f4",
    "piczl_demo/run_catalog.fits": "a7eb00ff05ae7d4fbe65f0585a27850ce2b5f61c9ac9bc006ed7af46476a6d12",
    "piczl_demo/run_images.npz": "8733f4325c1c8399e6f09c6ce5a6869be067c804fad6c3517150b27589586eb1",
    "piczl_demo/train_catalog.fits": "5cbed327aa7d18df32cc7c906370248c04099dcbe640f6d8b413694a2de965f2",
    "piczl_demo/train_images.npz": "25c5fd8b806f4405c268e8a674bf461ac66708173d9ad7daf62ac9c2cc1d2ffc",
}


def _path(*parts):
    path = config.data_dir().joinpath(*parts)
    if not path.exists():
        raise invalid(f"bundled data file {path}", "is missing",
                      "run from a full astrolab checkout or set ASTROLAB_DATA to the folder holding data/")
    want = _SHA256.get("/".join(parts))
    if want is not None:
        import hashlib

        have = hashlib.sha256(path.read_bytes()).hexdigest()
        if have != want:
            raise invalid(f"bundled data file {path}", f"is corrupt or truncated (sha256 {have[:12]}... differs "
                          f"from the bundled {want[:12]}..., {path.stat().st_size} bytes)",
                          "restore it from the repository (git checkout -- data/) or re-download astrolab")
    return path


def _load_chronoflow(training_cuts: bool = False, clusters=None):
    from astropy import units as u
    from astropy.table import Table, MaskedColumn

    table = Table.read(_path("chronoflow", "prot_catalogue.csv"), format="ascii.csv",
                       fill_values=[("NULL", "0")])
    for col in table.colnames:
        if table[col].dtype.kind in "USO" and col not in ("cluster", "subgroup", "data_catalog", "Prot_source",
                                                          "dustmap", "GaiaDR3_ID"):
            vals = np.array([np.nan if str(v) in ("NULL", "", "--") else float(v) for v in table[col]])
            table[col] = vals
        elif isinstance(table[col], MaskedColumn) and table[col].dtype.kind == "f":
            table[col] = table[col].filled(np.nan)
    units = {"Prot": u.day, "dr3_parallax_zpt_corrected": u.mas, "G_0": u.mag, "BPRP_0": u.mag,
             "e_BPRP_0": u.mag, "fiducial_age_Myr": u.Myr}
    for col, unit in units.items():
        table[col].unit = unit
    table["GaiaDR3_ID"] = np.asarray(table["GaiaDR3_ID"]).astype(str)
    table.meta["origin"] = "ChronoFlow rotator catalogue (Van-Lane et al. 2025), philvanlane/chronoflow f0b766f, MIT"
    if training_cuts:
        keep = ((np.asarray(table["cmd_exclude"]) == 0) & (np.asarray(table["dered_exclude"]) == 0)
                & (np.asarray(table["phot_exclude"]) == 0) & (np.asarray(table["dr3_ruwe"], float) < 1.4))
        table = table[keep]
    if clusters is not None:
        wanted = {clusters} if isinstance(clusters, str) else set(clusters)
        unknown = wanted - set(np.unique(table["cluster"]))
        if unknown:
            raise invalid("load_dataset('chronoflow', clusters=...)", f"unknown cluster(s) {sorted(unknown)}",
                          f"use names from {sorted(set(table['cluster']))}")
        table = table[np.isin(table["cluster"], list(wanted))]
    return table


def _load_piczl_demo(split: str = "train"):
    from astropy.table import Table

    from astrolab.data.containers import ImageSet, MultimodalSet

    if split not in ("train", "run"):
        raise invalid("load_dataset('piczl_demo', split=...)", f"unknown split {split!r}", "use 'train' or 'run'")
    catalog = Table.read(_path("piczl_demo", f"{split}_catalog.fits"))
    catalog["object_id"] = np.arange(len(catalog), dtype=np.int64)
    with np.load(_path("piczl_demo", f"{split}_images.npz")) as arrays:
        griz = np.transpose(arrays["processed_dered_griz_images"], (1, 0, 2, 3)).astype(np.float32)
        psf = np.array([float(np.nanmedian(catalog[f"PSFSIZE_{b}"])) for b in "GRIZ"]) if "PSFSIZE_G" in catalog.colnames else None
    images = ImageSet(griz, bands=["g", "r", "i", "z"], pixel_scale=0.262, psf_fwhm=psf,
                      ids=catalog["object_id"].data.copy(), mask=~np.isfinite(griz))
    catalog.meta["origin"] = "PICZL demo sample (Roster et al. 2024), Space-papaya/PICZL 02b1cd3, MIT"
    return MultimodalSet(catalog, images=images)


def _load_galaxies_sim(n: int | None = None, survey: str = "hsc", seed: int = 0, **kwargs):
    from astrolab.sim.galaxies import simulate_galaxies

    n = n or config.fast_or_full(5000, 50000)
    return simulate_galaxies(n, survey=survey, seed=seed, **kwargs)


_REGISTRY: dict[str, DatasetSpec] = {
    "galaxies_sim": DatasetSpec(
        "galaxies_sim", "simulated galaxy survey (photometry + every true parameter)",
        "astrolab.sim.galaxies (simulated; known ground truth)", "BSD-3-Clause (astrolab)", _load_galaxies_sim,
        "n=5000 (FAST) / 50000, survey='hsc', seed=0, plus simulate_galaxies options"),
    "chronoflow": DatasetSpec(
        "chronoflow", "7,946 rotators in 26 open clusters: Gaia DR3 colours, P_rot, memberships, cluster ages",
        "Van-Lane et al. 2025, philvanlane/chronoflow data/prot_catalogue.csv (commit f0b766f)", "MIT",
        _load_chronoflow, "training_cuts=False, clusters=None"),
    "piczl_demo": DatasetSpec(
        "piczl_demo", "50 X-ray AGN from DESI Legacy Survey DR10 with spec-z (split='train') or 50 without ('run')",
        "Roster et al. 2024, Space-papaya/PICZL src/piczl/demo_data (commit 02b1cd3)", "MIT",
        _load_piczl_demo, "split='train'|'run'"),
}


def list_datasets() -> dict[str, str]:
    """Registered dataset names -> one-line summaries."""
    return {name: spec.summary for name, spec in _REGISTRY.items()}


def dataset_info(name: str) -> str:
    """A few lines describing dataset ``name`` (origin, licence, options)."""
    spec = _spec(name)
    return (f"{spec.name}: {spec.summary}\n  origin:  {spec.origin}\n  licence: {spec.licence}\n"
            f"  options: {spec.options or '-'}")


def _spec(name: str) -> DatasetSpec:
    key = str(name).lower().replace("-", "_")
    if key not in _REGISTRY:
        raise invalid(f"dataset {name!r}", "is not registered", f"use one of {sorted(_REGISTRY)}")
    return _REGISTRY[key]


def load_dataset(name: str, **options):
    """Load a registered dataset.

    Parameters
    ----------
    name : str
        ``"galaxies_sim"`` (astropy Table), ``"chronoflow"`` (astropy Table with
        units; ``training_cuts=True`` applies the paper's cuts
        cmd_exclude = dered_exclude = phot_exclude = 0 and RUWE < 1.4),
        ``"piczl_demo"`` (``MultimodalSet``: catalog + griz ``ImageSet``).
    **options
        Passed to the loader (see :func:`dataset_info`).
    """
    import zipfile

    from astrolab.errors import AstrolabError

    spec = _spec(name)
    try:
        return spec.loader(**options)
    except AstrolabError:
        raise
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as exc:  # unreadable bundled file
        raise invalid(f"dataset {spec.name!r} (data folder {config.data_dir()})",
                      f"could not be loaded ({type(exc).__name__}: {exc})",
                      "if it reads bundled files, restore them (git checkout -- data/) or check ASTROLAB_DATA; "
                      f"otherwise check the options ({spec.options or 'none'})") from exc
