"""astrolab.data.remote: archive fetchers replayed offline through the real astroquery/pyvo/requests code.

No test touches the network. ``requests.adapters.HTTPAdapter.send`` (the
transport under every ``requests`` call made by astroquery, pyvo and astrolab)
is replaced by a replay that answers registered URLs with payloads built here
in each archive's real format (SkyServer CSV, IRSA TAP VOTable, MAST JSON,
SDSS/Legacy Survey FITS); anything else fails the test. Everything above the
socket -- requests' response handling, urllib3's content-length checks,
astroquery's and pyvo's parsers -- is the real code.
"""

from __future__ import annotations

import bz2
import io
import json
import os
import re
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
import requests
import urllib3
from astropy import units as u
from astropy.io import fits
from astropy.table import Table

from astrolab.data import ImageSet, SpectrumSet
from astrolab.data import remote
from astrolab.errors import ArchiveError

RA, DEC = 150.11921, 2.20584


# ------------------------------------------------------------------------------------------ replay


class Replay:
    """Answers HTTP requests from registered routes; records every request."""

    def __init__(self):
        self.routes = []     # (method, regex, responder)
        self.requests = []   # PreparedRequest

    def add(self, method, pattern, body=b"", status=200, headers=None, truncate_to=None, exc=None, times=None):
        """Register a reply. ``truncate_to``: send only that many bytes but announce the full Content-Length."""
        self.routes.append(dict(method=method, rx=re.compile(pattern), body=body, status=status,
                                headers=headers or {}, truncate_to=truncate_to, exc=exc, times=times))

    def send(self, adapter, request, **kwargs):
        self.requests.append(request)
        for route in self.routes:
            if route["method"] == request.method and route["rx"].search(request.url):
                if route["times"] is not None:
                    if route["times"] <= 0:
                        continue
                    route["times"] -= 1
                if route["exc"] is not None:
                    raise route["exc"](f"replayed failure for {request.url}")
                body = route["body"]
                body = body(request) if callable(body) else body
                body = body.encode() if isinstance(body, str) else body
                headers = {"Content-Length": str(len(body)), **route["headers"]}
                sent = body if route["truncate_to"] is None else body[:route["truncate_to"]]
                raw = urllib3.HTTPResponse(body=io.BytesIO(sent), headers=headers, status=route["status"],
                                           preload_content=False, decode_content=False, enforce_content_length=True,
                                           request_method=request.method, request_url=request.url,
                                           reason="OK" if route["status"] < 400 else "Error")
                return adapter.build_response(request, raw)
        raise AssertionError(f"unexpected request (the tests never touch the network): {request.method} {request.url}")

    def urls(self):
        return [r.url for r in self.requests]


@pytest.fixture
def replay(monkeypatch):
    rp = Replay()

    def send(adapter, request, **kwargs):
        return rp.send(adapter, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    monkeypatch.delenv("ASTROLAB_OFFLINE", raising=False)
    return rp


def _cache_root() -> Path:
    return remote.ArchiveCache().root


# ------------------------------------------------------------------------------ recorded payloads

SDSS_SQL = r"skyserver\.sdss\.org/dr17/en/tools/search/x_results\.aspx"


def sdss_photometry_csv(n=3, null_specz_rows=(1,)):
    """SkyServer CSV reply of the sdss_photometry query (first line '#Table1', as SkyServer writes)."""
    bands = "ugriz"
    head = (["objid", "ra", "dec", "type"] + [f"modelMag_{b}" for b in bands] + [f"modelMagErr_{b}" for b in bands]
            + [f"extinction_{b}" for b in bands] + ["distance", "specz", "spec_class"])
    lines = ["#Table1", ",".join(head)]
    for k in range(n):
        mags = [19.5 + k + 0.4 * j for j in range(5)]
        errs = [0.02 * (j + 1) for j in range(5)]
        ext = [0.05, 0.04, 0.03, 0.02, 0.01]
        specz = "null" if k in null_specz_rows else f"{0.1 * (k + 1):.4f}"
        cls = "" if k in null_specz_rows else "GALAXY"
        row = ([str(1237651753997489000 + k), f"{RA + 1e-4 * k:.7f}", f"{DEC - 1e-4 * k:.7f}", "3"]
               + [f"{m:.4f}" for m in mags] + [f"{e:.4f}" for e in errs] + [f"{e:.3f}" for e in ext]
               + [f"{0.01 * k:.5f}", specz, cls])
        lines.append(",".join(row))
    return "\n".join(lines) + "\n"


def votable_bytes(table: Table) -> bytes:
    """A TAP sync reply: VOTable with RESOURCE type="results" and QUERY_STATUS=OK (as IRSA sends)."""
    from astropy.io.votable.tree import Info, VOTableFile
    from astropy.io.votable import from_table

    vot = from_table(table)
    res = vot.resources[0]
    res.type = "results"
    res.infos.append(Info(name="QUERY_STATUS", value="OK"))
    buf = io.BytesIO()
    vot.to_xml(buf)
    return buf.getvalue()


def allwise_table(n=4):
    t = Table()
    t["designation"] = [f"J100028.{k:02d}+021221.0" for k in range(n)]
    t["ra"] = (RA + 1e-4 * np.arange(n)) * u.deg
    t["dec"] = (DEC + 1e-4 * np.arange(n)) * u.deg
    for k in range(1, 5):
        mag = 14.0 + k + 0.1 * np.arange(n)
        err = np.full(n, 0.03 * k)
        if k == 4:  # W4 upper limit: null error
            err = np.ma.masked_array(err, mask=[True] * n)
        t[f"w{k}mpro"] = mag * u.mag
        t[f"w{k}sigmpro"] = err
        t[f"w{k}sigmpro"].unit = u.mag
    t["cc_flags"] = ["0000"] * n
    t["ext_flg"] = np.zeros(n, dtype=np.int32)
    return t


def unwise_table(n=3):
    t = Table()
    t["unwise_objid"] = [f"1497p015o{k:07d}" for k in range(n)]
    t["ra"] = (RA + 1e-4 * np.arange(n)) * u.deg
    t["dec"] = (DEC + 1e-4 * np.arange(n)) * u.deg
    t["flux_1"] = [1000.0, 100.0, -5.0]   # nanomaggies (Vega); last is a negative-flux measurement
    t["dflux_1"] = [10.0, 5.0, 3.0]
    t["flux_2"] = [500.0, 50.0, 20.0]
    t["dflux_2"] = [10.0, 5.0, 4.0]
    return t


MAST_PS1_META = r"catalogs\.mast\.stsci\.edu/api/v0\.1/panstarrs/dr2/mean/metadata\.json"
MAST_PS1 = r"catalogs\.mast\.stsci\.edu/api/v0\.1/panstarrs/dr2/mean\.json"
MAST_COLCONF = r"mast\.stsci\.edu/portal/Mashup/Mashup\.asmx/columnsconfig"
MAST_INVOKE = r"mast\.stsci\.edu/api/v0/invoke"


def ps1_metadata():
    names = ["objID", "raMean", "decMean", "nDetections"] + [f"{b}Mean{k}" for b in "grizy"
                                                              for k in ("PSFMag", "PSFMagErr", "KronMag")]
    return json.dumps([{"column_name": n, "db_type": "float" if "Mag" in n or "Mean" in n else "long",
                        "description": n} for n in names])


def ps1_json(n=3):
    info = [{"name": "objID", "type": "long"}, {"name": "raMean", "type": "double"},
            {"name": "decMean", "type": "double"}, {"name": "nDetections", "type": "short"}]
    data = []
    for k in range(n):
        row = {"objID": 110611501192000000 + k, "raMean": RA + 1e-4 * k, "decMean": DEC, "nDetections": 5 + k}
        for j, b in enumerate("grizy"):
            row[f"{b}MeanPSFMag"] = 20.0 + 0.3 * j + k if not (b == "y" and k == 2) else -999.0
            row[f"{b}MeanPSFMagErr"] = 0.01 * (j + 1)
            row[f"{b}MeanKronMag"] = 19.8 + 0.3 * j + k
        data.append(row)
    for b in "grizy":
        info += [{"name": f"{b}MeanPSFMag", "type": "float"}, {"name": f"{b}MeanPSFMagErr", "type": "float"},
                 {"name": f"{b}MeanKronMag", "type": "float"}]
    return json.dumps({"info": info, "data": data})


def galex_invoke(n=2, status="COMPLETE"):
    fields = [{"name": "objid", "type": "string"}, {"name": "ra", "type": "float"}, {"name": "dec", "type": "float"},
              {"name": "fuv_mag", "type": "float"}, {"name": "fuv_magerr", "type": "float"},
              {"name": "nuv_mag", "type": "float"}, {"name": "nuv_magerr", "type": "float"},
              {"name": "distance_arcmin", "type": "float"}]
    data = [{"objid": str(6381787756527353000 + k), "ra": RA + 1e-4 * k, "dec": DEC, "fuv_mag": 22.1 + k,
             "fuv_magerr": 0.2, "nuv_mag": 21.3 + k, "nuv_magerr": 0.1, "distance_arcmin": 0.01 * k}
            for k in range(n)]
    return json.dumps({"status": status, "msg": "" if status == "COMPLETE" else "Query failed on the server",
                       "data": data, "fields": fields,
                       "paging": {"page": 1, "pageSize": n, "pagesFiltered": 1, "rows": n, "rowsFiltered": n,
                                  "rowsTotal": n}})


def legacy_fits(size=16, bands="griz", ra=RA):
    """A Legacy Survey fits-cutout reply: primary HDU cube (B, H, W) with BAND<k> keys."""
    yy, xx = np.mgrid[:size, :size]
    cube = np.stack([(k + 1) * np.exp(-((xx - size / 2) ** 2 + (yy - size / 2) ** 2) / 8.0) for k in range(len(bands))])
    hdu = fits.PrimaryHDU(cube.astype(np.float32))
    for k, b in enumerate(bands):
        hdu.header[f"BAND{k}"] = b
    hdu.header["CRVAL1"], hdu.header["CRVAL2"] = ra, DEC
    buf = io.BytesIO()
    hdu.writeto(buf)
    return buf.getvalue()


def sdss_spec_fits(n_pix=300, start=35800, z=0.1):
    """An SDSS spec file: HDU1 COADD (flux, loglam, ivar, and_mask), HDU2 SPALL with Z."""
    loglam = (start + np.arange(n_pix)) / 1e4
    flux = 5.0 + np.sin(np.arange(n_pix) / 10.0)
    ivar = np.full(n_pix, 4.0)
    ivar[10] = 0.0
    and_mask = np.zeros(n_pix, dtype=np.int32)
    and_mask[20] = 1 << 16
    coadd = fits.BinTableHDU.from_columns([
        fits.Column("flux", "E", array=flux.astype(np.float32)), fits.Column("loglam", "E", array=loglam.astype(np.float32)),
        fits.Column("ivar", "E", array=ivar.astype(np.float32)), fits.Column("and_mask", "J", array=and_mask)],
        name="COADD")
    spall = fits.BinTableHDU.from_columns([fits.Column("Z", "E", array=np.array([z], np.float32)),
                                           fits.Column("CLASS", "6A", array=np.array(["GALAXY"]))], name="SPALL")
    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), coadd, spall]).writeto(buf)
    return buf.getvalue()


def sdss_frame_bz2(band_value=1.0, size=200):
    """An SDSS corrected frame (nanomaggies) with a TAN WCS centred near (RA, DEC), bzip2-compressed."""
    img = np.full((size, size), band_value, dtype=np.float32)
    img[100, 100] = 50.0 * band_value  # a 'star' at the reference pixel
    hdu = fits.PrimaryHDU(img)
    h = hdu.header
    h["CTYPE1"], h["CTYPE2"] = "RA---TAN", "DEC--TAN"
    h["CRPIX1"], h["CRPIX2"] = 101.0, 101.0  # FITS 1-based: pixel (100, 100)
    h["CRVAL1"], h["CRVAL2"] = RA, DEC
    h["CD1_1"], h["CD1_2"], h["CD2_1"], h["CD2_2"] = -0.396 / 3600, 0.0, 0.0, 0.396 / 3600
    buf = io.BytesIO()
    hdu.writeto(buf)
    return bz2.compress(buf.getvalue())


# ------------------------------------------------------------------------------------------ SDSS


def test_sdss_photometry_replay_units_and_nulls(replay):
    replay.add("GET", SDSS_SQL, sdss_photometry_csv(3))
    cat = remote.sdss_photometry(RA, DEC, radius=30 * u.arcsec)
    assert len(cat) == 3 and cat["object_id"].dtype == np.int64
    assert cat["object_id"][0] == 1237651753997489000
    assert cat["ra"].unit == u.deg and cat["g"].unit == u.mag and cat["g_err"].unit == u.mag
    np.testing.assert_allclose(cat["g"], [19.9, 20.9, 21.9], atol=1e-4)
    np.testing.assert_allclose(cat["z_err"], 0.10, atol=1e-6)
    # the second object has no spectrum: SkyServer 'null' -> NaN
    assert np.isnan(cat["redshift"][1]) and cat["redshift"][0] == pytest.approx(0.1)
    assert list(cat["spec_class"]) == ["GALAXY", "", "GALAXY"]
    # the SQL really went to SkyServer DR17 as a cone around the position
    q = parse_qs(urlparse(replay.urls()[0]).query)
    assert "fGetNearbyObjEq(150.1192100, 2.2058400, 0.500000)" in q["cmd"][0]
    assert q["format"] == ["csv"]
    # ready for PhotometricRedshift: magnitude_columns finds ugriz
    from astrolab.data.catalog import magnitude_columns

    mags, errs = magnitude_columns(cat, list("ugriz"))
    assert mags.shape == (3, 5) and np.all(np.isfinite(errs))


def test_cache_hit_serves_without_network_and_offline(replay, monkeypatch):
    replay.add("GET", SDSS_SQL, sdss_photometry_csv(3), times=1)
    first = remote.sdss_photometry(RA, DEC, radius=30)
    assert len(replay.requests) == 1
    second = remote.sdss_photometry(RA, DEC, radius=30)          # cache hit: no second request
    assert len(replay.requests) == 1
    np.testing.assert_array_equal(first["object_id"], second["object_id"])
    np.testing.assert_allclose(first["r"], second["r"])
    assert second["g"].unit == u.mag
    monkeypatch.setenv("ASTROLAB_OFFLINE", "1")
    third = remote.sdss_photometry(RA, DEC, radius=30)           # offline: from the cache
    assert len(third) == 3 and len(replay.requests) == 1
    # a different query is a miss: offline it names the archive, the query and the cache
    with pytest.raises(ArchiveError) as err:
        remote.sdss_photometry(RA, DEC, radius=31)
    msg = str(err.value)
    assert "SDSS" in msg and "offline" in msg and '"radius_deg"' in msg and str(_cache_root()) in msg
    assert len(replay.requests) == 1
    # refresh=True online refetches
    monkeypatch.delenv("ASTROLAB_OFFLINE")
    replay.add("GET", SDSS_SQL, sdss_photometry_csv(2))
    assert len(remote.sdss_photometry(RA, DEC, radius=30, refresh=True)) == 2


def test_offline_argument_never_contacts_archive(replay):
    with pytest.raises(ArchiveError, match="not in the cache"):
        remote.allwise(RA, DEC, 5, offline=True)
    assert replay.requests == []


@pytest.mark.parametrize("exc, words", [(requests.exceptions.ReadTimeout, "no answer in time"),
                                        (requests.exceptions.ConnectTimeout, "no answer in time"),
                                        (requests.exceptions.ConnectionError, "cannot connect")])
def test_sdss_timeouts_and_connection_errors(replay, exc, words):
    replay.add("GET", SDSS_SQL, exc=exc)
    with pytest.raises(ArchiveError) as err:
        remote.sdss_photometry(RA, DEC, radius=30, timeout=2)
    msg = str(err.value)
    assert msg.startswith("SDSS (photometry)") and words in msg and "Cache:" in msg and "(not written)" in msg
    assert "fix:" in msg.lower()
    assert replay.requests[0].url.startswith("https://skyserver.sdss.org/dr17/")
    assert remote.ArchiveCache().entries() == []


def test_sdss_http_error_page_is_not_parsed(replay):
    replay.add("GET", SDSS_SQL, "<html><body>Service Unavailable</body></html>", status=503,
               headers={"Content-Type": "text/html"})
    with pytest.raises(ArchiveError, match="HTTP error 503"):
        remote.sdss_sql("SELECT TOP 1 objID FROM PhotoObj")
    assert remote.ArchiveCache().entries() == []


def test_sdss_sql_error_message_reply(replay):
    replay.add("GET", SDSS_SQL, "#Table1\nerror_message\nIncorrect syntax near 'FORM'\n")
    with pytest.raises(ArchiveError, match="RemoteServiceError"):
        remote.sdss_sql("SELECT TOP 1 objID FORM PhotoObj")


def test_sdss_truncated_csv_in_transit(replay):
    body = sdss_photometry_csv(3)
    replay.add("GET", SDSS_SQL, body, truncate_to=len(body) // 2)
    with pytest.raises(ArchiveError, match="truncated"):
        remote.sdss_photometry(RA, DEC, radius=30)
    assert remote.ArchiveCache().entries() == []


def test_sdss_spectra_replay(replay):
    replay.add("GET", SDSS_SQL, "#Table1\nrun2d,plate,mjd,fiberID,z\n26,266,51602,3,0.1\n", times=1)
    replay.add("GET", r"data\.sdss\.org/sas/dr17/.*/spec-0266-51602-0003\.fits$", sdss_spec_fits(300, 35800, 0.1))
    replay.add("GET", r"data\.sdss\.org/sas/dr17/.*/spec-0300-51666-0011\.fits$", sdss_spec_fits(300, 35850, 0.2))
    spec = remote.sdss_spectra([266], [51602], [3])      # run2d looked up in SpecObj
    assert isinstance(spec, SpectrumSet) and spec.flux.shape == (1, 300)
    assert list(spec.ids) == ["266-51602-3"]
    assert spec.redshift[0] == pytest.approx(0.1, rel=1e-5)
    np.testing.assert_allclose(spec.wavelength[0], 10 ** 3.58, rtol=1e-6)
    assert spec.mask[0, 10] and spec.mask[0, 20] and not spec.mask[0, 11]   # ivar = 0 and AND-mask pixels
    assert "/sdss/spectro/redux/26/spectra/0266/spec-0266-51602-0003.fits" in replay.urls()[1]
    # two spectra with different coverage: union log-lambda grid, uncovered pixels masked
    both = remote.sdss_spectra([266, 300], [51602, 51666], [3, 11], run2d="26")
    assert both.flux.shape == (2, 350)
    assert both.mask[1, :50].all() and not both.mask[1, 61] and both.mask[0, 300:].all()
    np.testing.assert_allclose(both.flux[1, 50], 5.0, atol=1e-5)
    np.testing.assert_allclose(both.redshift, [0.1, 0.2], rtol=1e-5)


def test_sdss_cutouts_replay_wcs(replay):
    replay.add("GET", SDSS_SQL, "#Table1\nrun,rerun,camcol,field\n756,301,3,215\n")
    for k, b in enumerate("gr"):
        replay.add("GET", rf"data\.sdss\.org/sas/dr17/eboss/photoObj/frames/301/756/3/frame-{b}-000756-3-0215\.fits\.bz2$",
                   sdss_frame_bz2(band_value=k + 1.0))
    imgs = remote.sdss_cutouts([RA], [DEC], size=16, bands="gr", ids=["NGC_test"])
    assert isinstance(imgs, ImageSet) and imgs.images.shape == (1, 2, 16, 16)
    assert imgs.pixel_scale == pytest.approx(0.396) and list(imgs.ids) == ["NGC_test"]
    # the star at the WCS reference pixel lands in the centre of the cutout
    peak = np.unravel_index(np.argmax(imgs.images[0, 1]), (16, 16))
    assert peak == (8, 8) and imgs.images[0, 1].max() == pytest.approx(100.0)
    assert not imgs.mask.any()
    # near the frame edge: the part off the frame is masked
    replay.add("GET", SDSS_SQL, "#Table1\nrun,rerun,camcol,field\n756,301,3,215\n")
    edge_ra = RA + 95 * 0.396 / 3600 / np.cos(np.radians(DEC))
    edge = remote.sdss_cutouts(edge_ra, DEC, size=16, bands="g")
    assert edge.mask[0, 0].any() and not edge.mask[0, 0].all()
    assert np.all(edge.images[edge.mask] == 0)


def test_sdss_truncated_frame(replay):
    frame = sdss_frame_bz2()
    replay.add("GET", SDSS_SQL, "#Table1\nrun,rerun,camcol,field\n756,301,3,215\n")
    # the server closed the connection early (no Content-Length check possible): bzip2 stream ends too soon
    replay.add("GET", r"frame-g-000756-3-0215\.fits\.bz2$", frame[: len(frame) // 2],
               headers={"Content-Length": str(len(frame) // 2)})
    with pytest.raises(ArchiveError, match="bzip2 stream truncated"):
        remote.sdss_cutouts(RA, DEC, size=16, bands="g")


# ------------------------------------------------------------------------------------------ IRSA

IRSA_TAP = r"irsa\.ipac\.caltech\.edu/TAP/sync$"


def test_allwise_replay_votable(replay):
    replay.add("POST", IRSA_TAP, votable_bytes(allwise_table(4)), headers={"Content-Type": "text/xml"})
    cat = remote.allwise(RA, DEC, 10 * u.arcsec)
    assert len(cat) == 4 and cat["W1"].unit == u.mag and cat["ra"].unit == u.deg
    np.testing.assert_allclose(cat["W2"], 16.0 + 0.1 * np.arange(4), atol=1e-6)
    assert np.all(np.isnan(cat["W4_err"])) and np.all(np.isfinite(cat["W3_err"]))
    assert cat["object_id"][0] == "J100028.00+021221.0"
    body = parse_qs(replay.requests[0].body if isinstance(replay.requests[0].body, str)
                    else replay.requests[0].body.decode())
    adql = body["QUERY"][0]
    assert adql.startswith("SELECT designation,ra,dec,w1mpro") and "FROM allwise_p3as_psd" in adql
    assert "CIRCLE('ICRS',150.11921,2.20584,0.002777" in adql


def test_unwise_fluxes_to_vega_mags(replay):
    replay.add("POST", IRSA_TAP, votable_bytes(unwise_table()))
    cat = remote.unwise(RA, DEC, 10)
    assert cat["flux_W1"].unit == u.nmgy and cat["W1"].unit == u.mag
    np.testing.assert_allclose(cat["W1"][:2], [22.5 - 7.5, 22.5 - 5.0])
    np.testing.assert_allclose(cat["W1_err"][0], 2.5 / np.log(10) * 0.01)
    assert np.isnan(cat["W1"][2])              # negative flux: no magnitude
    assert "FROM unwise_2019" in parse_qs(replay.requests[0].body)["QUERY"][0]


def test_irsa_truncated_votable(replay):
    body = votable_bytes(allwise_table(50))
    replay.add("POST", IRSA_TAP, body[: len(body) // 2], headers={"Content-Length": str(len(body) // 2)})
    with pytest.raises(ArchiveError) as err:
        remote.allwise(RA, DEC, 10)
    assert "IRSA (allwise_p3as_psd)" in str(err.value) and "could not be read" in str(err.value)


def test_irsa_content_length_truncation_and_http_error(replay):
    body = votable_bytes(allwise_table(50))
    replay.add("POST", IRSA_TAP, body, truncate_to=len(body) - 100, times=1)
    with pytest.raises(ArchiveError, match="IRSA"):
        remote.allwise(RA, DEC, 10)
    replay.add("POST", IRSA_TAP, "Internal error", status=500, times=1)
    with pytest.raises(ArchiveError, match="500"):
        remote.allwise(RA, DEC, 10)
    replay.add("POST", IRSA_TAP, exc=requests.exceptions.ReadTimeout)
    with pytest.raises(ArchiveError, match="no answer in time|Timeout"):
        remote.allwise(RA, DEC, 10)
    assert remote.ArchiveCache().entries() == []


# ------------------------------------------------------------------------------------------ MAST


def test_panstarrs_replay_json(replay):
    replay.add("GET", MAST_PS1_META, ps1_metadata())
    replay.add("POST", MAST_PS1, ps1_json(3), headers={"Content-Type": "application/json"})
    cat = remote.panstarrs(RA, DEC, 5 * u.arcsec, min_detections=2)
    assert len(cat) == 3 and cat["object_id"].dtype == np.int64
    assert list(cat.colnames[:13]) == ["object_id", "ra", "dec", "g", "r", "i", "z", "y",
                                       "g_err", "r_err", "i_err", "z_err", "y_err"]
    np.testing.assert_allclose(cat["r"], [20.3, 21.3, 22.3], atol=1e-5)
    assert np.isnan(cat["y"][2])               # -999 sentinel -> NaN
    assert list(cat["n_detections"]) == [5, 6, 7]
    sent = json.loads(replay.requests[-1].body)
    assert sent["ra"] == pytest.approx(RA) and sent["radius"] == pytest.approx(5 / 3600)
    assert sent["nDetections.gte"] == 2


def test_galex_replay_portal(replay):
    replay.add("POST", MAST_COLCONF, json.dumps({"fuv_mag": {"text": "FUV", "ignoreValue": None}}))
    replay.add("POST", MAST_INVOKE, galex_invoke(2))
    cat = remote.galex(RA, DEC, 10)
    assert len(cat) == 2 and cat["FUV"].unit == u.mag
    np.testing.assert_allclose(cat["NUV"], [21.3, 22.3])
    assert cat["object_id"][1] == "6381787756527353001"


def test_mast_error_status_and_bad_json(replay):
    replay.add("POST", MAST_COLCONF, json.dumps({"fuv_mag": {"text": "FUV"}}))
    replay.add("POST", MAST_INVOKE, galex_invoke(2, status="ERROR"), times=1)
    with pytest.raises(ArchiveError, match="MAST .*Query failed on the server"):
        remote.galex(RA, DEC, 10)
    replay.add("POST", MAST_INVOKE, galex_invoke(2)[:40], times=1)   # truncated JSON
    with pytest.raises(ArchiveError, match="MAST"):
        remote.galex(RA, DEC, 10)
    replay.add("GET", MAST_PS1_META, ps1_metadata())
    replay.add("POST", MAST_PS1, "upstream timeout", status=504)
    with pytest.raises(ArchiveError, match="HTTP error 504"):
        remote.panstarrs(RA, DEC, 5)


# ---------------------------------------------------------------------------------- Legacy Survey

LEGACY = r"www\.legacysurvey\.org/viewer/fits-cutout\?"


def test_legacy_cutouts_replay(replay):
    replay.add("GET", LEGACY, legacy_fits(16, "griz"), headers={"Content-Type": "image/fits"})
    imgs = remote.legacy_cutouts([RA, RA + 0.01], [DEC, DEC], size=16, ids=[7, 9])
    assert imgs.images.shape == (2, 4, 16, 16) and list(imgs.ids) == [7, 9]
    assert imgs.bands == ["g", "r", "i", "z"] and imgs.pixel_scale == pytest.approx(0.262)
    np.testing.assert_allclose(imgs.images[0, :, 8, 8], [1, 2, 3, 4], rtol=1e-6)
    q = parse_qs(urlparse(replay.urls()[0]).query)
    assert q["layer"] == ["ls-dr10"] and q["bands"] == ["griz"] and q["size"] == ["16"]
    assert len(replay.requests) == 2
    # band order follows the request even if the service orders them differently
    replay.routes.clear()
    replay.add("GET", LEGACY, legacy_fits(16, "zg"))
    two = remote.legacy_cutouts(RA + 1, DEC, size=16, bands="gz")
    np.testing.assert_allclose(two.images[0, :, 8, 8], [2, 1], rtol=1e-6)


@pytest.mark.parametrize("mode", ["content-length", "short-file", "html", "wrong-shape"])
def test_legacy_bad_payloads(replay, mode):
    good = legacy_fits(16, "griz")
    if mode == "content-length":
        replay.add("GET", LEGACY, good, truncate_to=len(good) - 2000)
        words = "truncated"
    elif mode == "short-file":
        replay.add("GET", LEGACY, good[:-2000], headers={"Content-Length": str(len(good) - 2000)})
        words = "2880-byte FITS blocks"
    elif mode == "html":
        replay.add("GET", LEGACY, "<html>no such layer</html>")
        words = "not a FITS file"
    else:
        replay.add("GET", LEGACY, legacy_fits(8, "griz"))
        words = "expected"
    with pytest.raises(ArchiveError, match=words) as err:
        remote.legacy_cutouts(RA, DEC, size=16)
    assert err.value.__class__ is ArchiveError and "LegacySurvey" in str(err.value)
    assert remote.ArchiveCache().entries() == []


# ------------------------------------------------------------------------------ cache integrity


def test_checksum_corruption_detected(replay, monkeypatch):
    replay.add("GET", LEGACY, legacy_fits(16, "griz"))
    remote.legacy_cutouts(RA, DEC, size=16)
    [meta] = remote.ArchiveCache().entries()
    product = meta.with_suffix(".h5")
    data = bytearray(product.read_bytes())
    data[len(data) // 2] ^= 0xFF                     # flip one byte
    product.write_bytes(bytes(data))
    # offline: refuse to serve it, naming the file and the fix
    with pytest.raises(ArchiveError) as err:
        remote.legacy_cutouts(RA, DEC, size=16, offline=True)
    assert "checksum mismatch" in str(err.value) and str(product) in str(err.value)
    assert len(replay.requests) == 1
    # online: warn, drop the entry, refetch, and the new entry verifies
    with pytest.warns(RuntimeWarning, match="checksum mismatch"):
        again = remote.legacy_cutouts(RA, DEC, size=16)
    assert len(replay.requests) == 2 and again.images.shape == (1, 4, 16, 16)
    remote.legacy_cutouts(RA, DEC, size=16, offline=True)   # verified read


def test_metadata_missing_is_a_miss_and_truncated_product_detected(replay):
    replay.add("POST", IRSA_TAP, votable_bytes(allwise_table(3)))
    remote.allwise(RA, DEC, 10)
    [meta] = remote.ArchiveCache().entries()
    product = meta.with_suffix(".ecsv")
    product.write_bytes(product.read_bytes()[:100])          # truncated on disk
    with pytest.raises(ArchiveError, match="checksum mismatch"):
        remote.allwise(RA, DEC, 10, offline=True)
    meta.unlink()                                             # product without metadata: not an entry
    with pytest.raises(ArchiveError, match="not in the cache"):
        remote.allwise(RA, DEC, 10, offline=True)


@pytest.mark.parametrize("bad_id", ["../../../etc/passwd", "/etc/passwd", "..", "a/../../b", "C:\\Windows\\x",
                                    "name\x00with\nnul", "." * 300])
def test_path_traversal_ids_stay_inside_cache(replay, bad_id, tmp_path):
    replay.add("GET", LEGACY, legacy_fits(16, "griz"))
    imgs = remote.legacy_cutouts([RA], [DEC], size=16, ids=[bad_id])
    assert list(imgs.ids) == [bad_id]                    # the id itself is kept in the container
    root = _cache_root()
    files = [p for p in root.rglob("*") if p.is_file()]
    assert len(files) == 2
    for p in files:
        assert p.resolve().is_relative_to(root)
        assert ".." not in p.name and "/" not in p.name and "\x00" not in p.name
    assert not (tmp_path.parent / "etc").exists()
    frag = remote.sanitize_id(bad_id)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", frag) and ".." not in frag and len(frag) <= 48


def test_interrupted_cache_write_leaves_no_entry(replay, monkeypatch):
    """A write killed half-way (here: the ECSV writer raises after writing part of the file) leaves nothing."""
    replay.add("POST", IRSA_TAP, votable_bytes(allwise_table(3)))
    real_write = Table.__dict__["write"]

    def half_write(self, path, *args, **kwargs):
        with open(path, "w") as fh:
            fh.write("# %ECSV 1.0\n# ---\n# datatype:\n")
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(Table, "write", half_write)
    with pytest.raises(KeyboardInterrupt):
        remote.irsa_catalog(RA, DEC, 10)
    root = _cache_root()
    assert [p for p in root.rglob("*") if p.is_file()] == []        # no product, no temp file, no metadata
    with pytest.raises(ArchiveError, match="not in the cache"):
        remote.irsa_catalog(RA, DEC, 10, offline=True)
    monkeypatch.setattr(Table, "write", real_write)
    remote.irsa_catalog(RA, DEC, 10)
    assert len(remote.irsa_catalog(RA, DEC, 10, offline=True)) == 3


def test_input_validation_before_any_request(replay):
    from astrolab.errors import DataValidationError

    with pytest.raises(DataValidationError, match="radius"):
        remote.sdss_photometry(RA, DEC, radius=-1)
    with pytest.raises(DataValidationError, match="dec"):
        remote.allwise(RA, 95.0, 5)
    with pytest.raises(DataValidationError, match="NaN"):
        remote.legacy_cutouts([RA, np.nan], [DEC, DEC])
    with pytest.raises(DataValidationError, match="duplicate"):
        remote.legacy_cutouts([RA, RA], [DEC, DEC], ids=["a", "a"])
    with pytest.raises(DataValidationError, match="mag_type"):
        remote.sdss_photometry(RA, DEC, mag_type="fiber2")
    with pytest.raises(DataValidationError, match="bands"):
        remote.sdss_cutouts(RA, DEC, bands="gq")
    assert replay.requests == []


# ------------------------------------------------------------------------------- notebook helpers


def test_fetch_or_fallback_uses_archive_cache_then_simulator(replay, capsys):
    sim = Table({"object_id": [1], "ra": [RA], "dec": [DEC]})
    # offline, not cached: the simulator, with the ArchiveError message kept
    got = remote.fetch_or_fallback(lambda: remote.allwise(RA, DEC, 5, offline=True), lambda: sim,
                                   archive_label="AllWISE", fallback_label="simulated")
    assert got.source == "fallback" and got.data is sim and "not in the cache" in got.error
    assert "using simulated (archive unavailable: IRSA (allwise_p3as_psd): offline mode" in capsys.readouterr().out
    # online: the archive; then offline: the cache (still 'archive')
    replay.add("POST", IRSA_TAP, votable_bytes(allwise_table(2)))
    got = remote.fetch_or_fallback(lambda: remote.allwise(RA, DEC, 5), lambda: sim, archive_label="AllWISE",
                                   fallback_label="simulated", verbose=False)
    assert got.source == "archive" and len(got.data) == 2 and got.error is None
    got = remote.fetch_or_fallback(lambda: remote.allwise(RA, DEC, 5, offline=True), lambda: sim,
                                   archive_label="AllWISE", fallback_label="simulated", verbose=False)
    assert got.source == "archive" and len(got.data) == 2
    # bad arguments are not hidden by the fallback
    from astrolab.errors import DataValidationError

    with pytest.raises(DataValidationError):
        remote.fetch_or_fallback(lambda: remote.allwise(RA, 95, 5), lambda: sim, archive_label="a",
                                 fallback_label="b")


def test_crossmatch_nearest_within_radius():
    left = Table({"object_id": [1, 2, 3], "ra": [RA, RA + 0.01, RA + 0.02], "dec": [DEC, DEC, DEC],
                  "g": [20.0, 21.0, 22.0]})
    right = Table({"object_id": ["a", "b"], "ra": [RA + 0.3 / 3600, RA + 0.01 + 3 / 3600], "dec": [DEC, DEC],
                   "W1": [15.0, 16.0], "flag": [True, True]})
    right["W1"].unit = u.mag
    out = remote.crossmatch(left, right, radius=1.0)
    assert out.colnames == ["object_id", "ra", "dec", "g", "sep_arcsec", "object_id_2", "W1", "flag"]
    assert list(out["object_id_2"]) == ["a", "", ""]                 # the 2nd is 3" away: beyond 1"
    assert out["W1"][0] == 15.0 and np.isnan(out["W1"][1]) and out["W1"].unit == u.mag
    assert out["sep_arcsec"][0] == pytest.approx(0.3 * np.cos(np.radians(DEC)), rel=1e-3)
    assert list(out["flag"]) == [True, False, False]
    wide = remote.crossmatch(left, right, radius=5 * u.arcsec)
    assert list(wide["object_id_2"]) == ["a", "b", ""]


KILL_CHILD = r'''
import os, signal, sys
import numpy as np
from astrolab.data import ImageSet
from astrolab.data.remote import _cache
from astrolab.data.remote._core import cached_fetch

where = sys.argv[1]
if where == "hash":        # product fully written to its temporary file, not yet renamed
    _cache._sha256 = lambda path: os.kill(os.getpid(), signal.SIGKILL)
elif where == "meta":      # product renamed into place, metadata not yet written
    real = _cache.json.dumps
    _cache.json.dumps = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
entry = _cache.ArchiveCache().entry("TEST", "images", {"q": 1}, label="obj", ext=".h5")
cached_fetch(entry, lambda: ImageSet(np.ones((50, 3, 32, 32)), ["g", "r", "z"], 0.262), offline=False)
print("finished")
'''


@pytest.mark.parametrize("where", ["hash", "meta"])
def test_cache_write_killed_by_sigkill_leaves_no_entry(tmp_path, where):
    import signal
    import subprocess
    import sys

    from astrolab.data.remote._core import cached_fetch

    script = tmp_path / "child.py"
    script.write_text(KILL_CHILD)
    proc = subprocess.run([sys.executable, str(script), where], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ))
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    cache = remote.ArchiveCache()
    entry = cache.entry("TEST", "images", {"q": 1}, label="obj", ext=".h5")
    assert not entry.exists() and cache.entries() == []          # no metadata: nothing is ever served
    assert cache.get(entry, offline=True) is None
    with pytest.raises(ArchiveError, match="not in the cache"):
        cached_fetch(entry, lambda: None, offline=True)
    # the next online fetch writes a complete, verified entry over whatever the kill left
    imgs = cached_fetch(entry, lambda: ImageSet(np.zeros((2, 1, 4, 4)), ["g"], 0.262), offline=False)
    assert entry.exists() and len(cache.get(entry, offline=True)) == len(imgs) == 2
