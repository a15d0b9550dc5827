"""Pictures: inputs with their explanations marked (matplotlib, Agg backend, no display)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import InputError, one_line

__all__ = ["draw_explanations", "PANEL_PIXELS"]

PANEL_PIXELS = 300  # each panel is PANEL_PIXELS x PANEL_PIXELS (+ a title band)
_DPI = 100


def draw_explanations(
    center: np.ndarray,
    explanations: Sequence[Sequence[int]],
    essential: Sequence[int] | None,
    path: str | Path,
    title: str = "",
) -> tuple[int, int]:
    """Draw ``center`` (a square image) once per explanation; return the PNG's (width, height).

    Pixels: white = +1, black = −1; explanation pixels are outlined red (filled with the
    pixel's value, tinted), essential pixels blue. With no explanation, one panel shows the
    essential pixels alone.
    """
    import matplotlib

    matplotlib.use("Agg")

    n = len(center)
    side = math.isqrt(n)
    if side * side != n:
        raise InputError(f"--png needs a square input, got {n} pixels")
    with matplotlib.rc_context({"text.parse_math": False}):  # names stay text ("$x$")
        return _draw(center, explanations, essential, path, title, side)


def _draw(center, explanations, essential, path, title, side) -> tuple[int, int]:
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    panels = list(explanations) or [[]]
    k = len(panels)
    inch = PANEL_PIXELS / _DPI
    fig, axes = plt.subplots(1, k, figsize=(inch * k, inch + 0.4), dpi=_DPI, squeeze=False)
    img = (np.asarray(center).reshape(side, side) > 0).astype(float)
    cmap = ListedColormap(["black", "white"])
    for j, (ax, expl) in enumerate(zip(axes[0], panels, strict=True)):
        ax.imshow(img, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        for i in essential or []:
            r, c = divmod(int(i), side)
            ax.add_patch(
                plt.Rectangle(
                    (c - 0.5, r - 0.5), 1, 1, fill=True, alpha=0.45, color="tab:blue", linewidth=0
                )
            )
        for i in expl:
            r, c = divmod(int(i), side)
            ax.add_patch(
                plt.Rectangle(
                    (c - 0.45, r - 0.45), 0.9, 0.9, fill=False, edgecolor="red", linewidth=2.0
                )
            )
        ax.set_xticks([])
        ax.set_yticks([])
        label = f"explanation {j + 1}: {len(expl)} px" if explanations else "essential pixels"
        ax.set_title(label, fontsize=9)
    if title:
        fig.suptitle(one_line(title, 120), fontsize=9)
    fig.text(
        0.5,
        0.03,
        "red outline: explanation pixels   blue: essential pixels   white: +1   black: -1",
        ha="center",
        fontsize=8,
    )
    fig.savefig(path, dpi=_DPI)
    width, height = fig.canvas.get_width_height()
    plt.close(fig)
    return width, height


def draw_fault_curve(
    simulated: Sequence[dict],
    exact: Sequence[dict],
    path: str | Path,
    title: str = "",
) -> None:
    """Plot accuracy against bit error rate (log axis): simulated accuracy with its Wilson
    interval, and the exact (rigorous) intervals where computed."""
    import matplotlib

    matplotlib.use("Agg")
    with matplotlib.rc_context({"text.parse_math": False}):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4), dpi=_DPI)
        try:
            rows = [r for r in simulated if r["accuracy"] is not None and r["ber"] > 0]
            xs = [r["ber"] for r in rows]
            acc = np.array([r["accuracy"] for r in rows])
            err = np.array([acc - [r["lo"] for r in rows], [r["hi"] for r in rows] - acc])
            ax.errorbar(xs, acc, yerr=err, fmt="o-", capsize=3, label="simulated (Wilson)")
            ex = [r for r in exact if r["ber"] > 0]
            if ex:
                ax.vlines(
                    [r["ber"] for r in ex],
                    [r["lo"] for r in ex],
                    [r["hi"] for r in ex],
                    colors="tab:red",
                    linewidth=6,
                    alpha=0.5,
                    label="exact interval",
                )
            ax.set_xscale("log")
            ax.set_xlabel("bit error rate of the stored weights")
            ax.set_ylabel("accuracy")
            if title:
                ax.set_title(one_line(title, 120), fontsize=9)
            ax.legend(fontsize=8)
            fig.tight_layout()
            fig.savefig(path)
        finally:
            plt.close(fig)
