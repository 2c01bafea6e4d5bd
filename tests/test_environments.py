"""``binder/``, ``environment.yml`` and ``pyproject.toml`` describe the same environment (no drift).

Each of them installs astrolab itself (so its dependencies come from ``pyproject.toml``) under the same
``constraints.txt`` pins, with the same torch and Python; every dependency of ``pyproject.toml`` is
pinned in ``constraints.txt`` at a version its requirement admits.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        reqs += [Requirement(r) for r in extra]
    return reqs


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_every_pyproject_dependency_is_pinned_at_an_admitted_version():
    pins = _constraints()
    for req in _pyproject_requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not pinned in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"constraints.txt pins {req.name}=={pins[name]}, outside pyproject's {req.specifier}"
    assert pins["torch"] == "2.13.0"
    assert "torchvision" not in pins, "astrolab avoids torchvision"


def test_environment_yml_installs_the_package_with_the_same_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert "-c constraints.txt" in pip
    assert "torch==2.13.0" in pip
    assert any(re.fullmatch(r"-e \.(\[[\w,]+\])?", p) for p in pip), "environment.yml must pip-install astrolab itself"
    extra = [p for p in pip if not p.startswith("-") and not p.startswith("torch")]
    assert not extra, f"environment.yml lists packages outside pyproject.toml: {extra}"


def test_binder_installs_the_package_with_the_same_pins_and_cpu_torch():
    req = [ln.strip() for ln in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
           if ln.strip() and not ln.startswith("#")]
    assert "torch==2.13.0" in req
    assert any("download.pytorch.org/whl/cpu" in ln for ln in req), "Binder must take the CPU build of torch"
    extra = [ln for ln in req if not ln.startswith("-") and not ln.startswith("torch")]
    assert not extra, f"binder/requirements.txt lists packages outside pyproject.toml: {extra}"
    post = (ROOT / "binder" / "postBuild").read_text()
    assert re.search(r"pip install .*-c constraints\.txt .*-e \.", post)
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    start = (ROOT / "binder" / "start").read_text()
    assert "ASTROLAB_FAST=1" in start
