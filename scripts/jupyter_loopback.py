"""A Jupyter server on loopback for a headless browser: ``start("lab" | "notebook", root)``.

JupyterLab 4 or Notebook 7 serving ``root`` on a free port of 127.0.0.1, with no token, no
password, no XSRF check, no news or update checks and a read-only extension manager, so
that a browser driven by Playwright meets no login page and no pop-up. Used by
``scripts/picker_screenshot.py`` and ``tests/test_browser.py`` (the tests find it through
pytest's ``pythonpath``).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(app: str, root: Path, timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    """``jupyter {app}`` (``"lab"`` or ``"notebook"``) serving ``root``: (process, url), once
    ``/api/status`` answers. Its settings and its log go to ``root/_jupyter/``; raises
    ``RuntimeError`` with the end of the log if it exits or does not answer in ``timeout`` s."""
    root = Path(root)
    settings = root / "_jupyter" / "settings"
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True, exist_ok=True)
    (notification / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    log = root / "_jupyter" / "server.log"
    port = free_port()
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings), "HF_HUB_OFFLINE": "1"}
    with open(log, "wb") as out:   # a file, not a pipe: a chatty server never blocks on a full pipe
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", app, "--no-browser", f"--port={port}", "--ip=127.0.0.1",
             "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
             f"--ServerApp.root_dir={root}", "--LabApp.news_url=None", "--ServerApp.allow_root=True",
             "--LabApp.extension_manager=readonly", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
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


def stop(proc: subprocess.Popen) -> None:
    """Terminate the server; kill it if it has not gone after 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
