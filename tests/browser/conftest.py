"""Fixtures for the real-browser tests: a JupyterLab server and headless Chromium.

- Without ``/usr/bin/chromium`` the tests are skipped, except when ``CI`` is set:
  then they fail and say to run ``bash scripts/install_browser.sh``.
- ``jupyterlab`` (session): ``python -m jupyter lab`` on a free port with a random
  token, serving a temporary copy of ``tests/browser/notebooks``; its whole
  process group (and its kernels) are killed at the end of the session.
- ``browser_context`` (per test): Chromium with a fresh ``--user-data-dir``;
  every request is routed: 127.0.0.1/localhost continue, any other request is
  aborted and recorded; at the end of the test none may have been recorded and
  the console may not mention a failed non-local load.
- ``notebook_factory`` (per test): ``open_nb("name.ipynb")`` returns a
  :class:`jlab_harness.Notebook` with the kernel idle.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from jlab_harness import (  # noqa: E402
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    JupyterLabServer,
    NetworkGuard,
    Notebook,
    artifact_path,
    close_context,
    launch_context,
)



def _chromium_or_skip() -> None:
    if os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return
    msg = f"{CHROMIUM} is missing: run `bash scripts/install_browser.sh` (apt-get install chromium) first"
    if os.environ.get("CI"):
        pytest.fail(msg + " (CI is set, so the browser tests may not be skipped)", pytrace=False)
    pytest.skip(msg)


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(here):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    _chromium_or_skip()
    return CHROMIUM


@pytest.fixture(scope="session")
def jupyterlab(chromium_path, tmp_path_factory):
    """A running JupyterLab (stopped, with its kernels, at the end of the session)."""
    server = JupyterLabServer(workdir=tmp_path_factory.mktemp("jupyterlab"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def playwright_instance(chromium_path):
    # module scope: Playwright's sync API marks an asyncio loop as running in the main thread for as long as
    # it lives; kept for the whole session it made asyncio.get_running_loop() succeed in every later test
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()


@pytest.fixture
def browser_context(playwright_instance, tmp_path, request):
    """Chromium (fresh user-data-dir) whose every non-local request is aborted and recorded."""
    context = launch_context(playwright_instance, tmp_path / "chromium-profile")
    try:
        yield context
    finally:
        rep = getattr(request.node, "rep_call", None)
        close_context(context, request.node.name, check=rep is None or rep.passed)


@pytest.fixture
def page(browser_context):
    pg = browser_context.pages[0] if browser_context.pages else browser_context.new_page()
    browser_context.guard.watch(pg)
    return pg


@pytest.fixture
def open_nb(page, jupyterlab, request):
    """``open_nb(name)`` -> :class:`Notebook` opened, kernel idle. Screenshot on failure."""
    opened: list[Notebook] = []

    def _open(name: str, timeout: float = 120.0) -> Notebook:
        nb = Notebook(page, jupyterlab, name, request.node.name)
        opened.append(nb)
        return nb.open(timeout=timeout)

    yield _open
    rep = getattr(request.node, "rep_call", None)
    if opened and rep is not None and rep.failed:
        try:
            opened[-1].screenshot("FAILED", outputs=False)
        except Exception:  # noqa: BLE001
            pass
        print(f"\nJupyterLab log tail:\n{jupyterlab.log_tail(40)}")
        print(f"\nconsole:\n{page.context.guard.summary()}")


@pytest.fixture(scope="session", autouse=True)
def _artifacts_dir():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(autouse=True)
def _fresh_artifacts(request):
    """Remove this test's screenshots from earlier runs."""
    for old in ARTIFACTS.glob(f"{request.node.name}-*"):
        old.unlink(missing_ok=True)
