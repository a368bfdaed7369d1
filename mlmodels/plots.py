"""PNG plots of quantile predictions (matplotlib, Agg backend: no display needed).

* calibration: for each model, the observed share of actual points at or below p10, p50 and p90
  against the nominal 10/50/90%, and the observed coverage of the 80% range by predicted-median
  decile (a calibrated model sits on the diagonal / the 80% line everywhere);
* ranges: the predicted 80% ranges and medians of a random sample of rows against the actual
  points, sorted by the predicted median.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NOMINAL = (0.1, 0.5, 0.9)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path, title: str = "") -> Path:
    """Title, lay out, write the PNG (creating its folder) and free the figure."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def calibration_plot(path: Path, y: np.ndarray, predictions: dict[str, tuple], title: str = "") -> Path:
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=90)
    left.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1, label="perfect")
    for name, (p10, p50, p90) in predictions.items():
        observed = [float(np.mean(y <= q)) for q in (p10, p50, p90)]
        left.plot(NOMINAL, observed, marker="o", label=name)
        order = np.argsort(p50, kind="stable")
        deciles = np.array_split(order, 10)
        coverage = [float(np.mean((y[d] >= p10[d]) & (y[d] <= p90[d]))) for d in deciles if len(d)]
        centres = [float(np.mean(p50[d])) for d in deciles if len(d)]
        right.plot(centres, coverage, marker="o", label=name)
    left.set(
        xlabel="nominal quantile level",
        ylabel="observed share of actual points <= quantile",
        xlim=(0, 1),
        ylim=(0, 1),
        title="Quantile calibration",
    )
    right.axhline(0.8, color="#999", linestyle="--", linewidth=1)
    right.set(
        xlabel="predicted median (decile mean, points)",
        ylabel="observed coverage of [p10, p90]",
        ylim=(0.5, 1.0),
        title="80% range coverage by predicted median",
    )
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    return _save(plt, fig, path, title)


def ranges_plot(
    path: Path,
    y: np.ndarray,
    p10: np.ndarray,
    p50: np.ndarray,
    p90: np.ndarray,
    title: str = "",
    sample: int = 80,
    seed: int = 7,
) -> Path:
    plt = _pyplot()
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(y), size=min(sample, len(y)), replace=False) if len(y) else np.array([], dtype=int)
    pick = pick[np.argsort(p50[pick], kind="stable")]
    x = np.arange(len(pick))
    inside = (y[pick] >= p10[pick]) & (y[pick] <= p90[pick])
    fig, ax = plt.subplots(figsize=(11, 4.5), dpi=90)
    ax.vlines(x, p10[pick], p90[pick], color="#b9d1ea", linewidth=5, zorder=1, label="predicted 80% range (p10-p90)")
    ax.scatter(x, p50[pick], color="#1f4e8c", marker="_", s=80, zorder=2, label="predicted median")
    ax.scatter(x[inside], y[pick][inside], color="#2a9d3a", s=16, zorder=3, label="actual, inside")
    ax.scatter(x[~inside], y[pick][~inside], color="#d62828", s=16, zorder=3, label="actual, outside")
    share = float(np.mean(inside)) if len(pick) else float("nan")
    ax.set(
        xlabel=f"{len(pick)} random player-games, sorted by predicted median ({share:.0%} inside)",
        ylabel="points",
        title=title or "Predicted ranges vs actual points",
    )
    ax.legend(fontsize=8, loc="upper left")
    return _save(plt, fig, path)


def tier_calibration_plot(
    path: Path, y: np.ndarray, predictions: dict[str, tuple], masks: dict[str, np.ndarray], title: str = ""
) -> Path:
    """One panel per population (the minutes tiers): for each model, the observed share of actual
    points at or below p10, p50 and p90 against the nominal 10/50/90%, with the 80% coverage and
    width in the legend (a calibrated model sits on the diagonal in every tier)."""
    plt = _pyplot()
    columns = 2
    rows = max(1, (len(masks) + columns - 1) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(11, 4.2 * rows), dpi=90, squeeze=False)
    for ax, (name, mask) in zip(axes.flat, masks.items(), strict=False):  # spare axes are blanked below
        ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1)
        for model, (p10, p50, p90) in predictions.items():
            if not mask.any():
                continue
            ys = y[mask]
            observed = [float(np.mean(ys <= q[mask])) for q in (p10, p50, p90)]
            coverage = float(np.mean((ys >= p10[mask]) & (ys <= p90[mask])))
            width = float(np.mean(p90[mask] - p10[mask]))
            ax.plot(NOMINAL, observed, marker="o", label=f"{model}: coverage {coverage:.3f}, width {width:.1f}")
        ax.set(
            xlabel="nominal quantile level",
            ylabel="observed share <= quantile",
            xlim=(0, 1),
            ylim=(0, 1),
            title=f"{name} ({int(mask.sum()):,} rows)",
        )
        ax.legend(fontsize=7, loc="upper left")
    for ax in list(axes.flat)[len(masks) :]:
        ax.axis("off")
    return _save(plt, fig, path, title)
