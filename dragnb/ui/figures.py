"""What every picture of the package shares: its colours, and figures that show once in a notebook.

Its interface, for the modules that draw: ``new_figure`` (one figure), ``panels`` (a row of panels),
``show`` (an image on a panel), ``layer`` (an image with a layer of its size to go over it), and the
argument checks ``check_result`` and ``check_steps``.

Every figure function returns its figure. In a Jupyter kernel the figure is shown once, as
the cell's value; anywhere else (a script, a terminal) it is also pyplot's current figure,
so ``plt.savefig(...)`` and ``plt.show()`` work after it as after any pyplot call.
"""
from __future__ import annotations

import sys

import numpy as np
from matplotlib.figure import Figure

from .. import validate
from ..images import load_image

# the colours every view uses (plots, the picker's canvas, the drag widget's pictures)
HANDLE = "#e53935"   # red
TARGET = "#1e88e5"   # blue
PATH = "#ffe600"     # yellow: where tracking took a handle
PATH_DARK = "#b8860b"   # the same on white (charts)


def _in_kernel() -> bool:
    """Whether this code runs in a Jupyter kernel (JupyterLab, Notebook, VS Code, Colab): an IPython
    shell with a kernel, not merely a process that imported ipykernel."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def new_figure(figsize) -> Figure:
    """A figure pyplot tracks, except in a Jupyter kernel, where the returned figure is shown
    as the cell's value (tracked, it would be shown twice)."""
    if _in_kernel():
        return Figure(figsize=figsize, layout="constrained")
    import matplotlib.pyplot as plt

    return plt.figure(figsize=figsize, layout="constrained")


def panels(n: int, size: float = 3.2):
    fig = new_figure((size * n, size))
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax in axes:
        ax.set_axis_off()
    return fig, axes


def show(ax, image, title=None):
    im = np.asarray(load_image(image))
    ax.imshow(im, interpolation="nearest" if max(im.shape[:2]) < 256 else "antialiased")
    if title:
        ax.set_title(title, fontsize=10)
    return im


def check_result(result, name: str = "result"):
    """``result`` if it looks like a ``DragResult`` (else TypeError)."""
    if not all(hasattr(result, a) for a in ("image", "original", "start", "targets", "handles", "history")):
        raise TypeError(f"{name} must be a DragResult (what dragnb.drag returns), got {type(result).__name__}")
    return result


def check_steps(name: str, history, least: int = 0) -> list:
    """``history`` as a list of ``DragStep``-like records (each with ``handles``)."""
    items = validate.sequence(name, history, least)
    if not all(hasattr(s, "handles") for s in items):
        raise TypeError(f"{name} must hold DragSteps (a DragResult's history)")
    return items


def layer(ax, image, title, shape, what: str):
    """Draw ``image`` on ``ax`` (a new figure if None) for a (H, W) layer of ``shape`` to go over it.
    Returns (the new figure or None, ax, the image array)."""
    fig = None
    if ax is None:
        fig, (ax,) = panels(1, 4)
    im = show(ax, image, title)
    if tuple(shape) != im.shape[:2]:
        raise ValueError(f"{what} {tuple(shape)} does not match the image {im.shape[:2]}")
    return fig, ax, im
