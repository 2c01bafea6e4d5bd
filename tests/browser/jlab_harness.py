"""Helpers to drive JupyterLab in headless Chromium (used by tests/browser).

Everything here is bounded in time: every wait has a timeout and raises
``AssertionError`` with a readable message (and the relevant log tail) when it
expires, so a broken panel fails a test instead of hanging CI.

Main pieces
-----------
- :class:`JupyterLabServer`  -- start ``python -m jupyter lab`` on a free port in
  its own process group, wait for ``/lab?token=...``, kill everything at stop.
- :class:`NetworkGuard`      -- route every request of a browser context: local
  (127.0.0.1 / localhost) requests continue, every other one is aborted and
  recorded; console messages and page errors are collected too.
- :class:`Notebook`          -- open a notebook by URL, accept the kernel dialog,
  run all cells through the Run menu, wait for the kernel and the outputs,
  check widgets / bokeh canvases, take screenshots.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_SRC = Path(__file__).resolve().parent / "notebooks"
ARTIFACTS = REPO_ROOT / "artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1600}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}

# JupyterLab user settings written into the temporary settings dir: no news
# toast / update check (they would reach jupyterlab.github.io), and every cell
# kept in the DOM (windowing "none") so outputs below the fold are rendered.
LAB_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "kernelStatus": {"showOnStatusBar": True, "showProgress": True},
    },
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {
        "autosave": False,
        "confirmClosingDocument": False,
    },
    "@jupyterlab/extensionmanager-extension/plugin.jupyterlab-settings": {
        "enabled": False,
        "disclaimed": False,
    },
    "@jupyterlab/apputils-extension/themes.jupyterlab-settings": {
        "theme": "JupyterLab Light",
    },
}


def is_local_url(url: str) -> bool:
    """True for URLs that never leave this machine (127.0.0.1, localhost, data:, blob:, about:)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in {"data", "blob", "about", "chrome", "chrome-extension", "devtools"}:
        return True
    if parsed.scheme == "" and not parsed.netloc:
        return True
    return (parsed.hostname or "") in LOCAL_HOSTS


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def artifact_path(test_name: str, step: str, suffix: str = ".png") -> Path:
    """Path ``artifacts/browser/<test>-<step><suffix>`` (folder created)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{test_name}-{step}")
    return ARTIFACTS / f"{safe}{suffix}"


# --------------------------------------------------------------------------- server
@dataclass
class JupyterLabServer:
    """A JupyterLab server in its own process group, serving a temporary root dir."""

    workdir: Path
    startup_timeout: float = 120.0
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def root_dir(self) -> Path:
        return self.workdir / "root"

    @property
    def log_path(self) -> Path:
        return self.workdir / "jupyterlab.log"

    def notebook_url(self, name: str) -> str:
        # ?reset: start from an empty workspace (the server keeps the layout of
        # the previous page otherwise, re-opening its notebooks and kernels)
        return f"{self.url}/lab/tree/{urllib.parse.quote(name)}?reset&token={self.token}"

    # -- setup
    def _prepare_dirs(self) -> dict[str, str]:
        self.root_dir.mkdir(parents=True, exist_ok=True)
        for nb in NOTEBOOK_SRC.glob("*.ipynb"):
            shutil.copy2(nb, self.root_dir / nb.name)
        settings = self.workdir / "user-settings"
        for rel, content in LAB_USER_SETTINGS.items():
            path = settings / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(content, indent=1))
        for name in ("workspaces", "config", "runtime", "ipython", "data", "cache", "mpl"):
            (self.workdir / name).mkdir(exist_ok=True)

        venv_bin = str(Path(sys.executable).parent)
        env = dict(os.environ)
        env.update(
            PATH=venv_bin + os.pathsep + env.get("PATH", ""),
            # the kernel (cwd = root dir) must import the astrolab of this checkout
            PYTHONPATH=os.pathsep.join(p for p in [str(REPO_ROOT), env.get("PYTHONPATH", "")] if p),
            JUPYTER_CONFIG_DIR=str(self.workdir / "config"),
            JUPYTER_RUNTIME_DIR=str(self.workdir / "runtime"),
            JUPYTER_DATA_DIR=str(self.workdir / "data"),
            IPYTHONDIR=str(self.workdir / "ipython"),
            MPLCONFIGDIR=str(self.workdir / "mpl"),
            ASTROLAB_FAST="1",
            ASTROLAB_CACHE=str(self.workdir / "cache"),  # TrainingPanel writes runs there
            PYTHONUNBUFFERED="1",
            JUPYTER_PLATFORM_DIRS="1",
        )
        # the user's defaults: a BOKEH_RESOURCES=inline/cdn here makes panel point
        # its stylesheets at cdn.holoviz.org (panel.io.resources.use_cdn)
        for var in ("JUPYTER_TOKEN", "BOKEH_RESOURCES", "BOKEH_CDN_VERSION"):
            env.pop(var, None)
        return env

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "jupyter", "lab",
            "--no-browser", "--allow-root",
            "--ip", "127.0.0.1",
            "--port", str(self.port),
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            "--ServerApp.terminals_enabled=False",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
            f"--LabApp.user_settings_dir={self.workdir / 'user-settings'}",
            f"--LabApp.workspaces_dir={self.workdir / 'workspaces'}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.collaborative=False",
        ]

    def start(self) -> "JupyterLabServer":
        env = self._prepare_dirs()
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.command(), cwd=self.root_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + self.startup_timeout
        last_err = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with code {self.proc.returncode} during start-up:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/lab?token={self.token}", timeout=5) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, OSError) as exc:  # not up yet
                last_err = exc
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"JupyterLab did not answer on {self.url}/lab within {self.startup_timeout:.0f} s "
            f"(last error: {last_err}):\n{self.log_tail()}"
        )

    # -- REST helpers
    def api(self, method: str, path: str, timeout: float = 10.0):
        req = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        try:
            for kernel in self.api("GET", "/api/kernels") or []:
                self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=20)
        except Exception:  # noqa: BLE001 -- best effort, the kill below is the real cleanup
            pass

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    # -- teardown
    def stop(self) -> None:
        """Shut kernels down, then kill the server's process group and every descendant."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        descendants = []
        try:
            import psutil

            descendants = psutil.Process(proc.pid).children(recursive=True)
        except Exception:  # noqa: BLE001
            pass
        if proc.poll() is None:
            self.shutdown_kernels()
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        # kernels run in their own sessions (jupyter_client uses start_new_session):
        # kill the ones still alive, by pid, that this server started.
        for child in descendants:
            try:
                if child.is_running():
                    child.kill()
            except Exception:  # noqa: BLE001
                pass


# --------------------------------------------------------------------------- network / console
@dataclass
class NetworkGuard:
    """Route every request of a browser context; abort and record the non-local ones."""

    blocked: list[str] = field(default_factory=list)
    websockets: list[str] = field(default_factory=list)
    console: list[tuple[str, str, str]] = field(default_factory=list)  # (type, text, url)
    page_errors: list[str] = field(default_factory=list)
    failed_local: list[str] = field(default_factory=list)

    def attach(self, context) -> None:
        context.route("**/*", self._route)

    def watch(self, page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("websocket", lambda ws: self.websockets.append(ws.url))
        page.on("requestfailed", self._on_failed)

    def _route(self, route) -> None:
        url = route.request.url
        if is_local_url(url):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def _on_console(self, msg) -> None:
        try:
            loc = msg.location.get("url", "") if msg.location else ""
        except Exception:  # noqa: BLE001
            loc = ""
        self.console.append((msg.type, msg.text, loc))

    def _on_failed(self, request) -> None:
        if is_local_url(request.url):
            self.failed_local.append(f"{request.url} ({request.failure})")

    def offending_console(self) -> list[str]:
        """Console messages about failed loads of non-local URLs."""
        bad = []
        for kind, text, loc in self.console:
            if not re.search(r"failed to load|net::ERR|ERR_BLOCKED|cdn\.", text, re.I):
                continue
            urls = re.findall(r"(?:https?|wss?)://[^\s'\")]+", text) + ([loc] if loc else [])
            if any(not is_local_url(u) for u in urls):
                bad.append(f"[{kind}] {text} @ {loc}")
        return bad

    def assert_offline(self) -> None:
        problems = []
        if self.blocked:
            problems.append("requests to non-local hosts (aborted):\n  " + "\n  ".join(sorted(set(self.blocked))))
        remote_ws = [u for u in self.websockets if not is_local_url(u)]
        if remote_ws:
            problems.append("non-local websockets:\n  " + "\n  ".join(remote_ws))
        bad_console = self.offending_console()
        if bad_console:
            problems.append("console messages about non-local loads:\n  " + "\n  ".join(bad_console))
        assert not problems, "the page tried to leave 127.0.0.1:\n" + "\n".join(problems)

    def summary(self) -> str:
        lines = [f"blocked={len(self.blocked)} websockets={len(self.websockets)} page_errors={len(self.page_errors)}"]
        lines += [f"  console[{k}] {t[:300]} @ {u}" for k, t, u in self.console if k in ("error", "warning")]
        lines += [f"  pageerror {e[:300]}" for e in self.page_errors]
        lines += [f"  failed-local {f}" for f in self.failed_local]
        return "\n".join(lines)


# --------------------------------------------------------------------------- browser
def launch_context(playwright, profile_dir: Path):
    """Chromium (fresh ``--user-data-dir`` = ``profile_dir``) with every request routed by a NetworkGuard."""
    guard = NetworkGuard()
    context = playwright.chromium.launch_persistent_context(
        user_data_dir=str(profile_dir),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport=VIEWPORT,
        service_workers="block",  # so that routing sees every request
        timeout=60_000,
    )
    context.set_default_timeout(30_000)
    guard.attach(context)
    context.guard = guard
    return context


def close_context(context, log_name: str, check: bool) -> None:
    """Close the browser, write the console log, and (if ``check``) assert nothing left 127.0.0.1."""
    guard = context.guard
    try:
        context.close()
    except Exception:  # noqa: BLE001
        pass
    artifact_path(log_name, "console", ".log").write_text(
        "\n".join(f"[{k}] {t} @ {u}" for k, t, u in guard.console) + "\n\n" + guard.summary()
    )
    if check:
        guard.assert_offline()


# --------------------------------------------------------------------------- notebook driver
_JS_KERNEL_STATE = """
() => {
  const app = window.jupyterapp;
  if (!app) return {ready: false, why: 'no window.jupyterapp'};
  const w = app.shell.currentWidget;
  if (!w || !w.sessionContext) return {ready: false, why: 'no notebook widget'};
  const sc = w.sessionContext;
  const kernel = sc.session && sc.session.kernel;
  const cells = [];
  const model = w.content && w.content.model;
  if (model) {
    for (const cell of model.cells) {
      if (cell.type !== 'code') continue;
      const outs = cell.outputs ? cell.outputs.toJSON() : [];
      cells.push({
        count: cell.executionCount,
        state: cell.executionState || null,
        errors: outs.filter(o => o.output_type === 'error')
                    .map(o => o.ename + ': ' + o.evalue + '\\n' + (o.traceback || []).join('\\n')),
        source: cell.sharedModel.getSource().slice(0, 80),
      });
    }
  }
  return {
    ready: true,
    kernelName: kernel ? kernel.name : null,
    status: kernel ? kernel.status : (sc.kernelDisplayStatus || null),
    connection: kernel ? kernel.connectionStatus : null,
    dialog: !!document.querySelector('.jp-Dialog'),
    cells: cells,
  };
}
"""

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Notebook:
    """One notebook opened in JupyterLab in a Playwright page."""

    def __init__(self, page, server: JupyterLabServer, name: str, test_name: str):
        self.page = page
        self.server = server
        self.name = name
        self.test_name = test_name
        self.shots: list[Path] = []

    # -- state
    def state(self) -> dict:
        return self.page.evaluate(_JS_KERNEL_STATE)

    def open(self, timeout: float = 90.0) -> "Notebook":
        page = self.page
        page.goto(self.server.notebook_url(self.name), wait_until="domcontentloaded", timeout=timeout * 1000)
        page.locator(".jp-Notebook").first.wait_for(state="visible", timeout=timeout * 1000)
        deadline = time.monotonic() + timeout
        st: dict = {}
        while time.monotonic() < deadline:
            accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
            if accept.count() and accept.first.is_visible():
                accept.first.click()
                page.wait_for_timeout(300)
                continue
            st = self.state()
            if st.get("ready") and st.get("status") == "idle" and st.get("connection") == "connected":
                break
            page.wait_for_timeout(250)
        else:
            raise AssertionError(f"kernel of {self.name} not idle after {timeout:.0f} s: {st}\n{self.server.log_tail()}")
        assert st.get("kernelName") == "python3", f"unexpected kernel {st.get('kernelName')!r}"
        return self

    def run_all(self, timeout: float = 180.0) -> dict:
        """Run → Run All Cells through the menu bar; wait until every code cell ran and the kernel is idle."""
        page = self.page
        page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
        page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).first.click()
        item = page.locator(".lm-Menu .lm-Menu-item", has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")))
        item.first.wait_for(state="visible", timeout=10_000)
        item.first.click()
        return self.wait_executed(timeout=timeout)

    def wait_executed(self, timeout: float = 180.0, min_count: int | None = None) -> dict:
        deadline = time.monotonic() + timeout
        st: dict = {}
        dead_since = None
        # give the kernel a moment to go busy so an 'idle' read is not stale
        self.page.wait_for_timeout(500)
        while time.monotonic() < deadline:
            st = self.state()
            errors = [e for c in st.get("cells", []) for e in c["errors"]]
            if errors:
                raise AssertionError(
                    f"a cell of {self.name} raised:\n" + _ANSI.sub("", "\n---\n".join(errors))
                )
            cells = st.get("cells", [])
            done = cells and all(c["count"] is not None and c["state"] != "running" for c in cells)
            if min_count is not None:
                done = done and all((c["count"] or 0) >= min_count for c in cells if c["count"] is not None)
            if done and st.get("status") == "idle":
                return st
            if st.get("status") in ("dead", "unknown"):  # transient while a kernel (re)starts
                dead_since = dead_since or time.monotonic()
                if time.monotonic() - dead_since > 15:
                    raise AssertionError(f"kernel died while running {self.name}:\n{self.server.log_tail()}")
            else:
                dead_since = None
            self.page.wait_for_timeout(500)
        pending = [c["source"] for c in st.get("cells", []) if c["count"] is None or c["state"] == "running"]
        raise AssertionError(f"{self.name}: cells not executed after {timeout:.0f} s: {pending}; state={st.get('status')}")

    def run_cell_containing(self, marker: str, timeout: float = 60.0) -> str:
        """Execute (Ctrl+Enter) the code cell whose source contains ``marker``; return its output text."""
        page = self.page
        cell = page.locator(".jp-CodeCell", has=page.locator(".jp-InputArea-editor", has_text=marker)).first
        before = self.state()
        counts = [c["count"] or 0 for c in before.get("cells", [])]
        top = max(counts) if counts else 0
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Control+Enter")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.state()
            errors = [e for c in st.get("cells", []) for e in c["errors"]]
            if errors:
                raise AssertionError(f"cell {marker!r} raised:\n" + _ANSI.sub("", "\n".join(errors)))
            mine = [c for c in st.get("cells", []) if marker in c["source"]]
            if mine and (mine[0]["count"] or 0) > top and st.get("status") == "idle":
                break
            page.wait_for_timeout(300)
        else:
            raise AssertionError(f"cell {marker!r} did not run within {timeout:.0f} s")
        page.wait_for_timeout(300)
        return cell.locator(".jp-OutputArea").inner_text()

    # -- rendering checks
    def body_text(self) -> str:
        return self.page.locator(".jp-Notebook").first.inner_text()

    def wait_widgets_loaded(self, timeout: float = 60.0) -> None:
        """No 'Loading widget...' left (waits), and no 'Error displaying widget'."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.body_text()
            if "Error displaying widget" in text:
                raise AssertionError(f"{self.name}: 'Error displaying widget' shown:\n{_context(text, 'Error displaying widget')}")
            if "Loading widget..." not in text and "Loading widget…" not in text:
                return
            self.page.wait_for_timeout(500)
        raise AssertionError(f"{self.name}: 'Loading widget...' still shown after {timeout:.0f} s")

    def count(self, selector: str) -> int:
        return self.page.locator(f".jp-Notebook {selector}").count()

    def visible_canvases(self, scope: str = ".jp-Notebook") -> list[dict]:
        """Bounding boxes of <canvas> elements (Playwright CSS pierces bokeh's shadow roots)."""
        boxes = []
        canv = self.page.locator(f"{scope} canvas")
        for i in range(canv.count()):
            box = canv.nth(i).bounding_box()
            if box and box["width"] > 0 and box["height"] > 0:
                boxes.append(box)
        return boxes

    def wait_bokeh(self, min_plots: int, timeout: float = 60.0, scope: str = ".jp-Notebook") -> int:
        """Wait for at least ``min_plots`` bokeh canvases (``.bk-Canvas`` with a sized <canvas>)."""
        deadline = time.monotonic() + timeout
        n = 0
        while time.monotonic() < deadline:
            n = self._count_bokeh_canvases(scope)
            if n >= min_plots:
                return n
            self.page.wait_for_timeout(500)
        roots = self.page.locator(f"{scope} [class*=bk-]").count()
        raise AssertionError(
            f"{self.name}: expected >= {min_plots} rendered bokeh canvases in {scope}, found {n} "
            f"(elements with a bk- class: {roots})"
        )

    def _count_bokeh_canvases(self, scope: str) -> int:
        loc = self.page.locator(f"{scope} .bk-Canvas")
        n = 0
        for i in range(loc.count()):
            canvases = loc.nth(i).locator("canvas")
            for j in range(canvases.count()):
                box = canvases.nth(j).bounding_box()
                if box and box["width"] > 10 and box["height"] > 10:
                    n += 1
                    break
        return n

    def ink_fraction(self, locator) -> float:
        """Fraction of non-white pixels of an element (e.g. a bokeh ``.bk-Canvas``): ~0 for an empty plot."""
        import io

        from PIL import Image

        png = locator.screenshot(timeout=15_000)
        img = Image.open(io.BytesIO(png)).convert("L")
        hist = img.histogram()
        total = sum(hist)
        return 1.0 - sum(hist[235:]) / total if total else 0.0

    # -- screenshots
    def screenshot(self, step: str, outputs: bool = True) -> list[Path]:
        """Full-page screenshot plus one per non-empty output area; returns the paths."""
        paths = []
        path = artifact_path(self.test_name, step)
        self.page.screenshot(path=str(path), full_page=True, timeout=30_000)
        paths.append(path)
        if outputs:
            outs = self.page.locator(".jp-Notebook .jp-Cell-outputArea .jp-OutputArea-child")
            for i in range(outs.count()):
                box = outs.nth(i).bounding_box()
                if not box or box["height"] < 4:
                    continue
                p = artifact_path(self.test_name, f"{step}-out{i}")
                try:
                    outs.nth(i).screenshot(path=str(p), timeout=15_000)
                    paths.append(p)
                except Exception:  # noqa: BLE001 -- a screenshot must not fail the test
                    pass
        self.shots.extend(paths)
        return paths

    def element_screenshot(self, locator, step: str) -> Path | None:
        p = artifact_path(self.test_name, step)
        try:
            locator.screenshot(path=str(p), timeout=15_000)
        except Exception:  # noqa: BLE001
            return None
        self.shots.append(p)
        return p


def _context(text: str, needle: str, width: int = 300) -> str:
    i = text.find(needle)
    return text[max(0, i - width): i + width] if i >= 0 else ""
