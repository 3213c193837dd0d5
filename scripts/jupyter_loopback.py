"""A Jupyter server on loopback for a headless browser: ``start("lab" | "notebook" | "classic", root)``.

JupyterLab 4, Notebook 7 or the classic Notebook 6 (Colab's front-end generation, run by another
Python: the Colab stand-in's) serving ``root`` on a free port of 127.0.0.1, with no token, no
password, no XSRF check, no news or update checks and a read-only extension manager, so
that a browser driven by Playwright meets no login page and no pop-up. ``view``, ``run_cell``,
``wait_kernel`` and ``OUTPUT`` say how each front-end's page is driven. Used by
``scripts/picker_screenshot.py``, ``scripts/widget_screenshots.py`` and ``tests/test_browser.py`` (the tests find it through
pytest's ``pythonpath``).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(app: str, root: Path, timeout: float = 120.0, python: str | None = None) -> tuple[subprocess.Popen, str]:
    """``jupyter {app}`` (``"lab"``, ``"notebook"``, or ``"classic"``: Notebook 6) serving ``root``, run by
    ``python`` (default: this one): (process, url), once ``/api/status`` answers. Its settings and its log
    go to ``root/_jupyter/``; raises ``RuntimeError`` with the end of the log if it exits or does not
    answer in ``timeout`` s."""
    root = Path(root)
    settings = root / "_jupyter" / "settings"   # settings and workspaces of this server only
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)
    (notification / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    log = root / "_jupyter" / "server.log"
    port = free_port()
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings), "HF_HUB_OFFLINE": "1"}
    with open(log, "wb") as out:   # a file, not a pipe: a chatty server never blocks on a full pipe
        proc = subprocess.Popen([python or sys.executable, "-m", *_command(app, root, port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/api/status", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.5)
    why = f"exited with code {proc.returncode}" if proc.poll() is not None else f"did not answer in {timeout:.0f} s"
    stop(proc)
    raise RuntimeError(f"jupyter {app} {why}; the end of its log ({log}):\n"
                       + log.read_text(errors="replace")[-2000:])


def _command(app: str, root: Path, port: int) -> list[str]:
    """The arguments after ``python -m`` that start ``app`` on ``port``, open to loopback only."""
    if app == "classic":
        return ["notebook", "--no-browser", f"--port={port}", "--ip=127.0.0.1", "--NotebookApp.token=",
                "--NotebookApp.password=", "--NotebookApp.disable_check_xsrf=True", "--NotebookApp.allow_root=True",
                f"--NotebookApp.notebook_dir={root}", "--NotebookApp.show_banner=False"]
    return ["jupyter", app, "--no-browser", f"--port={port}", "--ip=127.0.0.1",
            "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
            f"--ServerApp.root_dir={root}", "--LabApp.news_url=None", "--ServerApp.allow_root=True",
            "--LabApp.extension_manager=readonly", f"--LabApp.workspaces_dir={root / '_jupyter' / 'workspaces'}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]


# how each front-end's page is driven: a notebook's view, its cells, its outputs
OUTPUT = {"lab": ".jp-OutputArea-output", "notebook": ".jp-OutputArea-output", "classic": ".output_area"}
CELL = {"lab": ".jp-Cell", "notebook": ".jp-Cell", "classic": ".cell"}


def url(base: str, app: str, name: str) -> str:
    """The address of notebook ``name`` on the server at ``base``."""
    return f"{base}/lab/tree/{name}" if app == "lab" else f"{base}/notebooks/{name}"


def view(page, app: str, marker: str):
    """The view of the notebook that holds the text ``marker`` (JupyterLab may keep others in hidden tabs)."""
    return page.locator("#notebook" if app == "classic" else ".jp-Notebook").filter(has_text=marker)


def run_cell(page, app: str, marker: str, index: int) -> None:
    """Run code cell ``index`` of the notebook holding ``marker``, as a user does (Shift+Enter in it);
    in the classic Notebook through its own ``execute_cells``."""
    if app == "classic":
        page.evaluate("i => Jupyter.notebook.execute_cells([i])", index)
        return
    view(page, app, marker).locator(CELL[app]).nth(index).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")


def wait_kernel(page, app: str, timeout: float = 60_000) -> None:
    """Wait until the page's kernel is connected and idle (in the classic Notebook: ready, with the
    widget manager that renders widget outputs; an output that comes before them stays blank)."""
    if app == "classic":
        page.wait_for_function("() => window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel"
                               " && Jupyter.notebook.kernel.is_connected()"
                               " && Object.keys(Jupyter.notebook.kernel.info_reply).length > 0"
                               " && Jupyter.notebook.kernel.widget_manager !== undefined", timeout=timeout)
    else:
        page.get_by_text("Kernel status: Idle").first.wait_for(state="attached", timeout=timeout)


def stop(proc: subprocess.Popen) -> None:
    """Terminate the server; kill it if it has not gone after 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def lab_page(cells: list, name: str, height: int = 1000, width: int = 1200):
    """For the screenshot scripts: a notebook ``name`` of code ``cells`` in a new folder, opened in
    JupyterLab in Debian's Chromium, its kernel idle: yields (page, folder). Exits with what is
    missing if Chromium, Playwright or the server is not there."""
    import nbformat

    if not os.path.exists(CHROMIUM):
        sys.exit("needs Debian's chromium (apt-get install chromium) and playwright (pip install playwright)")
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp())
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nbformat.write(nb, root / name)
    try:
        proc, url = start("lab", root)
    except RuntimeError as e:
        sys.exit(str(e))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(f"{url}/lab/tree/{name}")
            page.get_by_text("Kernel status: Idle").first.wait_for(state="attached", timeout=60_000)
            yield page, root
            browser.close()
    finally:
        stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def shrink(path: Path) -> None:
    """A screenshot in 256 colours: small, without visible loss."""
    from PIL import Image

    Image.open(path).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"wrote {path} ({Path(path).stat().st_size / 1e3:.0f} kB)")
