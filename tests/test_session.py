"""Sessions: save, restore in a new Python process to identical selections and metrics; refuse mismatches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import astrolab
from astrolab.errors import CheckpointError
from astrolab.metrics.pdf import RedshiftPDF
from astrolab.selection import Selection
from astrolab.session import SessionError, data_hash, session_hash

REPO = Path(__file__).resolve().parents[1]

MAKE_DATA = textwrap.dedent("""
    import numpy as np
    from astropy.table import Table
    from astrolab.metrics.pdf import RedshiftPDF

    def make_data(n=800, seed=11):
        rng = np.random.default_rng(seed)
        mu = rng.uniform(0.2, 1.8, n)
        sig = 0.04 * (1 + mu)
        zt = mu + rng.normal(0, 1, n) * sig
        pdf = RedshiftPDF.from_gaussian_mixture(np.ones(n), mu, 0.6 * sig, np.linspace(0, 3, 301),
                                                ids=np.arange(100, 100 + n))
        cat = Table({"object_id": pdf.ids, "z_true": zt, "mag": rng.uniform(18, 25, n)})
        return pdf, zt, cat

    def selection_metrics(pdf, zt, sel):
        rows = sel.indices_in(pdf.ids)
        return {"n": int(rows.size), "mean_crps": float(np.mean(pdf[rows].crps(zt[rows]))),
                "mean_pit": float(np.mean(pdf[rows].pit(zt[rows])))}
""")
exec(MAKE_DATA)  # defines make_data and selection_metrics here too


def _save(tmp_path, with_checkpoint=True):
    import torch

    from astrolab.train import save_checkpoint
    from astrolab.widgets import CalibrationDashboard

    pdf, zt, cat = make_data()  # noqa: F821
    dash = CalibrationDashboard(pdf, zt, cat)
    dash.brush("pit", 0.9, 1.0)
    bright = Selection.where(cat, lambda t: t["mag"] < 20, name="bright")
    tails = dash.selection_model.copy(name="upper_tail")
    combo = tails.intersection(bright, name="bright_tail")
    metrics = {s.name: selection_metrics(pdf, zt, s) for s in (tails, bright, combo)}  # noqa: F821
    ckpts = {}
    if with_checkpoint:
        torch.manual_seed(0)
        net = torch.nn.Linear(3, 2)
        save_checkpoint(tmp_path / "model.pt", {"state_dict": net.state_dict(), "config": {"hidden": 3}})
        ckpts["photoz"] = tmp_path / "model.pt"
    path = astrolab.save_session(tmp_path / "sess.json", selections=[tails, bright, combo],
                                 views={"calibration": dash}, model_config={"kind": "mdn", "n_components": 3},
                                 seed=11, seeds={"split": 4}, data={"pdf": pdf, "catalog": cat, "z_true": zt},
                                 metrics={"json": json.dumps(metrics)}, checkpoints=ckpts)
    return path, metrics, (pdf, zt, cat), dash


@pytest.mark.slow  # a fresh interpreter imports bokeh/panel: ~15 s alone, more on a loaded machine
def test_restore_in_new_process_gives_identical_selections_and_metrics(tmp_path):
    path, metrics, _, dash = _save(tmp_path)
    doc = json.loads(path.read_text())
    assert doc["git"]["commit"] and len(doc["session_hash"]) == 64
    assert doc["views"]["calibration"]["brushed"] == {"pit": [0.9, 1.0]}
    assert set(doc["selections"]) >= {"upper_tail", "bright", "bright_tail"}
    code = MAKE_DATA + textwrap.dedent(f"""
        import json, astrolab
        pdf, zt, cat = make_data()
        s = astrolab.load_session({str(path)!r}, data={{"pdf": pdf, "catalog": cat, "z_true": zt}})
        from astrolab.widgets import CalibrationDashboard
        d = s.apply(CalibrationDashboard(pdf, zt, cat))
        out = {{"metrics": {{n: selection_metrics(pdf, zt, s.selections[n])
                             for n in ("upper_tail", "bright", "bright_tail")}},
               "ids": {{n: sel.array.tolist() for n, sel in s.selections.items()}},
               "verified": s.data_verified, "seed": s.seed, "config": s.model_config,
               "brushed": d.pit_view.brushed, "dash_n": d.summary["selection_n"],
               "hash": s.session_hash}}
        print("RESULT" + json.dumps(out))
    """)
    env = dict(os.environ, ASTROLAB_WARMUP="0")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.split("RESULT", 1)[1])
    assert out["metrics"] == metrics  # bit-identical floats after a round trip through JSON
    assert out["ids"]["upper_tail"] == dash.selection_model.array.tolist()
    assert len(out["ids"]["upper_tail"]) > 50 and len(out["ids"]["bright_tail"]) > 0
    assert sorted(out["verified"]) == ["catalog", "pdf", "z_true"]
    assert out["seed"] == 11 and out["config"] == {"kind": "mdn", "n_components": 3}
    assert out["brushed"] == [0.9, 1.0] and out["dash_n"] == len(out["ids"]["upper_tail"])
    assert out["hash"] == json.loads(path.read_text())["session_hash"]


def _rewrite(path, edit):
    doc = json.loads(path.read_text())
    edit(doc)
    doc["session_hash"] = session_hash(doc)  # as if written by another installation
    path.write_text(json.dumps(doc))


def test_version_mismatch_refused_with_clear_message(tmp_path):
    path, *_ = _save(tmp_path, with_checkpoint=False)
    _rewrite(path, lambda d: d["versions"].update(numpy="1.21.0"))
    with pytest.raises(SessionError, match=r"numpy 1\.21\.0 saved.*Fix: .*strict=False"):
        astrolab.load_session(path)
    with pytest.warns(UserWarning, match="numpy"):
        s = astrolab.load_session(path, strict=False)
    assert s.mismatches and len(s.selections["upper_tail"]) > 0
    _rewrite(path, lambda d: d["versions"].update(numpy=np.__version__, astrolab="0.0.1"))
    with pytest.raises(SessionError, match="astrolab 0.0.1 saved"):
        astrolab.load_session(path)


def test_data_mismatch_refused(tmp_path):
    path, _, (pdf, zt, cat), _ = _save(tmp_path, with_checkpoint=False)
    zt2 = zt.copy()
    zt2[3] += 1e-6
    with pytest.raises(SessionError, match="data 'z_true' differ"):
        astrolab.load_session(path, data={"pdf": pdf, "z_true": zt2})
    cat2 = cat[:-1]
    with pytest.raises(SessionError, match=r"data 'catalog' differ.*799 vs 800 rows"):
        astrolab.load_session(path, data={"catalog": cat2})
    with pytest.raises(SessionError, match="no data named 'photometry'"):
        astrolab.load_session(path, data={"photometry": cat})
    assert astrolab.load_session(path, data={"pdf": pdf}).data_verified == ["pdf"]


def test_tampered_newer_and_old_files(tmp_path):
    path, *_ = _save(tmp_path, with_checkpoint=False)
    doc = json.loads(path.read_text())
    doc["selections"]["bright"]["ids"] = doc["selections"]["bright"]["ids"][1:]
    path.write_text(json.dumps(doc))
    with pytest.raises(SessionError, match="session_hash"):
        astrolab.load_session(path)
    _rewrite(path, lambda d: d.update(format_version=99))
    with pytest.raises(SessionError, match="newer than this astrolab reads"):
        astrolab.load_session(path)
    # layout 0 (selections as plain id lists) is migrated
    old = {"format": "astrolab.session", "format_version": 0, "versions": {}, "selections": {"a": [3, 1, 2]},
           "data": {}}
    (tmp_path / "old.json").write_text(json.dumps(old))
    s = astrolab.load_session(tmp_path / "old.json")
    assert s.selections["a"].array.tolist() == [1, 2, 3]
    with pytest.raises(SessionError, match="not an astrolab session"):
        (tmp_path / "x.json").write_text("{}")
        astrolab.load_session(tmp_path / "x.json")


def test_checkpoints_by_checksum_and_migration(tmp_path):
    import torch

    path, *_ = _save(tmp_path)
    s = astrolab.load_session(path)
    entry = s.checkpoints["photoz"]
    assert (path.parent / entry["file"]).name == entry["sha256"] + ".pt" and entry["format_version"] == 1
    net = torch.nn.Linear(3, 2)
    payload = s.checkpoint("photoz", model=net)
    torch.manual_seed(0)
    ref = torch.nn.Linear(3, 2)
    assert torch.equal(net.weight, ref.weight) and payload["config"] == {"hidden": 3}
    with pytest.raises(CheckpointError, match="do not fit"):
        s.checkpoint("photoz", model=torch.nn.Linear(4, 2))
    # an altered file is refused
    f = path.parent / entry["file"]
    f.write_bytes(f.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(CheckpointError, match="SHA-256 differs"):
        s.checkpoint("photoz")
    # a bare state_dict (layout 0) is migrated; a newer layout is refused
    torch.save(ref.state_dict(), tmp_path / "bare.pt")
    torch.save({"state_dict": ref.state_dict(), "format_version": 7}, tmp_path / "new.pt")
    p2 = astrolab.save_session(tmp_path / "s2.json", checkpoints={"bare": tmp_path / "bare.pt",
                                                                  "new": tmp_path / "new.pt"})
    s2 = astrolab.load_session(p2)
    assert s2.checkpoints["bare"]["format_version"] == 0
    got = s2.checkpoint("bare", model=torch.nn.Linear(3, 2))
    assert got["migrated_from"] == 0 and got["format_version"] == 1
    with pytest.raises(CheckpointError, match="format_version 7 is newer"):
        s2.checkpoint("new")


def test_data_hash_sensitivity():
    pdf, zt, cat = make_data(n=50)  # noqa: F821
    assert data_hash(cat) == data_hash(cat.copy())
    cat2 = cat.copy()
    cat2["mag"].unit = "mag"
    assert data_hash(cat2) != data_hash(cat)
    assert data_hash(pdf) == data_hash(RedshiftPDF(pdf.z_grid, pdf.pdf, ids=pdf.ids))
    assert data_hash(pdf) != data_hash(pdf[:49])
    assert data_hash(cat.to_pandas()) == data_hash(cat.to_pandas())


def test_archive_query_hashes_are_saved_and_checked(tmp_path):
    from astrolab.data.remote._cache import query_key

    q = {"archive": "sdss", "kind": "photometry", "query": {"ra": 150.1, "dec": 2.2, "radius_arcmin": 2.0}}
    path = astrolab.save_session(tmp_path / "s.json", selections={"a": Selection([1, 2])}, queries={"phot": q})
    doc = json.loads(path.read_text())
    assert doc["queries"]["phot"]["sha256"] == query_key("sdss", "photometry", q["query"])
    sess = astrolab.load_session(path, queries={"phot": q})
    assert sess.selections["a"] == {1, 2}
    moved = {**q, "query": {**q["query"], "radius_arcmin": 3.0}}
    with pytest.raises(SessionError, match="archive query 'phot' differs"):
        astrolab.load_session(path, queries={"phot": moved})
    with pytest.raises(SessionError, match="no archive query named 'other'"):
        astrolab.load_session(path, queries={"other": q})
    with pytest.raises(astrolab.errors.DataValidationError, match="'archive', 'kind' and 'query'"):
        astrolab.save_session(tmp_path / "t.json", queries={"bad": {"ra": 1}})
