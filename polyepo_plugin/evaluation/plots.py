"""Figures of the evaluation: pass@k curves, and the shared figure finishing (also used by the demo)."""

from __future__ import annotations


# Curve i's marker and line style: curves that lie on each other (two checkpoints at pass@k 1.0)
# stay told apart by their open markers and dashes, not only by a colour hidden underneath.
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
LINE_STYLES = ("-", "--", "-.", ":")


def curve_style(i: int) -> dict:
    """Matplotlib keywords for the i-th curve of a figure (0-based)."""
    return {
        "marker": MARKERS[i % len(MARKERS)],
        "linestyle": LINE_STYLES[i % len(LINE_STYLES)],
        "markerfacecolor": "none",
        "ms": 5,
        "alpha": 0.9,
    }


def integer_x_ticks(ax) -> None:
    """Ticks at whole numbers only on the x axis (k, steps): no tick at k = 1.5."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_pass_at_k(summaries: dict[str, dict], path: str, title: str = "pass@k on held-out prompts") -> str:
    """One curve per model (``name -> summary``), ±1 standard error as a band."""
    fig, ax = new_figure()
    draw_pass_at_k(ax, summaries)
    return save_figure(fig, ax, path, "k", "pass@k", title)


def draw_pass_at_k(ax, summaries: dict[str, dict]) -> None:
    for i, (name, summary) in enumerate(summaries.items()):
        ks = range(1, len(summary["pass_at_k"]) + 1)
        means = [p["mean"] for p in summary["pass_at_k"]]
        ses = [p["se"] for p in summary["pass_at_k"]]
        (line,) = ax.plot(ks, means, label=name, **curve_style(i))
        lower, upper = [m - s for m, s in zip(means, ses)], [m + s for m, s in zip(means, ses)]
        ax.fill_between(ks, lower, upper, color=line.get_color(), alpha=0.15)
    integer_x_ticks(ax)


def new_figure():
    """A (figure, axes) pair of the size every figure here uses, drawn off-screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6, 4))


def save_figure(fig, ax, path: str, xlabel: str, ylabel: str, title: str) -> str:
    """Label, grid, legend and write a matplotlib figure to ``path`` (PNG); close it."""
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
